package sim

// Tenants: what each tenant asked for and held. A trace may name
// thousands of tenants; the series follow the few that ask for the most
// and lump the rest together, so that their size stays bounded.

import "sort"

// MaxTenantGroups bounds the tenants followed one by one: the
// MaxTenantGroups−1 that submit the most accelerator-hours keep their
// name, the others are one group, Others.
const MaxTenantGroups = 8

// Others names the group of the tenants not followed one by one.
const Others = "others"

// TenantResult is what one tenant (or the group of the others) asked for
// and got in a run.
type TenantResult struct {
	Name string `json:"name"`
	// Tenants is 1, or for Others how many tenants it holds.
	Tenants       int `json:"tenants"`
	JobsSubmitted int `json:"jobs_submitted"`
	JobsCompleted int `json:"jobs_completed"`
	// DemandGPUHours is the work its jobs asked for, at full speed;
	// HeldGPUHours what its running jobs held (restarts and slowdowns
	// included), and Share that as a fraction of what every tenant held.
	DemandGPUHours float64 `json:"demand_gpu_hours"`
	HeldGPUHours   float64 `json:"held_gpu_hours"`
	Share          float64 `json:"share"`
	AvgWait        float64 `json:"avg_wait_s"`
	P95Wait        float64 `json:"p95_wait_s"`
}

// groupTenants ranks the tenants by the accelerator-seconds their jobs
// ask for (ties by name) and gives every job its group.
func (s *Sim) groupTenants() {
	demand := map[string]float64{}
	for i := range s.jobs {
		demand[s.jobs[i].Tenant] += s.jobs[i].GPUSeconds()
	}
	names := make([]string, 0, len(demand))
	for t := range demand {
		names = append(names, t)
	}
	sort.Slice(names, func(a, b int) bool {
		if demand[names[a]] != demand[names[b]] {
			return demand[names[a]] > demand[names[b]]
		}
		return names[a] < names[b]
	})
	if len(names) > MaxTenantGroups {
		names = append(names[:MaxTenantGroups-1:MaxTenantGroups-1], Others)
	}
	index := make(map[string]uint8, len(names))
	for g, t := range names {
		index[t] = uint8(g)
	}
	s.groupNames = names
	s.group = make([]uint8, len(s.jobs))
	for i := range s.jobs {
		g, ok := index[s.jobs[i].Tenant]
		if !ok {
			g = uint8(len(names) - 1) // others
		}
		s.group[i] = g
	}
	s.groupAlloc = make([]int, len(names))
	s.groupTenantsN = make([]int, len(names))
	for t := range demand {
		g, ok := index[t]
		if !ok {
			g = uint8(len(names) - 1)
		}
		s.groupTenantsN[g]++
	}
	s.groupSecs = make([]float64, len(names))
}

// tenantResults sums the jobs of each group; the inference service counts
// for its tenant's held time but not its waits.
func (s *Sim) tenantResults(recs []JobRecord) []TenantResult {
	out := make([]TenantResult, len(s.groupNames))
	waits := make([][]float64, len(out))
	var held float64
	for g := range out {
		out[g].Name = s.groupNames[g]
		out[g].HeldGPUHours = s.groupSecs[g] / 3600
		held += s.groupSecs[g]
	}
	started := make([]int, len(out))
	for i := range min(s.nTrace, len(recs)) {
		if recs[i].Start >= 0 {
			started[s.group[i]]++
		}
	}
	for g := range waits {
		waits[g] = make([]float64, 0, started[g])
	}
	for i := range s.jobs {
		g := s.group[i]
		t := &out[g]
		t.DemandGPUHours += s.jobs[i].GPUSeconds() / 3600
		if i >= s.nTrace {
			continue
		}
		t.JobsSubmitted++
		rec := &recs[i]
		if rec.Finish >= 0 {
			t.JobsCompleted++
		}
		if rec.Start >= 0 {
			waits[g] = append(waits[g], max(0, rec.Start-rec.Submit))
		}
	}
	for g := range out {
		out[g].Tenants = s.groupTenantsN[g]
		if held > 0 {
			out[g].Share = s.groupSecs[g] / held
		}
		sortFloats(waits[g])
		out[g].AvgWait, out[g].P95Wait = mean(waits[g]), percentile(waits[g], 95)
	}
	return out
}

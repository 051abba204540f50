package sim

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"stargate/fleet"
	"stargate/trace"
)

// The ten ITP 2021 clusters, each replayed on a quarter of the GPUs it
// ran on. The trace does not publish its clusters' sizes, so each is
// taken as the most GPUs its jobs would hold at once had each started when
// it was submitted (the least that never queues), rounded up to DGX H100
// nodes of 8; a quarter of that, never smaller than the largest job, is
// where its queue builds: cluster04's jobs would hold up to 2,025 GPUs and
// replay on 512, averaging 494 busy.

// itpQuarterNodes is the number of 8-GPU nodes a quarter of the cluster
// whose jobs these are: a quarter of the peak of their demand had each
// started at its submission, at least the largest job, in whole nodes.
func itpQuarterNodes(jobs []trace.Job) int {
	type step struct {
		at float64
		d  int
	}
	steps := make([]step, 0, 2*len(jobs))
	largest := 0
	for _, j := range jobs {
		steps = append(steps, step{j.Submit, j.Accelerators}, step{j.Submit + j.Duration, -j.Accelerators})
		largest = max(largest, j.Accelerators)
	}
	// ends before starts at the same instant
	sort.Slice(steps, func(a, b int) bool {
		if steps[a].at != steps[b].at {
			return steps[a].at < steps[b].at
		}
		return steps[a].d < steps[b].d
	})
	peak, now := 0, 0
	for _, s := range steps {
		now += s.d
		peak = max(peak, now)
	}
	gpus := max(float64(peak)/4, float64(largest))
	return int(math.Ceil(gpus / 8))
}

// itpFleet is n DGX H100 nodes in racks of 4, on breakers that never bind.
func itpFleet(n int) (*fleet.Fleet, error) {
	racks := (n + 3) / 4
	var b strings.Builder
	fmt.Fprintf(&b, `regions:
  - name: itp
    sites:
      - name: itp
        substation_mw: 100
        pue: 1.2
        energy: [{source: grid, share: 1, price_usd_mwh: 70, carbon_g_kwh: 400}]
        halls:
          - limit_kw: 50000
            rows:
              - limit_kw: 50000
                racks:
`)
	for r := range racks {
		fmt.Fprintf(&b, "                  - {limit_kw: 100, nodes: [{model: dgx-h100, count: %d}]}\n", min(4, n-4*r))
	}
	return fleet.Parse(strings.NewReader(b.String()))
}

// TestITPQuarterSizing: the sizing rule by hand on a small trace.
func TestITPQuarterSizing(t *testing.T) {
	jobs := []trace.Job{
		{Submit: 0, Duration: 10, Accelerators: 64},
		{Submit: 5, Duration: 10, Accelerators: 64}, // 128 at once
		{Submit: 10, Duration: 5, Accelerators: 32}, // the first ended at 10: 96
	}
	if n := itpQuarterNodes(jobs); n != 8 { // 128 / 4 = 32 < 64, the largest job: 8 nodes
		t.Errorf("%d nodes, want 8", n)
	}
	for range 4 {
		jobs = append(jobs, trace.Job{Submit: 6, Duration: 100, Accelerators: 60})
	}
	if n := itpQuarterNodes(jobs); n != 12 { // 368 at once at 6 s: 92 GPUs, 12 nodes
		t.Errorf("%d nodes, want 12", n)
	}
	jobs = append(jobs, trace.Job{Submit: 200, Duration: 1, Accelerators: 200})
	if n := itpQuarterNodes(jobs); n != 25 { // the largest job
		t.Errorf("%d nodes, want 25", n)
	}
	f, err := itpFleet(11)
	if err != nil {
		t.Fatal(err)
	}
	if f.Accelerators != 88 || len(f.Racks) != 3 {
		t.Errorf("%d accelerators in %d racks, want 88 in 3", f.Accelerators, len(f.Racks))
	}
}

// BenchmarkITPQuarter replays all ten ITP 2021 clusters, each on a quarter
// of its GPUs, under every queue policy, on one core; it reports the total
// wall time of the fifty runs (target: under 5 s).
//
//	go test ./sim -run '^$' -bench ITPQuarter -benchtime 1x -v
func BenchmarkITPQuarter(b *testing.B) {
	type cluster struct {
		name string
		jobs []trace.Job
		f    *fleet.Fleet
	}
	var cs []cluster
	for k := 1; k <= 10; k++ {
		name := fmt.Sprintf("cluster%02d", k)
		path := "../../shared/data/traces/itp2021/" + name + ".csv"
		r, err := os.Open(path)
		if err != nil {
			b.Skip("ITP 2021 traces not found under ../../shared/data (they ship in ../shared)")
		}
		jobs, _, err := trace.ReadJobs(r, path, trace.ITPColumns, trace.Options{Tenant: name})
		r.Close()
		if err != nil {
			b.Fatal(err)
		}
		f, err := itpFleet(itpQuarterNodes(jobs))
		if err != nil {
			b.Fatal(err)
		}
		cs = append(cs, cluster{name, jobs, f})
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1)) // the target is for one core
	policies := []string{"fifo", "priority", "fair", "backfill", "las"}
	for b.Loop() {
		var total time.Duration
		for _, c := range cs {
			line := fmt.Sprintf("%s: %d jobs on %d GPUs:", c.name, len(c.jobs), c.f.Accelerators)
			for _, policy := range policies {
				cfg := Default()
				cfg.Engine.Queue = policy
				cfg.Engine.Preemption = policy == "las" // Tiresias is preemptive
				t0 := time.Now()
				s, err := New(c.f, c.jobs, cfg)
				if err != nil {
					b.Fatal(err)
				}
				r := s.Run()
				d := time.Since(t0)
				total += d
				if r.JobsCompleted != len(c.jobs) {
					b.Fatalf("%s %s: completed %d of %d", c.name, policy, r.JobsCompleted, len(c.jobs))
				}
				line += fmt.Sprintf(" %s %.2f s (wait %.1f h)", policy, d.Seconds(), r.AvgWait/3600)
			}
			b.Log(line)
		}
		b.ReportMetric(total.Seconds(), "s/all-fifty-runs")
	}
}

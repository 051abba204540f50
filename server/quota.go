package server

import (
	"fmt"

	"stargate/store"
)

// A tenant's quotas by accelerator model and of power are kept by the
// pass, before the scheduler: it gives the scheduler a tenant's pending
// jobs, in queue order, only as long as they fit what the tenant's
// running jobs leave of each quota, counting each admitted job as if it
// started. The scheduler may start fewer; never more than the quotas
// allow. A job that names no model may land on any: it must fit the room
// of every model quota the tenant has. Power is rated power: a node's
// rated draw (accelerators at TDP plus its overhead) shared by its
// accelerators; for a pending job, that of the hungriest model of the
// fleet it may run on.

// quotaLimit keeps back the pending jobs that would pass a tenant's
// quota by model or of power, with a reason that names it.
func (s *Server) quotaLimit(c *store.Changes, pending, running []store.Job, tenants map[string]TenantConfig) []store.Job {
	quotas := false
	for _, t := range tenants {
		quotas = quotas || len(t.ModelQuotas) > 0 || t.PowerQuotaKW > 0
	}
	if !quotas {
		return pending
	}
	f := s.fleet
	heldAcc := map[string]map[string]int{} // tenant → accelerator model → held
	heldW := map[string]float64{}
	hold := func(tenant, model string, n int, w float64) {
		if heldAcc[tenant] == nil {
			heldAcc[tenant] = map[string]int{}
		}
		heldAcc[tenant][model] += n
		heldW[tenant] += w
	}
	for _, j := range running {
		for _, a := range j.Placement {
			i, ok := s.nodeIx[a.Node]
			if !ok {
				continue
			}
			m := f.NodeModel(i)
			acc := f.NodeAccelerator(i)
			hold(j.Tenant, acc.Name, len(a.Accelerators), m.MaxW(acc)/float64(m.Accelerators)*float64(len(a.Accelerators)))
		}
	}
	keep := pending[:0]
	for _, j := range pending {
		t, ok := tenants[j.Tenant]
		if !ok || (len(t.ModelQuotas) == 0 && t.PowerQuotaKW == 0) {
			keep = append(keep, j)
			continue
		}
		model, perAccW := s.jobModel(j)
		why := ""
		for m, q := range t.ModelQuotas {
			if (model == "" || model == m) && heldAcc[j.Tenant][m]+j.Spec.Accelerators > q {
				why = fmt.Sprintf("quota: tenant %s holds %d of its %d %s accelerators", j.Tenant, heldAcc[j.Tenant][m], q, m)
				break
			}
		}
		w := perAccW * float64(j.Spec.Accelerators)
		if why == "" && t.PowerQuotaKW > 0 && heldW[j.Tenant]+w > t.PowerQuotaKW*1000 {
			why = fmt.Sprintf("power quota: tenant %s holds %.1f of its %.1f kW, and this job is rated %.1f kW",
				j.Tenant, heldW[j.Tenant]/1000, t.PowerQuotaKW, w/1000)
		}
		if why == "" {
			if model == "" { // it may land on any model: it takes room in each
				for m := range t.ModelQuotas {
					hold(j.Tenant, m, j.Spec.Accelerators, 0)
				}
				heldW[j.Tenant] += w
			} else {
				hold(j.Tenant, model, j.Spec.Accelerators, w)
			}
			keep = append(keep, j)
			continue
		}
		if len(j.Reasons) != 1 || j.Reasons[0] != why {
			j.Reasons = []string{why}
			c.Jobs = append(c.Jobs, j)
		}
	}
	return keep
}

// jobModel is the accelerator model a job names (by its catalog name; ""
// for any), and the largest rated power per accelerator of the node
// models it may run on.
func (s *Server) jobModel(j store.Job) (string, float64) {
	cat := s.fleet.Catalog
	model := ""
	if j.Spec.Model != "" {
		if i := cat.Accelerator(j.Spec.Model); i >= 0 {
			model = cat.Accelerators[i].Name
		}
	}
	perAcc := 0.0
	for m := range cat.Nodes {
		if !s.feasible.present(m) {
			continue // a model of the catalog the fleet does not have
		}
		nm := &cat.Nodes[m]
		acc := &cat.Accelerators[cat.NodeAccelerator(m)]
		if model == "" || acc.Name == model {
			perAcc = max(perAcc, nm.MaxW(acc)/float64(nm.Accelerators))
		}
	}
	return model, perAcc
}

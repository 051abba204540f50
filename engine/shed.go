package engine

import (
	"math"
	"sort"
	"time"

	"stargate/fleet"
)

// The shed: what Control does for a grid event past its start whose
// scope is estimated over the engine's aim (the target less the margin).
// It takes the steps of least harm first, each only as far as the aim
// needs (and, for a voluntary event, only where the price pays; see
// GridConfig):
//
//  1. move: a flexible job that checkpoints and may run outside the
//     scope, where it fits now, is stopped to restart there (it loses
//     the work since its last checkpoint; the next pass places it, and
//     the scope's admission keeps it out);
//  2. cap flexible jobs, lowest priority first, at GridConfig.CapFraction
//     of TDP (they slow by the cube-root law);
//  3. when caps cannot reach the aim, stop flexible jobs (preemptible
//     ones first), lowest priority first, then least work lost since
//     their last checkpoint; the rest are capped only as far as still
//     needed;
//  4. only when no flexible job is left running in the scope, and for a
//     mandatory event, cap the protected jobs (Job.IsFlexible false),
//     lowest priority first. Protected jobs are never stopped: a scope
//     whose protected work alone is over the target stays over it.
//
// Jobs stopped for the grid are requeued without backoff: the scope's
// admission keeps them out until the event ends or room returns. Caps are
// lifted by Control's uncap step: during the event while the scope stays
// twice the margin under its target, after it as the sites' ramps allow.

// shedding is one running job considered by the shed.
type shedding struct {
	a     *Alloc
	n     float64 // accelerators
	drawW float64 // its facility draw above idle now (calibrated)
	lost  time.Duration
}

// gridShed sheds for every event in force past its start; capped records
// the jobs Control capped, so that its uncap step leaves them.
func (e *Engine) gridShed(s *Snapshot, now time.Time, capped map[JobID]bool, out []Decision) []Decision {
	g := e.grid
	for _, i := range g.inForce {
		ev := &g.events[i]
		if ev.active(now) {
			out = e.shedEvent(s, now, ev, capped, out)
		}
	}
	return out
}

func (e *Engine) shedEvent(s *Snapshot, now time.Time, ev *GridEvent, capped map[JobID]bool, out []Decision) []Decision {
	g := e.grid
	aim := g.aim(ev)
	need := g.scopeEst(ev) - aim
	if need <= 0 {
		return out
	}
	var flex, prot []*shedding
	for _, si := range ev.Sites {
		for _, a := range s.siteAllocs[si] {
			n := float64(a.accelerators())
			sh := &shedding{a: a, n: n, drawW: g.facility(a.Site, (float64(a.DrawW)-s.capSave(a))*n), lost: lostWork(a, now)}
			if e.cfg.Grid.Naive || a.Job.IsFlexible() {
				flex = append(flex, sh)
			} else {
				prot = append(prot, sh)
			}
		}
	}
	byPriority := func(xs []*shedding) {
		sort.Slice(xs, func(i, j int) bool {
			a, b := xs[i].a, xs[j].a
			if a.Job.Priority != b.Job.Priority {
				return a.Job.Priority < b.Job.Priority
			}
			return a.Job.ID < b.Job.ID
		})
	}
	byPriority(flex)
	byPriority(prot)
	why := Reason{Code: GridShed, Level: fleet.LevelSite, Domain: -1}
	stop := func(sh *shedding, code Code) {
		why.Code, why.Domain = code, sh.a.Site
		out = append(out, Decision{Action: Preempt, Job: sh.a.Job.ID, Site: sh.a.Site, Reason: why})
		e.gridStop(s, sh.a, now)
		need -= sh.drawW
	}
	if e.cfg.Grid.Naive {
		for _, sh := range flex {
			if need <= 0 {
				break
			}
			stop(sh, GridShed)
		}
		return out
	}
	// 1. moves
	stopped := map[JobID]bool{}
	taken := map[int32]int32{} // accelerators promised in each pool outside
	moves := append([]*shedding(nil), flex...)
	sort.SliceStable(moves, func(i, j int) bool {
		a, b := moves[i], moves[j]
		if a.a.Job.Priority != b.a.Job.Priority {
			return a.a.Job.Priority < b.a.Job.Priority
		}
		return a.lost < b.lost
	})
	for _, sh := range moves {
		if need <= 0 {
			break
		}
		if sh.a.Job.CheckpointEvery <= 0 || !sh.a.Job.Preemptible || !e.worthStop(sh, ev, now) {
			continue
		}
		if pi := e.outside(s, sh.a, taken, now); pi >= 0 {
			taken[pi] += int32(sh.n)
			stopped[sh.a.Job.ID] = true
			stop(sh, GridMove)
		}
	}
	// 2. caps, as far as they go; 3. stops where they do not reach
	capFrac := e.cfg.Grid.CapFraction
	type capStep struct {
		sh         *shedding
		capW, save float64
	}
	var caps []capStep
	capAll := 0.0
	for _, sh := range flex {
		if stopped[sh.a.Job.ID] {
			continue
		}
		capW, save := e.capFor(s, sh, capFrac)
		if save <= 0 || !e.worthCap(sh, ev, capW, save) {
			continue
		}
		caps = append(caps, capStep{sh, capW, save})
		capAll += save
	}
	{
		order := make([]*shedding, 0, len(flex))
		for _, sh := range flex {
			if !stopped[sh.a.Job.ID] && (sh.a.Job.Preemptible || ev.Kind == Mandatory) {
				order = append(order, sh)
			}
		}
		sort.SliceStable(order, func(i, j int) bool {
			a, b := order[i], order[j]
			if a.a.Job.Preemptible != b.a.Job.Preemptible {
				return a.a.Job.Preemptible
			}
			if a.a.Job.Priority != b.a.Job.Priority {
				return a.a.Job.Priority < b.a.Job.Priority
			}
			return a.lost < b.lost
		})
		// with every other flexible job capped, stop until the rest is
		// enough; the caps are then chosen again for what is left
		left := need - capAll
		for _, sh := range order {
			if left <= 0 {
				break
			}
			if !e.worthStop(sh, ev, now) {
				continue
			}
			save := 0.0
			for _, c := range caps {
				if c.sh == sh {
					save = c.save
				}
			}
			left -= sh.drawW - save
			stopped[sh.a.Job.ID] = true
			stop(sh, GridShed)
		}
	}
	for _, c := range caps {
		if need <= 0 {
			break
		}
		if stopped[c.sh.a.Job.ID] {
			continue
		}
		e.gridCap(s, c.sh.a, c.capW, capped)
		why.Code, why.Domain = GridShed, c.sh.a.Site
		out = append(out, Decision{Action: Cap, Job: c.sh.a.Job.ID, Site: c.sh.a.Site, CapW: c.capW, Reason: why})
		need -= c.save
	}
	// 4. protected work: a mandatory event still over its aim has stopped
	// every flexible job in the scope by now
	if need <= 0 || ev.Kind != Mandatory {
		return out
	}
	for _, sh := range prot {
		if need <= 0 {
			break
		}
		capW, save := e.capFor(s, sh, capFrac)
		if save <= 0 {
			continue
		}
		e.gridCap(s, sh.a, capW, capped)
		why.Code, why.Domain = GridShed, sh.a.Site
		out = append(out, Decision{Action: Cap, Job: sh.a.Job.ID, Site: sh.a.Site, CapW: capW, Reason: why})
		need -= save
	}
	return out
}

// capFor is the grid cap for a running job and the facility watts it
// saves beyond the job's present cap (nothing if that is as deep).
func (e *Engine) capFor(s *Snapshot, sh *shedding, frac float64) (capW, save float64) {
	a := sh.a
	acc := &s.f.Catalog.Accelerators[s.pools[a.pool].accel]
	capW = frac * acc.TDPW
	if a.CapW > 0 && a.CapW <= capW {
		return capW, 0
	}
	now := s.capSave(a)
	deeper := min(float64(a.DrawW), max(a.Job.powerFraction()*acc.TDPW-capW, 0))
	return capW, e.grid.facility(a.Site, (deeper-now)*sh.n)
}

// gridCap caps a job for the grid.
func (e *Engine) gridCap(s *Snapshot, a *Alloc, capW float64, capped map[JobID]bool) {
	s.setCap(a, capW)
	capped[a.Job.ID] = true
}

// gridStop stops a running job for the grid and requeues it without
// backoff.
func (e *Engine) gridStop(s *Snapshot, a *Alloc, now time.Time) {
	s.account(a, now)
	s.free(a)
	e.push(&Pending{Job: a.Job, Seq: a.seq, Submitted: a.submitted, NotBefore: now, Requeues: a.requeues,
		Attained: a.attainedAt(now)})
}

// outside returns a pool outside the scope of every event in force where
// a running job could be placed now (counting what moves already
// promised there), or -1.
func (e *Engine) outside(s *Snapshot, a *Alloc, taken map[int32]int32, now time.Time) int32 {
	g := e.grid
	j := &a.Job
	saved := e.pl.gmask
	e.pl.gmask = 0
	defer func() { e.pl.gmask = saved }()
	for _, pi := range e.eligible(j) {
		pp := s.pools[pi]
		if len(g.siteEv[pp.site]) > 0 || pp.free-taken[pi] < int32(j.Accelerators) {
			continue
		}
		r := makeRequest(j, pp)
		r.w = pp.drawW(j)
		if !staticFit(&r, pp) {
			continue
		}
		if slots, _ := e.pl.place(&r, pp); slots != nil {
			return pi
		}
	}
	return -1
}

// valuePerHour is what an hour of a running job's work is worth (see
// GridConfig).
func (e *Engine) valuePerHour(j *Job, accelerators float64) float64 {
	return e.cfg.Grid.ValueUSDPerAcceleratorHour * float64(1+max(j.Priority, 0)) * accelerators
}

// pays is what the grid pays an hour for w facility watts not drawn.
func pays(ev *GridEvent, w float64) float64 { return ev.PriceUSDPerMWh * w / 1e6 }

// worthCap reports whether capping a job to capW, saving save facility
// watts, is worth it for the event.
func (e *Engine) worthCap(sh *shedding, ev *GridEvent, capW, save float64) bool {
	if ev.Kind == Mandatory {
		return true
	}
	acc := &e.grid.s.f.Catalog.Accelerators[e.grid.s.pools[sh.a.pool].accel]
	demand := sh.a.Job.powerFraction() * acc.TDPW
	slow := 0.0
	if capW < demand {
		slow = 1 - math.Cbrt(capW/demand)
	}
	return pays(ev, save) >= e.valuePerHour(&sh.a.Job, sh.n)*slow
}

// worthStop reports whether stopping a job is worth it for the event.
func (e *Engine) worthStop(sh *shedding, ev *GridEvent, now time.Time) bool {
	if ev.Kind == Mandatory {
		return true
	}
	left := ev.End.Sub(now).Hours()
	cost := e.valuePerHour(&sh.a.Job, sh.n)
	if left > 0 {
		cost *= 1 + sh.lost.Hours()/left
	}
	return pays(ev, sh.drawW) >= cost
}

// worthGate reports whether keeping a pending flexible job out of a
// voluntary event's scope is worth it: what its draw there would earn
// against what its accelerator-hours are worth.
func (e *Engine) worthGate(j *Job, ev *GridEvent) bool {
	g := e.grid
	w := 0.0
	for _, pi := range e.eligible(j) {
		pp := g.s.pools[pi]
		for _, si := range ev.Sites {
			if int(pp.site) == si {
				w = max(w, g.facility(pp.site, float64(pp.drawW(j))))
			}
		}
	}
	n := float64(j.Accelerators)
	return w > 0 && pays(ev, w*n) >= e.valuePerHour(j, n)
}

// mayRestore reports whether lifting a capped job's cap is allowed by
// the grid at now: every event past its start at the job's site keeps
// its scope twice the margin under its target with it lifted, and the
// site's ramp allows the rise. It returns the rise to record.
func (e *Engine) mayRestore(s *Snapshot, a *Alloc, now time.Time) (float64, bool) {
	g := e.grid
	w := s.capSave(a) * float64(a.accelerators())
	for _, pos := range g.siteEv[a.Site] {
		ev := &g.events[g.inForce[pos]]
		if ev.active(now) && g.scopeEst(ev)+g.facility(a.Site, w) > ev.TargetW*(1-2*e.cfg.Grid.Margin) {
			return 0, false
		}
	}
	// a cap's saving is estimated, but lifting it can raise each
	// accelerator at most from the cap to its TDP: the ramp counts that
	acc := &s.f.Catalog.Accelerators[s.pools[a.pool].accel]
	rise := s.f.Sites[a.Site].PUE * max(acc.TDPW-a.CapW, 0) * float64(a.accelerators())
	return rise, g.rampOK(a.Site, rise, now)
}

package engine

import (
	"cmp"
	"iter"
	"math"
	"slices"
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
	// the job's priority and ID and whether it is preemptible, kept here
	// for the orders that pick jobs
	prio        int
	id          JobID
	preemptible bool
	// a cap chosen for it, and what the cap saves at the facility
	capW, save float64
	stopped    bool
}

// byPriorityThenLoss orders jobs to shed: lowest priority first, then
// least work lost since the last checkpoint, then by ID.
func byPriorityThenLoss(a, b *shedding) int {
	if c := cmp.Compare(a.prio, b.prio); c != 0 {
		return c
	}
	if c := cmp.Compare(a.lost, b.lost); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
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
	// shed when over the target less half the margin, down to the aim
	// (the target less the margin): the band between absorbs what the
	// estimate and the measured draw differ by, without a shed each time
	aim := g.aim(ev)
	est := g.scopeEst(ev)
	if est <= ev.TargetW*(1-g.margin/2) {
		return out
	}
	need := est - aim
	if !e.sheddable(s, ev) {
		return out // nothing left that this event may shed: idle draw, capped protected work
	}
	if ev.Kind == Voluntary {
		// what is worth shedding changes slowly (the event's time left,
		// the jobs' work lost): a voluntary event left over its target
		// is weighed again a minute later, not at every call
		if at, ok := g.weighed[ev.ID]; ok && now.Sub(at) < time.Minute && !now.Before(at) {
			return out
		}
		g.weighed[ev.ID] = now
	}
	var flex, prot []*shedding
	n := 0
	for _, si := range ev.Sites {
		n += len(s.siteAllocs[si])
	}
	all := make([]shedding, 0, n)
	for _, si := range ev.Sites {
		for _, a := range s.siteAllocs[si] {
			k := float64(a.accelerators())
			all = append(all, shedding{a: a, n: k, drawW: g.facility(a.Site, (float64(a.DrawW)-s.capSave(a))*k), lost: lostWork(a, now),
				prio: a.Job.Priority, id: a.Job.ID, preemptible: a.Job.Preemptible})
		}
	}
	for i := range all {
		if e.cfg.Grid.Naive || all[i].a.Job.IsFlexible() {
			flex = append(flex, &all[i])
		} else {
			prot = append(prot, &all[i])
		}
	}
	byPriority := func(a, b *shedding) int {
		if c := cmp.Compare(a.prio, b.prio); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	}
	why := Reason{Code: GridShed, Level: fleet.LevelSite, Domain: -1}
	stop := func(sh *shedding, code Code) {
		why.Code, why.Domain = code, sh.a.Site
		out = append(out, Decision{Action: Preempt, Job: sh.a.Job.ID, Site: sh.a.Site, Reason: why})
		e.gridStop(s, sh.a, now)
		sh.stopped = true
		need -= sh.drawW
	}
	if e.cfg.Grid.Naive {
		for sh := range inOrder(flex, byPriority) {
			if need <= 0 {
				break
			}
			stop(sh, GridShed)
		}
		return out
	}
	// 1. moves: restartable jobs, lowest priority then least work lost
	var moves []*shedding
	if room := e.roomOutside(s); room > 0 {
		for _, sh := range flex {
			if j := &sh.a.Job; j.CheckpointEvery > 0 && j.Preemptible && int32(j.Accelerators) <= room {
				moves = append(moves, sh)
			}
		}
	}
	taken := map[int32]int32{} // accelerators promised in each pool outside
	full := map[int32]int32{}  // by class, the fewest accelerators found not to fit outside
	for sh := range inOrder(moves, byPriorityThenLoss) {
		if need <= 0 {
			break
		}
		j := &sh.a.Job
		k := sh.a.class
		if k < 0 {
			k = e.classOf(j)
		}
		if f, ok := full[k]; ok && int32(j.Accelerators) >= f || !e.worthStop(sh, ev, now) {
			continue
		}
		if pi := e.outside(s, sh.a, taken, now); pi >= 0 {
			taken[pi] += int32(sh.n)
			stop(sh, GridMove)
		} else if f, ok := full[k]; !ok || int32(j.Accelerators) < f {
			full[k] = int32(j.Accelerators)
		}
	}
	// 2. caps, as far as they go; 3. stops where they do not reach
	capFrac := e.cfg.Grid.CapFraction
	var caps []*shedding
	capAll := 0.0
	for _, sh := range flex {
		if sh.stopped {
			continue
		}
		capW, save := e.capFor(s, sh, capFrac)
		if save <= 0 || !e.worthCap(sh, ev, capW, save) {
			continue
		}
		sh.capW, sh.save = capW, save
		caps = append(caps, sh)
		capAll += save
	}
	if capAll < need {
		order := make([]*shedding, 0, len(flex))
		for _, sh := range flex {
			if !sh.stopped && (sh.a.Job.Preemptible || ev.Kind == Mandatory) {
				order = append(order, sh)
			}
		}
		// with every other flexible job capped, stop until the rest is
		// enough; the caps are then chosen again for what is left
		left := need - capAll
		for sh := range inOrder(order, func(a, b *shedding) int {
			if a.preemptible != b.preemptible {
				if a.preemptible {
					return -1
				}
				return 1
			}
			return byPriorityThenLoss(a, b)
		}) {
			if left <= 0 {
				break
			}
			if !e.worthStop(sh, ev, now) {
				continue
			}
			left -= sh.drawW - sh.save
			stop(sh, GridShed)
		}
	}
	for sh := range inOrder(caps, byPriority) {
		if need <= 0 {
			break
		}
		if sh.stopped {
			continue
		}
		e.gridCap(s, sh.a, sh.capW, capped)
		why.Code, why.Domain = GridShed, sh.a.Site
		out = append(out, Decision{Action: Cap, Job: sh.a.Job.ID, Site: sh.a.Site, CapW: sh.capW, Reason: why})
		need -= sh.save
	}
	// 4. protected work: a mandatory event still over its aim has stopped
	// every flexible job in the scope by now
	if need <= 0 || ev.Kind != Mandatory {
		return out
	}
	for sh := range inOrder(prot, byPriority) {
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

// inOrder yields xs in the order of c, lazily: a heap built in O(n) and
// each next job in O(log n), so that a shed that needs a few jobs of a
// site's thousands does not sort them all. c must be a total order.
func inOrder(xs []*shedding, c func(a, b *shedding) int) iter.Seq[*shedding] {
	return func(yield func(*shedding) bool) {
		h := slices.Clone(xs)
		down := func(i, n int) {
			for {
				m := i
				if l := 2*i + 1; l < n && c(h[l], h[m]) < 0 {
					m = l
				}
				if r := 2*i + 2; r < n && c(h[r], h[m]) < 0 {
					m = r
				}
				if m == i {
					return
				}
				h[i], h[m] = h[m], h[i]
				i = m
			}
		}
		n := len(h)
		for i := n/2 - 1; i >= 0; i-- {
			down(i, n)
		}
		for n > 0 {
			top := h[0]
			n--
			h[0] = h[n]
			down(0, n)
			if !yield(top) {
				return
			}
		}
	}
}

// roomOutside is the most free accelerators of any pool outside the
// scope of every event in force: no larger job can move there.
func (e *Engine) roomOutside(s *Snapshot) int32 {
	room := int32(0)
	for _, pp := range s.pools {
		if len(e.grid.siteEv[pp.site]) == 0 {
			room = max(room, pp.free)
		}
	}
	return room
}

// sheddable reports whether the scope runs anything the event may still
// shed: a flexible job, or for a mandatory event a protected job not yet
// capped as deep as the grid caps.
func (e *Engine) sheddable(s *Snapshot, ev *GridEvent) bool {
	for _, si := range ev.Sites {
		for _, a := range s.siteAllocs[si] {
			if e.cfg.Grid.Naive || a.Job.IsFlexible() {
				return true
			}
			if ev.Kind == Mandatory {
				if a.CapW == 0 || a.CapW > e.cfg.Grid.CapFraction*s.f.Catalog.Accelerators[s.pools[a.pool].accel].TDPW {
					return true
				}
			}
		}
	}
	return false
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
	a.gridCap = true
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

// heldSites reports, per site, whether an event past its start at the
// site has its scope at or over the draw under which caps are lifted
// (twice the margin under its target): no cap there may be lifted. Nil
// when no event is past its start.
func (e *Engine) heldSites(now time.Time) []bool {
	g := e.grid
	var held []bool
	for _, i := range g.inForce {
		ev := &g.events[i]
		if !ev.active(now) {
			continue
		}
		if held == nil {
			held = make([]bool, len(g.siteEv))
		}
		if g.scopeEst(ev) >= e.restoreBelow(ev) {
			for _, si := range ev.Sites {
				held[si] = true
			}
		}
	}
	return held
}

// restoreBelow is the draw an event's scope must stay under for a cap to
// be lifted during it.
func (e *Engine) restoreBelow(ev *GridEvent) float64 {
	return ev.TargetW * (1 - 2*e.cfg.Grid.Margin)
}

// gridRoom reports whether every event past its start at a capped job's
// site keeps its scope under restoreBelow with the cap lifted.
func (e *Engine) gridRoom(s *Snapshot, a *Alloc, now time.Time) bool {
	g := e.grid
	w := s.capSave(a) * float64(a.accelerators())
	for _, pos := range g.siteEv[a.Site] {
		ev := &g.events[g.inForce[pos]]
		if ev.active(now) && g.scopeEst(ev)+g.facility(a.Site, w) > e.restoreBelow(ev) {
			return false
		}
	}
	return true
}

// uncapRise is what lifting a job's cap counts against its site's ramp:
// a cap's saving is estimated, but lifting it can raise each accelerator
// at most from the cap to its TDP.
func (s *Snapshot) uncapRise(a *Alloc) float64 {
	acc := &s.f.Catalog.Accelerators[s.pools[a.pool].accel]
	return s.f.Sites[a.Site].PUE * max(acc.TDPW-a.CapW, 0) * float64(a.accelerators())
}

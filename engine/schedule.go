package engine

import (
	"sort"
	"time"
)

// choice is a pool a job may be placed in, with its rank for this job.
type choice struct {
	pool  int32
	score float64 // site policy score, lower first
	cap   int32   // capacity of the level where it fits (tightest first)
	fit   int32   // free count of the best-fit domain (smallest first)
}

// memoKey groups jobs that fail the same way: if a job of k accelerators
// cannot be placed under these constraints, no larger one can in the same
// pass, as long as nothing is released.
type memoKey struct {
	elig     eligKey
	topo     Topology
	req      bool
	perNode  int
	fraction float64
	excl     int32 // the pool excluded by a reservation, -1 if none
	held     bool  // a reservation was held (see reservation)
}

type memo struct {
	k      int32
	reason Reason
}

// pass is the state of one scheduling pass.
type pass struct {
	e    *Engine
	s    *Snapshot
	now  time.Time
	res  *Result
	memo map[memoKey]memo
	resv reservation
	// site energy at now, computed once per pass
	energy    []SiteView
	energyOK  []bool
	preempted int
}

// Schedule runs one scheduling pass at now: it considers the pending jobs
// in the queue policy's order and starts those that fit, preempting lower
// priority jobs when configured. It applies its decisions to s and to the
// queue before returning them: placed jobs leave the queue and hold their
// accelerators in s; preempted jobs are released from s and requeued with
// backoff. The driver then carries the decisions out in its own world.
func (e *Engine) Schedule(s *Snapshot, now time.Time) Result {
	e.bind(s)
	e.account(s, now)
	e.compact()
	e.queue.Order(e.pending, QueueView{Now: now, Usage: e.usage, Weight: e.weight})
	res := Result{}
	ps := &pass{e: e, s: s, now: now, res: &res}
	mode := e.queue.Blocking()
	stopped := false
	attempts := 0
	queue := e.pending // requeued victims are appended after; not seen this pass
	for _, p := range queue {
		if p.removed {
			continue
		}
		j := &p.Job
		if now.Before(p.NotBefore) {
			ps.wait(p, reason(Backoff))
			continue
		}
		if stopped {
			ps.wait(p, reason(FIFOBlocked))
			continue
		}
		if q := e.cfg.Tenants[j.Tenant].Quota; q > 0 && s.tenants[j.Tenant]+j.Accelerators > q {
			ps.wait(p, reason(Quota))
			stopped = mode == StopAtBlocked
			continue
		}
		why, ok := ps.try(p)
		if ok {
			continue
		}
		if e.cfg.Preemption && attempts < e.cfg.MaxPreemptions && preemptable(why.Code) {
			attempts++
			if ps.preempt(p) {
				continue
			}
		}
		switch {
		case why.Code == NoMatchingAccelerators || why.Code == NoDomainLargeEnough:
			// it can never run as asked: it holds nothing back
		case mode == StopAtBlocked:
			stopped = true
		case mode == ReserveForHead:
			if !ps.resv.active {
				ps.reserve(p)
			}
		}
		ps.wait(p, why)
	}
	ps.unhold()
	e.compact()
	return res
}

// preemptable reports whether freeing accelerators could cure a refusal.
func preemptable(c Code) bool {
	return c == InsufficientFree || c == Fragmented || c == Power || c == Reserved
}

func (ps *pass) wait(p *Pending, r Reason) {
	ps.res.Waiting = append(ps.res.Waiting, Wait{Job: p.Job.ID, Reason: r})
}

// try places p if it can; otherwise it returns why not.
func (ps *pass) try(p *Pending) (Reason, bool) {
	e, s := ps.e, ps.s
	j := &p.Job
	elig := e.eligible(j)
	if len(elig) == 0 {
		return reason(NoMatchingAccelerators), false
	}
	k := int32(j.Accelerators)
	// Backfill: a job expected to end before the head's reservation may
	// use what it holds; a reservation with no known placement keeps
	// later jobs out of its whole pool.
	rv := &ps.resv
	excl := int32(-1)
	if rv.active && rv.infinite {
		excl = rv.pool
	}
	if rv.active && rv.holding && j.Duration > 0 && !ps.now.Add(j.Duration).After(rv.at) {
		ps.unhold()
		defer ps.hold()
	}
	mk := memoKey{elig: eligKey{j.Model, j.Region, j.Site}, topo: j.Topology, req: j.TopologyRequired,
		perNode: j.PerNode, fraction: j.PowerFraction, excl: excl, held: rv.holding}
	if m, ok := ps.memo[mk]; ok && k >= m.k {
		return m.reason, false
	}
	order := e.order[:0]
	static := false
	var why Reason
	anyFree := false
	for _, pi := range elig {
		pp := s.pools[pi]
		r := request{k: k, perNode: int32(j.PerNode), w: pp.drawW(j)}
		r.top = topLevel(j, pp)
		if !staticFit(&r, pp) {
			continue
		}
		static = true
		if pi == excl {
			if pp.free >= k {
				why = reason(Reserved)
			}
			continue
		}
		if pp.free >= k {
			anyFree = true
		}
		l, fit, ok := probe(&r, pp)
		if !ok {
			continue
		}
		c := choice{pool: pi, cap: pp.cap[l], fit: fit}
		if e.sites.Name() != "pack" {
			c.score = e.sites.Score(ps.siteView(pp.site, elig, j), j)
		}
		order = append(order, c)
	}
	e.order = order
	if !static {
		return reason(NoDomainLargeEnough), false
	}
	sort.Slice(order, func(a, b int) bool {
		x, y := order[a], order[b]
		if x.score != y.score {
			return x.score < y.score
		}
		if x.cap != y.cap {
			return x.cap < y.cap
		}
		if x.fit != y.fit {
			return x.fit < y.fit
		}
		return x.pool < y.pool
	})
	var first outcome
	for _, c := range order {
		pp := s.pools[c.pool]
		r := request{k: k, perNode: int32(j.PerNode), w: pp.drawW(j)}
		r.top = topLevel(j, pp)
		slots, out := e.pl.place(&r, pp)
		if slots == nil {
			if first.code == "" || (first.code != Power && out.code == Power) {
				first = out
			}
			continue
		}
		code := Fits
		if rv.active {
			code = Backfilled
		}
		ps.place(p, c.pool, slots, r.w, reason(code), len(order) > 1)
		return Reason{}, true
	}
	switch {
	case why.Code != "":
	case rv.active && rv.holding && ps.fitsUnheld(j, elig):
		why = reason(Reserved)
	case first.code == Power:
		why = Reason{Code: Power, Level: first.level, Domain: first.dom}
	case anyFree:
		why = reason(Fragmented)
	default:
		why = reason(InsufficientFree)
	}
	if why.Code != Reserved {
		if ps.memo == nil {
			ps.memo = map[memoKey]memo{}
		}
		if m, ok := ps.memo[mk]; !ok || k < m.k {
			ps.memo[mk] = memo{k: k, reason: why}
		}
	}
	return why, false
}

// fitsUnheld reports whether j could be placed now if the reservation
// were not held: if so, it waits for the head, not for capacity.
func (ps *pass) fitsUnheld(j *Job, elig []int32) bool {
	ps.unhold()
	defer ps.hold()
	for _, pi := range elig {
		pp := ps.s.pools[pi]
		r := request{k: int32(j.Accelerators), perNode: int32(j.PerNode), w: pp.drawW(j)}
		r.top = topLevel(j, pp)
		if !staticFit(&r, pp) {
			continue
		}
		if slots, _ := ps.e.pl.place(&r, pp); slots != nil {
			return true
		}
	}
	return false
}

// place commits a placement and records its decisions.
func (ps *pass) place(p *Pending, pi int32, slots []Slot, w int64, why Reason, chosen bool) {
	s := ps.s
	a := s.commit(p, pi, slots, w, ps.now)
	if chosen && ps.e.sites.Name() != "pack" && p.Job.Site == "" {
		ps.res.Decisions = append(ps.res.Decisions, Decision{Action: Dispatch, Job: p.Job.ID, Site: a.Site,
			Reason: reason(Code(ps.e.sites.Name()))})
	}
	ps.res.Decisions = append(ps.res.Decisions, Decision{Action: Place, Job: p.Job.ID, Site: a.Site, Slots: a.Slots, Reason: why})
	ps.res.Placed++
	p.removed = true
	delete(ps.e.byID, p.Job.ID)
}

// siteView describes a site for the site policy.
func (ps *pass) siteView(site int32, elig []int32, j *Job) *SiteView {
	if ps.energy == nil {
		ps.energy = make([]SiteView, len(ps.s.f.Sites))
		ps.energyOK = make([]bool, len(ps.s.f.Sites))
	}
	v := &ps.energy[site]
	if !ps.energyOK[site] {
		st := &ps.s.f.Sites[site]
		v.Site, v.Name = site, st.Name
		v.PriceUSDPerMWh, v.CarbonGPerKWh = EnergyAt(st, ps.now)
		ps.energyOK[site] = true
	}
	v.Free = 0
	for _, pi := range elig {
		if pp := ps.s.pools[pi]; pp.site == site {
			v.Free += int(pp.free)
		}
	}
	return v
}

package engine

import (
	"math/bits"
	"time"
)

// choice is a pool a job may be placed in, with its rank for this job.
type choice struct {
	pool  int32
	score float64 // site policy score, lower first
	cap   int32   // capacity of the level where it fits (tightest first)
	fit   int32   // free count of the best-fit domain (smallest first)
}

// before orders choices: by score, capacity, fit, then pool.
func (x *choice) before(y *choice) bool {
	switch {
	case x.score != y.score:
		return x.score < y.score
	case x.cap != y.cap:
		return x.cap < y.cap
	case x.fit != y.fit:
		return x.fit < y.fit
	}
	return x.pool < y.pool
}

// memoKey groups jobs that fail the same way: if a job of k accelerators
// cannot be placed under these constraints, no larger one can in the same
// pass, as long as nothing is released.
type memoKey struct {
	class int32 // the job's constraints (see classKey)
	excl  int32 // the pool excluded by a reservation, -1 if none
	held  bool  // a reservation was held (see reservation)
	// gate: the grid events that keep the job out of their scope (see
	// Engine.gateMask); jobs alike but for it are refused differently
	gate uint64
}

type memo struct {
	k      int32
	reason Reason
}

// memoTable holds what a pass remembers by memoKey, in a slice by class
// (and the held and excluded flags) rather than a map: a pass asks it for
// nearly every job it reaches. Entries of an older generation are stale,
// so that forgetting everything costs nothing.
type memoTable struct {
	gen  uint64
	ents []memoEnt
	// entries of jobs kept out of grid events' scopes, which are few and
	// only during events
	gated map[memoKey]memoEnt
}

type memoEnt struct {
	gen uint64
	memo
}

func (t *memoTable) slot(mk memoKey) int {
	i := int(mk.class) * 4
	if mk.held {
		i += 2
	}
	if mk.excl >= 0 {
		i++ // a pass excludes at most one pool
	}
	return i
}

func (t *memoTable) get(mk memoKey) (memo, bool) {
	if mk.gate != 0 {
		if m, ok := t.gated[mk]; ok && m.gen == t.gen {
			return m.memo, true
		}
		return memo{}, false
	}
	if i := t.slot(mk); i < len(t.ents) && t.ents[i].gen == t.gen {
		return t.ents[i].memo, true
	}
	return memo{}, false
}

func (t *memoTable) put(mk memoKey, m memo) {
	if mk.gate != 0 {
		if t.gated == nil {
			t.gated = map[memoKey]memoEnt{}
		}
		t.gated[mk] = memoEnt{gen: t.gen, memo: m}
		return
	}
	i := t.slot(mk)
	for i >= len(t.ents) {
		t.ents = append(t.ents, memoEnt{})
	}
	t.ents[i] = memoEnt{gen: t.gen, memo: m}
}

// reset forgets every entry.
func (t *memoTable) reset() {
	t.gen++
	if len(t.gated) > 0 {
		clear(t.gated)
	}
}

// pass is the state of one scheduling pass.
type pass struct {
	e    *Engine
	s    *Snapshot
	now  time.Time
	res  Result // what the pass returns
	resv reservation
	// site energy at now, computed once per pass
	energy    []SiteView
	energyOK  []bool
	preempted int
	undoLog   []moved // fitsUnheld's
	liftLog   []moved // try's, for a job that ends before the head
	lowest    *int    // lowestRank, once found
}

// Schedule runs one scheduling pass at now: it considers the pending jobs
// in the queue policy's order and starts those that fit, preempting lower
// priority jobs when configured. It applies its decisions to s and to the
// queue before returning them: placed jobs leave the queue and hold their
// accelerators in s; preempted jobs are released from s and requeued with
// backoff. The driver then carries the decisions out in its own world.
//
// A pass stops as soon as nothing further can start: under strict FIFO at
// the first job that cannot, otherwise once no pool has room for the
// smallest pending job (under backfill, once the head is reserved) and no
// preemption is left to try. Result.Waiting
// lists the jobs the pass tried and left waiting; Engine.Reason and
// Engine.Waits tell why any other pending job waits.
func (e *Engine) Schedule(s *Snapshot, now time.Time) Result {
	e.bind(s)
	if _, static := e.queue.(StaticOrder); !static {
		e.account(s, now) // the order reads the tenants' usage
	}
	e.pl.grid, e.pl.gnow, e.pl.gmask = e.gridNow(s, now), now, 0
	if e.pl.grid != nil {
		e.pl.grid.calibrate() // to a draw measured since the last pass
	}
	e.sortQueue(e.view(now))
	e.beginPass(now)
	ps := &pass{e: e, s: s, now: now}
	ps.res.Decisions, ps.res.Waiting = e.decBuf[:0], e.waitBuf[:0]
	mode := e.queue.Blocking()
	if mode != StopAtBlocked {
		e.untried = reason(InsufficientFree)
	}
	so, static := e.queue.(StaticOrder)
	attempts := 0
	room := ps.bound()
	// Jobs are read in order from the queue until nothing further could
	// start but a job small enough for what is free: from then on (greedy
	// order, or backfill once the head is reserved, and no preemption left
	// to try) only the jobs that small are visited, through the queues by
	// size, still in order.
	var bySize *cursors
	var fair *fairMerge
	if e.lazyFair {
		fair = e.startFair(e.view(now))
	}
	next := 0
	for {
		var p *Pending
		if fair != nil {
			if p = fair.next(); p == nil {
				break
			}
		} else if bySize != nil {
			if p = bySize.next(room); p == nil {
				break
			}
		} else {
			if next == len(e.pending) {
				break
			}
			p = e.pending[next]
			next++
		}
		if p.removed {
			e.skipped++
			continue
		}
		if p.fresh {
			continue
		}
		j := &p.Job
		if now.Before(p.NotBefore) {
			continue // waits out its backoff (Engine.Reason says so)
		}
		skip := (mode == SkipBlocked || mode == ReserveForHead && ps.resv.active) &&
			(!e.cfg.Preemption || attempts >= e.cfg.MaxPreemptions)
		if skip && room.held < e.smallest() {
			break
		}
		if skip && static && bySize == nil {
			bySize = e.startCursors(so, p, room)
			continue // p comes again through its size queue, if small enough
		}
		if q := e.cfg.Tenants[j.Tenant].Quota; q > 0 && s.TenantAccelerators(j.Tenant)+j.Accelerators > q {
			ps.wait(p, reason(Quota))
			if mode == StopAtBlocked {
				e.untried = reason(FIFOBlocked)
				break
			}
			continue
		}
		why, ok := ps.try(p)
		if !ok && e.cfg.Preemption && attempts < e.cfg.MaxPreemptions && preemptable(why.Code) {
			attempts++
			ok = ps.preempt(p)
		}
		if ok {
			room = ps.bound()
			continue
		}
		ps.wait(p, why)
		switch {
		case why.Code == NoMatchingAccelerators || why.Code == NoDomainLargeEnough || why.Code == SliceShape:
			// it can never run as asked: it holds nothing back
		case mode == StopAtBlocked:
			e.untried = reason(FIFOBlocked)
		case mode == ReserveForHead:
			if !ps.resv.active {
				ps.reserve(p)
				room = ps.bound()
			}
		}
		if e.untried.Code == FIFOBlocked {
			break
		}
	}
	e.lastBound = ps.bound()
	ps.unhold()
	e.endPass()
	e.decBuf, e.waitBuf = ps.res.Decisions, ps.res.Waiting
	return ps.res
}

// bound returns what the pass can still start (see bound).
func (ps *pass) bound() bound {
	b := bound{window: -1}
	for _, pp := range ps.s.pools {
		b.free = max(b.free, int(pp.free))
	}
	b.held = ps.room()
	if r := &ps.resv; r.holding {
		b.window = r.at.Sub(ps.now)
	}
	return b
}

// room returns the most free accelerators of any pool, counting what a
// backfill reservation holds (a job that ends before the head may use it).
func (ps *pass) room() int {
	n := int32(0)
	for pi, pp := range ps.s.pools {
		f := pp.free
		if ps.resv.holding && int32(pi) == ps.resv.pool {
			for _, sl := range ps.resv.held {
				f += int32(bits.OnesCount64(sl.Mask))
			}
		}
		n = max(n, f)
	}
	return int(n)
}

// preemptable reports whether freeing accelerators could cure a refusal.
func preemptable(c Code) bool {
	return c == InsufficientFree || c == Fragmented || c == Power || c == Reserved
}

func (ps *pass) wait(p *Pending, r Reason) {
	p.tried, p.why = ps.e.passN, r
	ps.res.Waiting = append(ps.res.Waiting, Wait{Job: p.Job.ID, Reason: r})
}

// try places p if it can; otherwise it returns why not.
func (ps *pass) try(p *Pending) (_ Reason, placed bool) {
	e, s := ps.e, ps.s
	j := &p.Job
	elig := e.classEligible(p.class)
	if len(elig) == 0 {
		return reason(NoMatchingAccelerators), false
	}
	if e.pl.grid != nil {
		e.pl.gmask = e.gateMask(j, ps.now)
	}
	if s.sliced {
		if why := s.sliceRefusal(j, elig); why.Code != "" {
			return why, false
		}
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
		log := ps.lift(ps.liftLog[:0])
		defer func() {
			if placed {
				ps.retake()
			} else {
				ps.restore(log)
			}
			ps.liftLog = log[:0]
		}()
	}
	mk := memoKey{class: p.class, excl: excl, held: rv.holding, gate: e.pl.gmask}
	var why Reason
	// a job refused by a grid event or a ramp waits for that, hold or
	// not: the hold is not lifted to ask
	reserved := func() bool { return rv.active && rv.holding && !gridHeld(why.Code) && ps.fitsUnheldMemo(j, elig, mk) }
	if m, ok := e.memo.get(mk); ok {
		why = m.reason // what reserved asks about, should the memo answer
	}
	if m, ok := e.memo.get(mk); ok && k >= m.k {
		if reserved() {
			return reason(Reserved), false
		}
		return m.reason, false
	}
	why = Reason{}
	order := e.order[:0]
	static := false
	// a pool refused the size as no slice it hands out: a refusal that
	// says nothing of larger jobs, so it is not remembered
	shaped := false
	anyFree := false
	for _, pi := range elig {
		pp := s.pools[pi]
		r := makeRequest(j, pp)
		r.w = pp.drawW(j)
		if !staticFit(&r, pp) {
			shaped = shaped || r.badShape
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
		cap, fit, ok := probe(&r, pp)
		if !ok {
			continue
		}
		c := choice{pool: pi, cap: cap, fit: fit}
		if e.sites.Name() != "pack" {
			c.score = e.sites.Score(ps.siteView(pp.site, elig, j), j)
		}
		order = append(order, c)
	}
	e.order = order
	if !static {
		return reason(NoDomainLargeEnough), false
	}
	// a few pools: an insertion sort, in the one order there is (the
	// pool breaks every tie)
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && order[j].before(&order[j-1]); j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	var first outcome
	gaveUp := false // a search stopped short: the refusal is not remembered
	for _, c := range order {
		pp := s.pools[c.pool]
		r := makeRequest(j, pp)
		r.w = pp.drawW(j)
		slots, out := e.pl.place(&r, pp)
		gaveUp = gaveUp || e.pl.gaveUp
		if slots == nil {
			if out.rank() > first.rank() {
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
	case why.Code != "": // reserved: the excluded pool has room
		return why, false
	case first.code == Power || first.code == Grid || first.code == Ramp:
		why = Reason{Code: first.code, Level: first.level, Domain: first.dom}
	case anyFree:
		why = reason(Fragmented)
	default:
		why = reason(InsufficientFree)
	}
	// what refused it is remembered for its kind; whether it waits for
	// the head is asked each time
	if m, ok := e.memo.get(mk); !gaveUp && !shaped && (!ok || k < m.k) {
		e.memo.put(mk, memo{k: k, reason: why})
	}
	if reserved() {
		return reason(Reserved), false
	}
	return why, false
}

// gridHeld reports whether a refusal is a grid event's or a ramp's.
func gridHeld(c Code) bool { return c == Grid || c == Ramp }

// fitsUnheldMemo is fitsUnheld, remembered for the pass: a job that fits
// without the hold means one of its kind no larger fits too, until the
// next placement takes capacity; a job that failed without the hold means
// one no smaller fails too (the memo). A job larger than any pool's free
// and held accelerators cannot fit: the hold is not touched for it, so
// that a pass that skips such jobs decides exactly as one that tries them.
func (ps *pass) fitsUnheldMemo(j *Job, elig []int32, mk memoKey) bool {
	k := int32(j.Accelerators)
	mk.held = false
	e := ps.e
	if m, ok := e.memo.get(mk); ok && k >= m.k {
		return false
	}
	if f, ok := e.fits.get(mk); ok && k <= f.k {
		return true
	}
	if k > int32(ps.room()) || !ps.fitsUnheld(j, elig) {
		return false
	}
	if f, ok := e.fits.get(mk); !ok || k > f.k {
		e.fits.put(mk, memo{k: k})
	}
	return true
}

// fitsUnheld reports whether j could be placed now if the reservation
// were not held: if so, it waits for the head, not for capacity.
//
// It lifts the hold with every index change logged and puts it back by
// undoing them, so that the free indexes are left exactly as they were,
// bucket order included: asking must not change where later jobs go.
func (ps *pass) fitsUnheld(j *Job, elig []int32) bool {
	if !ps.resv.holding {
		return false
	}
	log := ps.lift(ps.undoLog[:0])
	defer func() {
		ps.restore(log)
		ps.undoLog = log[:0]
	}()
	for _, pi := range elig {
		pp := ps.s.pools[pi]
		r := makeRequest(j, pp)
		r.w = pp.drawW(j)
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
	if g := ps.e.pl.grid; g != nil {
		g.rise(a.Site, s.startRise(s.pools[pi], p.Job.Accelerators), ps.now)
		if m := ps.e.pl.gmask; m != 0 && !g.inScope(a.Site, m) && ps.e.mayUseScope(&p.Job, m) {
			// kept out of a grid event's scope, it runs elsewhere
			ps.res.Decisions = append(ps.res.Decisions, Decision{Action: Dispatch, Job: p.Job.ID, Site: a.Site, Reason: reason(Grid)})
			chosen = false
		}
	}
	if chosen && ps.e.sites.Name() != "pack" && p.Job.Site == "" {
		ps.res.Decisions = append(ps.res.Decisions, Decision{Action: Dispatch, Job: p.Job.ID, Site: a.Site,
			Reason: reason(Code(ps.e.sites.Name()))})
	}
	ps.res.Decisions = append(ps.res.Decisions, Decision{Action: Place, Job: p.Job.ID, Site: a.Site, Slots: a.Slots, Reason: why})
	ps.res.Placed++
	ps.e.remove(p)
	ps.e.fits.reset() // capacity was taken
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

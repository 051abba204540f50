package engine

import (
	"cmp"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"stargate/fleet"
)

// scheduleFull is the plain pass that the engine's incremental one must
// equal, kept as a test oracle: it sorts the whole queue with the policy's
// Order every pass, tries every pending job in that order, gives each a
// reason, and searches a backfill reservation afresh, as the engine did
// before passes learned to stop early and to keep what they found.
func (e *Engine) scheduleFull(s *Snapshot, now time.Time) Result {
	e.bind(s)
	e.resv = resvCache{} // every reservation searched afresh
	if _, static := e.queue.(StaticOrder); !static {
		e.account(s, now)
	}
	e.compact(true)
	e.queue.Order(e.pending, QueueView{Now: now, Usage: e.usage, Weight: e.weight})
	e.beginPass(now)
	ps := &pass{e: e, s: s, now: now}
	mode := e.queue.Blocking()
	stopped := false
	attempts := 0
	for _, p := range e.pending {
		if p.removed || p.fresh {
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
		if q := e.cfg.Tenants[j.Tenant].Quota; q > 0 && s.TenantAccelerators(j.Tenant)+j.Accelerators > q {
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
		case why.Code == NoMatchingAccelerators || why.Code == NoDomainLargeEnough || why.Code == SliceShape:
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
	e.endPass()
	return ps.res
}

// twins are two engines on two snapshots of one fleet, told the same
// things: one schedules with the incremental pass, the other with
// scheduleFull.
type twins struct {
	t         *rapid.T
	inc, full *Engine
	si, sf    *Snapshot
}

func newTwins(t *rapid.T, f *fleet.Fleet, cfg Config) *twins {
	inc, err1 := New(cfg)
	full, err2 := New(cfg)
	si, err3 := NewSnapshot(f)
	sf, err4 := NewSnapshot(f)
	for _, err := range []error{err1, err2, err3, err4} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return &twins{t: t, inc: inc, full: full, si: si, sf: sf}
}

func (w *twins) submit(j Job, now time.Time) {
	if err := w.inc.Submit(j, now); err != nil {
		w.t.Fatal(err)
	}
	if err := w.full.Submit(j, now); err != nil {
		w.t.Fatal(err)
	}
}

// pass runs a pass on both and wants the same decisions, reservation and
// free-count bucket order (where later jobs go depends on it).
func (w *twins) pass(step int, now time.Time) (a, b Result) {
	t := w.t
	a, b = w.inc.Schedule(w.si, now), w.full.scheduleFull(w.sf, now)
	if x, y := decisions(a), decisions(b); x != y {
		t.Fatalf("step %d: incremental pass decided\n%s\nfull pass decided\n%s", step, x, y)
	}
	if fmt.Sprint(a.Reservation) != fmt.Sprint(b.Reservation) {
		t.Fatalf("step %d: reservation %+v, full pass %+v", step, a.Reservation, b.Reservation)
	}
	if x, y := bucketOrder(w.si), bucketOrder(w.sf); x != y {
		t.Fatalf("step %d: free-count buckets differ:\n%s\nfull pass:\n%s", step, x, y)
	}
	return a, b
}

func (w *twins) release(id JobID, now time.Time) {
	w.si.Release(id, now)
	w.sf.Release(id, now)
}

func (w *twins) setNode(n int, st NodeState, now time.Time) {
	if st == Down {
		w.inc.FailNode(w.si, n, now)
		w.full.FailNode(w.sf, n, now)
		return
	}
	w.si.SetNodeState(n, st)
	w.sf.SetNodeState(n, st)
}

// TestIncrementalEqualsFull plays random scenarios on two engines, one
// scheduling with the incremental pass and one with scheduleFull, and
// wants the same decisions and reservation from every pass; the reasons of
// the jobs the incremental pass tried must be the full pass's, and every
// other job's reason (Engine.Reason) must be one the full pass could give
// it. A pass is often followed by more with nothing changed but, at
// times, the clock, where the incremental pass reuses what it kept.
func TestIncrementalEqualsFull(t *testing.T) {
	for _, name := range []string{"tiny.yaml", "multi.yaml", "wide.yaml"} {
		f := loadTestdata(t, name)
		t.Run(name, func(t *testing.T) {
			rapid.Check(t, func(t *rapid.T) {
				sc := drawScenario(t, f)
				w := newTwins(t, f, Config{Queue: sc.queue, Sites: sc.sites, Preemption: sc.preempt, Tenants: map[string]Tenant{"q": {Quota: 16}}})
				now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
				for step, o := range sc.ops {
					switch {
					case o.kind <= 3:
						w.submit(o.job, now)
					case o.kind <= 5:
						w.passAndReasons(step, now)
						// passes again with nothing changed, or only the
						// clock: what a pass keeps from the last must be
						// what a full one finds
						for range rapid.IntRange(0, 3).Draw(t, "again") {
							now = now.Add(rapid.SampledFrom(againAfter).Draw(t, "after"))
							w.passAndReasons(step, now)
						}
					case o.kind == 6:
						now = now.Add(o.adv)
					case o.kind == 7:
						if ids := w.si.Running(); len(ids) > 0 {
							w.release(ids[o.pick%len(ids)], now)
						} else if q := w.inc.Queue(); len(q) > 0 {
							id := q[o.pick%len(q)].Job.ID
							w.inc.Cancel(id)
							w.full.Cancel(id)
						}
					case o.kind == 8:
						w.setNode(o.pick, o.state, now)
					}
				}
			})
		})
	}
}

// againAfter are the clock's moves between passes in which nothing else
// changed: none, a second, and spans that cross the ends the tests'
// reservations wait for (jobs of minutes).
var againAfter = []time.Duration{0, 0, time.Second, 59 * time.Second, 5 * time.Minute, 20 * time.Minute}

// passAndReasons is pass, and wants the reasons of the jobs the
// incremental pass tried to be the full pass's, and every other job's
// reason (Engine.Reason) to be one the full pass could give it.
func (w *twins) passAndReasons(step int, now time.Time) {
	t := w.t
	a, b := w.pass(step, now)
	want := map[JobID]Reason{}
	for _, wt := range b.Waiting {
		want[wt.Job] = wt.Reason
	}
	for _, wt := range a.Waiting {
		if want[wt.Job] != wt.Reason {
			t.Fatalf("step %d: job %d tried with %s, full pass %s", step, wt.Job, wt.Reason, want[wt.Job])
		}
	}
	waits := w.inc.Waits()
	for _, wt := range waits {
		if r := want[wt.Job]; r != wt.Reason && !lazyAgrees(wt.Reason, r) {
			t.Fatalf("step %d: job %d waits %s, full pass %s", step, wt.Job, wt.Reason, r)
		}
	}
	if len(waits) != len(b.Waiting) {
		t.Fatalf("step %d: %d jobs wait, full pass %d", step, len(waits), len(b.Waiting))
	}
}

// lazyAgrees: a job the incremental pass did not reach, because no pool had
// room for it, is said to wait for free accelerators (or for the head's
// reservation, when it would fit what that holds but run past the head's
// start; or never to fit, when no domain is large enough; or for its
// tenant's quota as the pass left it); the full pass tried it and may have
// named instead what refused a smaller job of its kind in the same pass
// (the memo), or found it could not fit even without the reservation.
func lazyAgrees(lazy, full Reason) bool {
	switch lazy.Code {
	case InsufficientFree, NoDomainLargeEnough, Reserved:
	case Quota:
		// derived after the pass: jobs of its tenant placed after the
		// full pass tried it used up the quota, whatever refused it then
		return true
	default:
		return false
	}
	switch full.Code {
	case InsufficientFree, Fragmented, Power, Reserved:
		return true
	}
	return false
}

// bucketOrder lists every pool's free-count buckets, in their order.
func bucketOrder(s *Snapshot) string {
	var b strings.Builder
	for pi, p := range s.pools {
		for l, bk := range p.lv {
			if bk == nil {
				continue
			}
			fmt.Fprintf(&b, "pool %d level %d:", pi, l)
			for f, h := range bk.head {
				if len(h) > 0 {
					fmt.Fprintf(&b, " %d%v", f, h)
				}
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

func decisions(r Result) string {
	return fmt.Sprintf("%v placed=%d preempted=%d", r.Decisions, r.Placed, r.Preempted)
}

// TestIncrementalEqualsFullLongRuns is the same comparison over long runs
// on wide.yaml, with backfill drawn most often and durations of minutes,
// so that reservations are made and held through many passes: where a
// pass lifts and retakes a reservation is where the two could part.
func TestIncrementalEqualsFullLongRuns(t *testing.T) {
	f := loadTestdata(t, "wide.yaml")
	rapid.Check(t, func(t *rapid.T) {
		w := newTwins(t, f, Config{Queue: rapid.SampledFrom([]string{"backfill", "backfill", "backfill", "priority", "fair", "las", "fifo"}).Draw(t, "queue"),
			Preemption: rapid.Bool().Draw(t, "preempt")})
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for step := range rapid.IntRange(1, 250).Draw(t, "steps") {
			switch op := rapid.IntRange(0, 9).Draw(t, "op"); {
			case op <= 4:
				j := Job{ID: JobID(step + 1), Tenant: rapid.SampledFrom([]string{"a", "b"}).Draw(t, "tenant"),
					Priority:     rapid.IntRange(0, 2).Draw(t, "prio"),
					Accelerators: rapid.SampledFrom([]int{1, 2, 3, 4, 5, 7, 8, 12, 16, 24, 40, 72}).Draw(t, "n"),
					Duration:     time.Duration(rapid.SampledFrom([]int{0, 1, 2, 5, 10, 20, 30, 60, 600}).Draw(t, "dur")) * time.Minute,
					Preemptible:  rapid.Bool().Draw(t, "preemptible"),
				}
				if rapid.IntRange(0, 3).Draw(t, "rack") == 0 {
					j.Topology, j.TopologyRequired = TopologyRack, true
				}
				w.submit(j, now)
			case op <= 6:
				w.pass(step, now)
				for range rapid.IntRange(0, 3).Draw(t, "again") {
					now = now.Add(rapid.SampledFrom(againAfter).Draw(t, "after"))
					w.pass(step, now)
				}
			case op == 7:
				now = now.Add(time.Duration(rapid.IntRange(1, 30).Draw(t, "advance")) * time.Minute)
			case op == 8:
				if ids := w.si.Running(); len(ids) > 0 {
					w.release(ids[rapid.IntRange(0, len(ids)-1).Draw(t, "release")], now)
				}
			default:
				w.setNode(rapid.IntRange(0, len(f.Nodes)-1).Draw(t, "node"), NodeState(rapid.IntRange(0, 2).Draw(t, "state")), now)
			}
		}
	})
}

// expectByRelease is the reservation search as the engine first did it,
// kept as an oracle for expect: it releases the site's running jobs for
// real (Snapshot.free), in order of expected end, tries the head after
// each group of ends, and allocates them again. It leaves the free
// indexes in another order than it found them; expect must find the same
// placement, at the same time, with the same held watts, and leave no
// trace.
func (ps *pass) expectByRelease(p *Pending, pi int32, r *request) reservation {
	s := ps.s
	pp := s.pools[pi]
	res := reservation{active: true, pool: pi, infinite: true}
	g := ps.e.pl.grid
	ps.e.pl.grid = nil
	defer func() { ps.e.pl.grid = g }()
	var freed []*Alloc
	avail := pp.free
	at := ps.now
	for try := 0; try < maxReserveTries; {
		if avail >= r.k {
			try++
			if slots, _ := ps.e.pl.place(r, pp); slots != nil {
				res.at, res.infinite = at, false
				res.slots = append([]Slot(nil), slots...)
				res.watts = pathDrawByMap(s, res.slots, r.w)
				break
			}
		}
		// the next expected end among the site's running jobs, and every
		// job that ends then, pool by pool, by job ID
		key, any := int64(0), false
		var ending []*Alloc
		for _, id := range s.Running() {
			a := s.allocs[id]
			if s.pools[a.pool].site != pp.site || a.Job.Duration <= 0 {
				continue
			}
			switch {
			case !any || a.endKey < key:
				key, any, ending = a.endKey, true, append(ending[:0], a)
			case a.endKey == key:
				ending = append(ending, a)
			}
		}
		if !any {
			break
		}
		slices.SortStableFunc(ending, func(a, b *Alloc) int {
			return cmp.Or(cmp.Compare(a.pool, b.pool), cmp.Compare(a.Job.ID, b.Job.ID))
		})
		for _, a := range ending {
			if s.pools[a.pool] == pp {
				for _, sl := range a.Slots {
					if s.node[sl.Node].state == Up {
						avail += int32(bits.OnesCount64(sl.Mask))
					}
				}
			}
			s.free(a)
			freed = append(freed, a)
		}
		at = time.Unix(0, key).UTC()
		if at.Before(ps.now) {
			at = ps.now
		}
	}
	for i := range res.watts {
		h := &res.watts[i]
		h.w += s.draw[h.level][h.dom]
	}
	for i := len(freed) - 1; i >= 0; i-- {
		s.allocate(freed[i])
	}
	out := res.watts[:0]
	for _, h := range res.watts {
		if h.w -= s.draw[h.level][h.dom]; h.w > 0 {
			out = append(out, h)
		}
	}
	res.watts = out
	return res
}

// pathDrawByMap is pathDraw as the engine first wrote it, with a map of
// every domain reached: the oracle for the held watts.
func pathDrawByMap(s *Snapshot, slots []Slot, w int64) []heldW {
	var out []heldW
	at := map[[2]int32]int{}
	for _, sl := range slots {
		x := int64(bits.OnesCount64(sl.Mask)) * w
		path := s.f.Path(int(sl.Node))
		for l := fleet.LevelSite; l <= fleet.LevelRack; l++ {
			k := [2]int32{int32(l), path[l]}
			if i, ok := at[k]; ok {
				out[i].w += x
				continue
			}
			at[k] = len(out)
			out = append(out, heldW{level: l, dom: path[l], w: x})
		}
	}
	return out
}

// trace is what a reservation search may read or write in a snapshot:
// the free indexes in their order, the nodes' masks, the draws, the
// pools' free counts and the sites' generations.
func trace(s *Snapshot) string {
	return fmt.Sprint(bucketOrder(s), s.node, s.draw, s.siteGen, func() []int32 {
		var free []int32
		for _, p := range s.pools {
			free = append(free, p.free)
		}
		return free
	}())
}

// TestExpectMatchesRelease plays random backfill scenarios and, before
// each pass, asks expect where and when every pending job would fit in
// every pool it may use: it must leave the snapshot exactly as it was and
// agree with expectByRelease, which releases the jobs for real (and is
// run after it, on the same state, for that reason).
func TestExpectMatchesRelease(t *testing.T) {
	f := loadTestdata(t, "wide.yaml")
	rapid.Check(t, func(t *rapid.T) {
		e, err := New(Config{Queue: "backfill"})
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewSnapshot(f)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for step := range rapid.IntRange(1, 120).Draw(t, "steps") {
			switch op := rapid.IntRange(0, 9).Draw(t, "op"); {
			case op <= 4:
				j := Job{ID: JobID(step + 1), Tenant: "a", Priority: rapid.IntRange(0, 2).Draw(t, "prio"),
					Accelerators:  rapid.SampledFrom([]int{1, 2, 4, 8, 12, 16, 24, 40, 72}).Draw(t, "n"),
					Duration:      time.Duration(rapid.SampledFrom([]int{0, 1, 5, 10, 30, 60}).Draw(t, "dur")) * time.Minute,
					PowerFraction: rapid.SampledFrom([]float64{0, 0.5, 1}).Draw(t, "power")}
				if rapid.IntRange(0, 3).Draw(t, "rack") == 0 {
					j.Topology, j.TopologyRequired = TopologyRack, true
				}
				if err := e.Submit(j, now); err != nil {
					t.Fatal(err)
				}
			case op <= 6:
				e.bind(s)
				ps := &pass{e: e, s: s, now: now}
				for _, p := range e.Queue() {
					for _, pi := range e.eligible(&p.Job) {
						pp := s.pools[pi]
						r := makeRequest(&p.Job, pp)
						r.w = pp.drawW(&p.Job)
						if !staticFit(&r, pp) || pp.total < r.k {
							continue
						}
						before := trace(s)
						got := ps.at(ps.expect(p, pi, &r, cutoff{}))
						if after := trace(s); after != before {
							t.Fatalf("step %d: job %d, pool %d: the search left a trace:\n%s\nwas\n%s", step, p.Job.ID, pi, after, before)
						}
						want := ps.expectByRelease(p, pi, &r)
						if g, w := fmt.Sprint(got.at, got.infinite, got.slots, got.watts), fmt.Sprint(want.at, want.infinite, want.slots, want.watts); g != w {
							t.Fatalf("step %d: job %d, pool %d: expect found %s, by release %s", step, p.Job.ID, pi, g, w)
						}
					}
				}
				e.Schedule(s, now)
			case op == 7:
				now = now.Add(time.Duration(rapid.IntRange(1, 20).Draw(t, "advance")) * time.Minute)
			default:
				if ids := s.Running(); len(ids) > 0 {
					s.Release(ids[rapid.IntRange(0, len(ids)-1).Draw(t, "release")], now)
				}
			}
		}
	})
}

// TestPathDrawAnyOrder: the watts a set of slots adds along its power
// path do not depend on the order of the slots (a fill gives them rack
// by rack, but nothing else has to).
func TestPathDrawAnyOrder(t *testing.T) {
	f := loadTestdata(t, "wide.yaml")
	s, err := NewSnapshot(f)
	if err != nil {
		t.Fatal(err)
	}
	ps := &pass{s: s}
	rapid.Check(t, func(t *rapid.T) {
		nodes := rapid.SliceOfNDistinct(rapid.IntRange(0, len(f.Nodes)-1), 1, 24, rapid.ID[int]).Draw(t, "nodes")
		var slots []Slot
		for _, n := range nodes {
			slots = append(slots, Slot{Node: int32(n), Mask: uint64(rapid.IntRange(1, 255).Draw(t, "mask"))})
		}
		w := int64(rapid.IntRange(1, 1000).Draw(t, "w"))
		if got, want := fmt.Sprint(ps.pathDraw(slots, w)), fmt.Sprint(pathDrawByMap(s, slots, w)); got != want {
			t.Fatalf("pathDraw %s, by map %s", got, want)
		}
	})
}

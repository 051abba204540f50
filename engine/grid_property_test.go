package engine

import (
	"fmt"
	"math"
	"math/bits"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"stargate/fleet"
)

// The grid properties, judged from outside: each site's facility draw is
// recounted from the running jobs, their caps and the catalog (never from
// the engine's bookkeeping), and checked after every call against the
// events in force and the ramps:
//
//   - shed: after Control, a mandatory event past its start has its scope
//     at or under target, unless no flexible job is left running there
//     (only protected work remains);
//   - admission: a pass never takes a scope over its aim (or higher than
//     it was) by starting work the event keeps out (flexible work, and
//     during the notice only work still running at the start);
//   - protection: no protected job is stopped for the grid, and one is
//     capped only when no flexible job runs in the scope;
//   - ramp: within any minute, the draw of jobs at a ramp-limited site
//     rises by at most its ramp.

// gridFacility recounts site si's facility draw: the idle draw of its
// nodes that are not down and, for dynOnly false, of its jobs above idle
// net of caps; with dynOnly, the jobs' share alone.
func gridFacility(s *Snapshot, si int, dynOnly bool) float64 {
	f := s.f
	w := 0.0
	if !dynOnly {
		for n := range f.Nodes {
			if f.SiteOfNode(n) == si && s.NodeState(n) != Down {
				w += math.Round(f.NodeModel(n).IdleW(f.NodeAccelerator(n)))
			}
		}
	}
	for _, id := range s.Running() {
		a, _ := s.Alloc(id)
		for _, sl := range a.Slots {
			if f.SiteOfNode(int(sl.Node)) != si {
				continue
			}
			per := float64(jobDraw(f, int(sl.Node), &a.Job))
			if a.CapW > 0 {
				acc := f.NodeAccelerator(int(sl.Node))
				per -= min(per, max(a.Job.powerFraction()*acc.TDPW-a.CapW, 0))
			}
			w += per * float64(bits.OnesCount64(sl.Mask))
		}
	}
	return w * f.Sites[si].PUE
}

func scopeFacility(s *Snapshot, ev *GridEvent) float64 {
	w := 0.0
	for _, si := range ev.Sites {
		w += gridFacility(s, si, false)
	}
	return w
}

// flexibleIn reports whether a flexible job runs in the scope.
func flexibleIn(s *Snapshot, ev *GridEvent) bool {
	for _, id := range s.Running() {
		a, _ := s.Alloc(id)
		for _, si := range ev.Sites {
			if int(a.Site) == si && a.Job.IsFlexible() {
				return true
			}
		}
	}
	return false
}

// keptOut reports whether an event keeps job j out of its scope at now,
// as its notice and kind say (mandatory events only: a voluntary one
// weighs a price the test does not redo).
func keptOut(ev *GridEvent, j *Job, now time.Time) bool {
	if !j.IsFlexible() || ev.Kind != Mandatory || now.Before(ev.Announced()) || !now.Before(ev.End) {
		return false
	}
	return !now.Before(ev.Start) || j.Duration == 0 || now.Add(j.Duration).After(ev.Start)
}

type gridSample struct {
	at time.Time
	w  float64
}

// gridOp is one driver call of a grid scenario, drawn up front so that a
// scenario can be played twice.
type gridOp struct {
	kind   int
	job    Job
	pick   int
	adv    time.Duration
	cancel bool
	ev     GridEvent
	frac   float64 // the event's target, a fraction of its scope's draw then
	state  NodeState
}

type gridScenario struct {
	queue          string
	preempt, naive bool
	ops            []gridOp
}

func drawGridScenario(t *rapid.T, f *fleet.Fleet) gridScenario {
	sc := gridScenario{naive: rapid.IntRange(0, 4).Draw(t, "naive") == 0,
		queue:   rapid.SampledFrom([]string{"priority", "backfill", "fair"}).Draw(t, "queue"),
		preempt: rapid.Bool().Draw(t, "preemption")}
	sites := []string{"", "", "home", "away"}
	for i := range rapid.IntRange(1, 60).Draw(t, "steps") {
		o := gridOp{kind: rapid.IntRange(0, 10).Draw(t, "op")}
		switch {
		case o.kind <= 2:
			kind := Kind(rapid.IntRange(0, 2).Draw(t, "kind"))
			j := Job{ID: JobID(i + 1), Tenant: "t", Kind: kind, Priority: rapid.IntRange(0, 3).Draw(t, "prio"),
				Accelerators:    rapid.SampledFrom([]int{1, 2, 4, 8, 16, 32}).Draw(t, "n"),
				Site:            rapid.SampledFrom(sites).Draw(t, "site"),
				Duration:        time.Duration(rapid.IntRange(0, 120).Draw(t, "dur")) * time.Minute,
				CheckpointEvery: time.Duration(rapid.IntRange(0, 30).Draw(t, "ckpt")) * time.Minute,
				PowerFraction:   rapid.SampledFrom([]float64{0, 0.5, 0.8}).Draw(t, "power"),
				Preemptible:     rapid.Bool().Draw(t, "preemptible")}
			if kind == Inference {
				j.Priority += 6
			}
			if rapid.IntRange(0, 5).Draw(t, "flexset") == 0 {
				fl := rapid.Bool().Draw(t, "flexible")
				j.Flexible = &fl
			}
			o.job = j
		case o.kind == 5:
			// mostly within a ramp's minute, now and then across an event
			o.adv = time.Duration(rapid.SampledFrom([]int{5, 10, 20, 30, 45, 60, 300, 1200, 2400}).Draw(t, "advance")) * time.Second
		case o.kind == 6:
			o.pick = rapid.IntRange(0, 1000).Draw(t, "complete")
		case o.kind == 9:
			o.cancel = rapid.IntRange(0, 3).Draw(t, "cancel") == 0
			for si := range f.Sites {
				if rapid.Bool().Draw(t, "in") {
					o.ev.Sites = append(o.ev.Sites, si)
				}
			}
			if len(o.ev.Sites) == 0 {
				o.ev.Sites = []int{0}
			}
			o.ev.Start = time.Time{}.Add(time.Duration(rapid.IntRange(-10, 60).Draw(t, "start")) * time.Minute)
			o.ev.End = o.ev.Start.Add(time.Duration(rapid.IntRange(10, 120).Draw(t, "duration")) * time.Minute)
			o.ev.Notice = time.Duration(rapid.IntRange(0, 30).Draw(t, "notice")) * time.Minute
			o.ev.Kind = GridKind(rapid.IntRange(0, 4).Draw(t, "kind") / 4)
			o.ev.PriceUSDPerMWh = float64(rapid.IntRange(0, 3000).Draw(t, "price"))
			o.frac = float64(rapid.IntRange(30, 100).Draw(t, "target")) / 100
		case o.kind == 10:
			o.pick = rapid.IntRange(0, len(f.Nodes)-1).Draw(t, "node")
			o.state = NodeState(rapid.IntRange(0, 2).Draw(t, "state"))
		}
		sc.ops = append(sc.ops, o)
	}
	return sc
}

// run plays the scenario on a fresh engine and snapshot of f, checking
// the grid properties and the invariants after every call, and returns a
// log of every decision.
func (sc gridScenario) run(t *rapid.T, f *fleet.Fleet) string {
	naive := sc.naive
	e, err := New(Config{Queue: sc.queue, Preemption: sc.preempt, Grid: GridConfig{Naive: naive}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSnapshot(f)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	var evs []GridEvent
	var log strings.Builder
	made := 0 // events made, for their IDs
	ramps := map[int][]gridSample{}
	for si := range f.Sites {
		if f.Sites[si].RampMWPerMin > 0 {
			ramps[si] = nil
		}
	}
	sample := func() {
		for si := range ramps {
			w := gridFacility(s, si, true)
			limit := f.Sites[si].RampMWPerMin * 1e6
			for _, p := range ramps[si] {
				if now.Sub(p.at) < RampWindow && w-p.w > limit+1e-6 {
					t.Fatalf("%s rose %.0f W from %s to %s: more than its ramp of %.0f W a minute",
						f.Sites[si].Name, w-p.w, p.at.Format(time.TimeOnly), now.Format(time.TimeOnly), limit)
				}
			}
			// keep the last minute
			k := 0
			for k < len(ramps[si]) && now.Sub(ramps[si][k].at) >= RampWindow {
				k++
			}
			ramps[si] = append(ramps[si][k:], gridSample{now, w})
		}
	}
	for _, o := range sc.ops {
		switch {
		case o.kind <= 2:
			if err := e.Submit(o.job, now); err != nil {
				t.Fatal(err)
			}
		case o.kind <= 4:
			before := make([]float64, len(evs))
			for i := range evs {
				before[i] = scopeFacility(s, &evs[i])
			}
			res := e.Schedule(s, now)
			for _, d := range res.Decisions {
				fmt.Fprintf(&log, "%v %d %d %s\n", d.Action, d.Job, d.Site, d.Reason)
			}
			// only flexible work is kept out of a scope
			for _, w := range res.Waiting {
				if p, ok := e.Pending(w.Job); ok && w.Reason.Code == Grid && !p.Job.IsFlexible() {
					t.Fatalf("protected job %d waits for a grid event", w.Job)
				}
			}
			for i := range evs {
				ev := &evs[i]
				after := scopeFacility(s, ev)
				// what the pass started in the scope that the event does
				// not keep out
				free := 0.0
				for _, d := range res.Decisions {
					if d.Action != Place {
						continue
					}
					a, _ := s.Alloc(d.Job)
					if inSites(ev, int(a.Site)) && !keptOut(ev, &a.Job, now) {
						free += f.Sites[a.Site].PUE * float64(a.accelerators()) * float64(a.DrawW)
					}
				}
				aim := ev.TargetW * (1 - e.cfg.Grid.Margin)
				if ev.Kind == Mandatory && !now.Before(ev.Announced()) && now.Before(ev.End) && after-free > max(aim, before[i])+1e-6 {
					t.Fatalf("event %s: the pass took its scope from %.0f W to %.0f W (%.0f W of it not kept out), over its aim %.0f W",
						ev.ID, before[i], after, free, aim)
				}
			}
		case o.kind == 5:
			now = now.Add(o.adv)
		case o.kind == 6:
			if ids := s.Running(); len(ids) > 0 {
				s.Release(ids[o.pick%len(ids)], now)
			}
		case o.kind == 7 || o.kind == 8:
			ds := e.Control(s, now)
			for _, d := range ds {
				fmt.Fprintf(&log, "%v %d %.0f %s\n", d.Action, d.Job, d.CapW, d.Reason)
			}
			for i := range evs {
				ev := &evs[i]
				if ev.Kind != Mandatory || !ev.active(now) {
					continue
				}
				w := scopeFacility(s, ev)
				if w > ev.TargetW+1e-6 && (flexibleIn(s, ev) || naive && anyIn(s, ev)) {
					t.Fatalf("event %s after control: scope at %.0f W, over its target %.0f W, with work left to shed", ev.ID, w, ev.TargetW)
				}
			}
			if !naive {
				checkProtected(t, s, e, evs, ds, now)
			}
		case o.kind == 9:
			if len(evs) > 0 && o.cancel {
				evs = append(evs[:0:0], evs[1:]...)
			} else if len(evs) < 3 {
				ev := o.ev
				ev.ID = fmt.Sprintf("e%d", made)
				made++
				ev.Sites = append([]int(nil), ev.Sites...)
				ev.Start = now.Add(ev.Start.Sub(time.Time{}))
				ev.End = now.Add(ev.End.Sub(time.Time{}))
				ev.TargetW = o.frac * scopeFacility(s, &ev)
				evs = append(evs, ev)
			}
			if err := e.SetGridEvents(s, evs); err != nil {
				t.Fatal(err)
			}
		case o.kind == 10:
			if o.state == Down {
				e.FailNode(s, o.pick, now)
			} else {
				s.SetNodeState(o.pick, o.state)
			}
		}
		sample()
		checkInvariants(t, s, e, nil)
		checkSiteJobs(t, s)
	}
	return log.String()
}

// checkSiteJobs: once kept, each site's list of running jobs holds
// exactly the running jobs of that site, each at its recorded place.
func checkSiteJobs(t *rapid.T, s *Snapshot) {
	if !s.bySite {
		return
	}
	n := 0
	for si, as := range s.siteAllocs {
		for i, a := range as {
			if b, ok := s.Alloc(a.Job.ID); !ok || b != a || int(a.Site) != si || int(a.siteIdx) != i {
				t.Fatalf("site %d's list holds job %d wrongly", si, a.Job.ID)
			}
		}
		n += len(as)
	}
	if n != s.Jobs() {
		t.Fatalf("the sites' lists hold %d jobs, %d run", n, s.Jobs())
	}
}

// checkProtected: Control stopped no protected job for the grid, and
// capped one only where no flexible job runs in the scope.
func checkProtected(t *rapid.T, s *Snapshot, e *Engine, evs []GridEvent, ds []Decision, now time.Time) {
	for _, d := range ds {
		if d.Reason.Code != GridShed && d.Reason.Code != GridMove {
			continue
		}
		var j *Job
		if a, ok := s.Alloc(d.Job); ok {
			j = &a.Job
		} else if p, ok := e.Pending(d.Job); ok {
			j = &p.Job
		}
		if j == nil || j.IsFlexible() {
			continue
		}
		if d.Action == Preempt {
			t.Fatalf("protected job %d stopped for the grid", d.Job)
		}
		clear := false
		for i := range evs {
			if ev := &evs[i]; ev.active(now) && inSites(ev, int(d.Site)) && !flexibleIn(s, ev) {
				clear = true
			}
		}
		if !clear {
			t.Fatalf("protected job %d capped for the grid while a flexible job runs in the scope", d.Job)
		}
	}
}

func inSites(ev *GridEvent, si int) bool {
	for _, x := range ev.Sites {
		if x == si {
			return true
		}
	}
	return false
}

func anyIn(s *Snapshot, ev *GridEvent) bool {
	for _, id := range s.Running() {
		if a, _ := s.Alloc(id); inSites(ev, int(a.Site)) {
			return true
		}
	}
	return false
}

func TestGridProperties(t *testing.T) {
	f := loadTestdata(t, "grid-prop.yaml")
	rapid.Check(t, func(t *rapid.T) { drawGridScenario(t, f).run(t, f) })
}

// TestGridDeterminism plays the same calls twice and wants the same
// decisions, grid events and ramps included.
func TestGridDeterminism(t *testing.T) {
	f := loadTestdata(t, "grid-prop.yaml")
	rapid.Check(t, func(t *rapid.T) {
		sc := drawGridScenario(t, f)
		if a, b := sc.run(t, f), sc.run(t, f); a != b {
			t.Fatalf("two runs of the same calls differ:\n%s\n---\n%s", a, b)
		}
	})
}

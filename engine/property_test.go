package engine

import (
	"fmt"
	"math/bits"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"stargate/fleet"
)

// model is the test's own record of what it told the engine, to check
// the engine's state against.
type model struct {
	submitted map[JobID]bool
	done      map[JobID]bool // completed or cancelled
}

// op is one driver call; its fields are drawn up front so that a run can
// be replayed exactly.
type op struct {
	kind  int
	job   Job
	pick  int // which running job to complete, or node to change
	state NodeState
	adv   time.Duration
	level fleet.Level
	watts int64
}

type scenario struct {
	queue, sites string
	preempt      bool
	ops          []op
}

func drawScenario(t *rapid.T, f *fleet.Fleet) scenario {
	return drawScenarioOf(t, f, []string{"", "", "h100", "gb200"}, []int{1, 2, 3, 4, 8, 12, 16, 24, 32, 48, 64, 200})
}

// drawScenarioOf draws a scenario whose jobs ask for the models and sizes
// given.
func drawScenarioOf(t *rapid.T, f *fleet.Fleet, models []string, sizes []int) scenario {
	sc := scenario{
		queue:   rapid.SampledFrom([]string{"fifo", "priority", "fair", "backfill", "las"}).Draw(t, "queue"),
		sites:   rapid.SampledFrom([]string{"pack", "capacity", "price", "carbon"}).Draw(t, "sites"),
		preempt: rapid.Bool().Draw(t, "preemption"),
	}
	steps := rapid.IntRange(1, 80).Draw(t, "steps")
	for i := range steps {
		o := op{kind: rapid.IntRange(0, 9).Draw(t, "op")}
		switch {
		case o.kind <= 3:
			o.job = drawJob(t, JobID(i+1), models, sizes)
		case o.kind == 6:
			o.adv = time.Duration(rapid.IntRange(1, 90).Draw(t, "advance")) * time.Minute
		case o.kind == 7:
			o.pick = rapid.IntRange(0, 1000).Draw(t, "complete")
		case o.kind == 8:
			o.pick = rapid.IntRange(0, len(f.Nodes)-1).Draw(t, "node")
			o.state = NodeState(rapid.IntRange(0, 2).Draw(t, "state"))
		case o.kind == 9:
			o.level = fleet.Level(rapid.IntRange(0, 3).Draw(t, "level"))
			o.pick = rapid.IntRange(0, len(f.Domains(o.level))-1).Draw(t, "dom")
			o.watts = int64(rapid.IntRange(0, 2_000_000).Draw(t, "watts"))
		}
		sc.ops = append(sc.ops, o)
	}
	return sc
}

// run plays a scenario against a fresh engine and snapshot on f, checking
// the invariants after each call, and returns a log of every decision.
// drawJob draws a job of the models and sizes given.
func drawJob(t *rapid.T, id JobID, models []string, sizes []int) Job {
	j := Job{
		ID:               id,
		Tenant:           rapid.SampledFrom([]string{"a", "b", "q"}).Draw(t, "tenant"),
		Priority:         rapid.IntRange(0, 3).Draw(t, "prio"),
		Accelerators:     rapid.SampledFrom(sizes).Draw(t, "n"),
		Topology:         Topology(rapid.IntRange(0, int(TopologySite)).Draw(t, "topo")),
		TopologyRequired: rapid.Bool().Draw(t, "required"),
		Duration:         time.Duration(rapid.IntRange(0, 120).Draw(t, "dur")) * time.Minute,
		CheckpointEvery:  time.Duration(rapid.IntRange(0, 30).Draw(t, "ckpt")) * time.Minute,
		PowerFraction:    rapid.SampledFrom([]float64{0, 0.3, 0.7, 1}).Draw(t, "power"),
		Preemptible:      rapid.Bool().Draw(t, "preemptible"),
		Model:            rapid.SampledFrom(models).Draw(t, "model"),
	}
	if rapid.IntRange(0, 4).Draw(t, "shaped") == 0 {
		j.PerNode = 4
		j.Accelerators = (j.Accelerators + 3) / 4 * 4
	}
	return j
}

func (sc scenario) run(t *rapid.T, f *fleet.Fleet) string {
	e, err := New(Config{Queue: sc.queue, Sites: sc.sites, Preemption: sc.preempt, Tenants: map[string]Tenant{"q": {Quota: 16}}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSnapshot(f)
	if err != nil {
		t.Fatal(err)
	}
	m := &model{submitted: map[JobID]bool{}, done: map[JobID]bool{}}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var log strings.Builder
	for _, o := range sc.ops {
		switch {
		case o.kind <= 3:
			if err := e.Submit(o.job, now); err != nil {
				t.Fatalf("submit %+v: %v", o.job, err)
			}
			m.submitted[o.job.ID] = true
		case o.kind <= 5:
			res := e.Schedule(s, now)
			for _, d := range res.Decisions {
				fmt.Fprintf(&log, "%v %d %d %v %s\n", d.Action, d.Job, d.Site, d.Slots, d.Reason)
				if d.Action == Place {
					a, ok := s.Alloc(d.Job)
					if !ok {
						t.Fatalf("placed job %d is not running", d.Job)
					}
					checkTopology(t, s, a)
				}
			}
			for _, w := range res.Waiting {
				fmt.Fprintf(&log, "wait %d %s\n", w.Job, w.Reason)
				if w.Reason.Code == Fragmented {
					checkNotFragmented(t, s, e, w.Job)
				}
			}
			checkPower(t, s)
			checkLive(t, s, e, &res)
		case o.kind == 6:
			now = now.Add(o.adv)
		case o.kind == 7:
			if ids := s.Running(); len(ids) > 0 {
				id := ids[o.pick%len(ids)]
				s.Release(id, now)
				m.done[id] = true
			} else if q := e.Queue(); len(q) > 0 {
				id := q[o.pick%len(q)].Job.ID
				if !e.Cancel(id) {
					t.Fatalf("cancel %d failed", id)
				}
				m.done[id] = true
			}
		case o.kind == 8:
			if o.state == Down {
				fmt.Fprintf(&log, "fail %d: %v\n", o.pick, e.FailNode(s, o.pick, now))
			} else {
				s.SetNodeState(o.pick, o.state)
			}
		case o.kind == 9:
			for _, d := range e.Control(s, now) {
				fmt.Fprintf(&log, "%v %d %.0f %s\n", d.Action, d.Job, d.CapW, d.Reason)
			}
			s.SetMeasured(o.level, o.pick, o.watts)
		}
		checkInvariants(t, s, e, m)
	}
	return log.String()
}

// checkInvariants: no accelerator allocated twice, every gang whole, the
// indexes and the draw of every domain equal a recount from the
// allocations, and every job in exactly one state (when m is given).
func checkInvariants(t fatalf, s *Snapshot, e *Engine, m *model) {
	f := s.f
	owner := make([]JobID, f.Accelerators)
	for _, id := range s.Running() {
		a, _ := s.Alloc(id)
		n := 0
		for _, sl := range a.Slots {
			first := f.Nodes[sl.Node].FirstAccel
			for b := sl.Mask; b != 0; b &= b - 1 {
				i := first + int32(bits.TrailingZeros64(b))
				if owner[i] != 0 {
					t.Fatalf("accelerator %d held by jobs %d and %d", i, owner[i], id)
				}
				owner[i] = id
				n++
			}
			if a.Job.PerNode > 0 && bits.OnesCount64(sl.Mask) != a.Job.PerNode {
				t.Fatalf("job %d: %d accelerators on node %d, want per-node %d", id, bits.OnesCount64(sl.Mask), sl.Node, a.Job.PerNode)
			}
		}
		if n != a.Job.Accelerators {
			t.Fatalf("job %d holds %d accelerators, wants %d: a gang is all or nothing", id, n, a.Job.Accelerators)
		}
	}
	for i := range owner {
		if s.Owner(i) != owner[i] {
			t.Fatalf("accelerator %d: index says job %d, allocations say %d", i, s.Owner(i), owner[i])
		}
	}
	// free counts and draw, recounted
	for pi, p := range s.pools {
		var free int32
		lv := [fleet.LevelNode + 1][]int32{}
		for l := fleet.LevelHall; l <= fleet.LevelNode; l++ {
			lv[l] = make([]int32, len(p.lv[l].at))
		}
		for n := range f.Nodes {
			if s.nodePool[n] != int32(pi) || s.node[n].state != Up {
				continue
			}
			c := int32(bits.OnesCount64(s.nodeFreeMask(p, int32(n))))
			free += c
			path := f.Path(n)
			for l := fleet.LevelHall; l <= fleet.LevelNode; l++ {
				lv[l][path[l]-p.off[l]] += c
			}
		}
		if free != p.free {
			t.Fatalf("pool %d: free %d, recount %d", pi, p.free, free)
		}
		// scale-up groups of racks, recounted from the fleet's own list
		if p.grp != nil {
			grp := map[int]int32{}
			for n := range f.Nodes {
				if s.nodePool[n] == int32(pi) && s.node[n].state == Up {
					grp[f.ScaleUpOf(n)] += int32(bits.OnesCount64(s.nodeFreeMask(p, int32(n))))
				}
			}
			for g, su := range p.groups {
				b := p.grp
				if c := grp[int(su)]; b.at[g].free != c {
					t.Fatalf("pool %d %s: free %d, recount %d", pi, f.ScaleUpPath(int(su)), b.at[g].free, c)
				} else if !inBucket(b, int32(g), c) {
					t.Fatalf("pool %d %s: not in bucket %d", pi, f.ScaleUpPath(int(su)), c)
				}
			}
		}
		for l := fleet.LevelHall; l <= fleet.LevelNode; l++ {
			for i, c := range lv[l] {
				b := p.lv[l]
				if b.at[i].free != c {
					t.Fatalf("pool %d level %d domain %d: free %d, recount %d", pi, l, i, b.at[i].free, c)
				}
				if !inBucket(b, int32(i), c) {
					t.Fatalf("pool %d level %d domain %d: not in bucket %d", pi, l, i, c)
				}
			}
		}
	}
	// the pools' heaps hold exactly their running jobs, in heap order
	for pi, p := range s.pools {
		ends, pre := 0, 0
		for _, id := range s.Running() {
			a, _ := s.Alloc(id)
			if a.pool != int32(pi) {
				continue
			}
			if a.Job.Duration > 0 {
				ends++
				if i := p.ends.index(a); i < 0 || p.ends.items[i] != a {
					t.Fatalf("job %d missing from its pool's ends heap", id)
				}
			}
			if a.Job.Preemptible && s.byStart {
				pre++
				if i := p.preemptible.index(a); i < 0 || p.preemptible.items[i] != a {
					t.Fatalf("job %d missing from its pool's preemptible heap", id)
				}
			}
		}
		for _, h := range []*allocHeap{&p.ends, &p.preemptible} {
			for i := 1; i < len(h.items); i++ {
				if h.less(i, (i-1)/allocArity) {
					t.Fatalf("pool %d: heap order broken at %d", pi, i)
				}
			}
		}
		if ends != p.ends.len() || pre != p.preemptible.len() {
			t.Fatalf("pool %d: heaps hold %d and %d jobs, want %d and %d", pi, p.ends.len(), p.preemptible.len(), ends, pre)
		}
		// walk visits in key order
		last := int64(-1 << 63)
		p.ends.walk(func(a *Alloc) bool {
			if a.endKey < last {
				t.Fatalf("pool %d: walk out of order", pi)
			}
			last = a.endKey
			return true
		})
	}
	checkDraw(t, s, recount(t, s))
	if m == nil {
		return
	}
	// each job in exactly one state
	for id := range m.submitted {
		_, pending := e.Pending(id)
		_, running := s.Alloc(id)
		states := 0
		for _, b := range []bool{pending, running, m.done[id]} {
			if b {
				states++
			}
		}
		if states != 1 {
			t.Fatalf("job %d: pending=%v running=%v done=%v", id, pending, running, m.done[id])
		}
	}
}

// checkNotFragmented: a job with no topology requirement and no per-node
// shape is never refused as fragmented: any free accelerators of a pool
// will do, so a refusal is for count or power.
func checkNotFragmented(t *rapid.T, s *Snapshot, e *Engine, id JobID) {
	p, ok := e.Pending(id)
	if !ok {
		t.Fatalf("waiting job %d is not pending", id)
	}
	if !p.Job.TopologyRequired && p.Job.PerNode == 0 && !mayTakeSlices(s.f, &p.Job) {
		t.Fatalf("job %d (%d accelerators, any topology) refused as fragmented", id, p.Job.Accelerators)
	}
}

// mayTakeSlices reports whether j may run on a model that hands out
// slices: there a slice keeps to its shape's domain whatever the job asks.
func mayTakeSlices(f *fleet.Fleet, j *Job) bool {
	for n := range f.Nodes {
		if len(f.NodeModel(n).SliceShapes) > 0 && eligibleNode(f, n, j) {
			return true
		}
	}
	return false
}

// checkPower: after admission no level's expected draw is over its limit.
func checkPower(t *rapid.T, s *Snapshot) {
	for l := fleet.LevelSite; l <= fleet.LevelRack; l++ {
		for d := range s.draw[l] {
			if s.draw[l][d] > s.limit[l][d] {
				t.Fatalf("%s %s: draw %d W over limit %d W", l, s.DomainName(l, int32(d)), s.draw[l][d], s.limit[l][d])
			}
		}
	}
}

// checkTopology: a job that requires a level is within one domain of it
// (for the NVLink domain, its model's: the node, the rack or the scale-up
// group of racks); a job on a model that hands out slices has a size one
// of its shapes allows and keeps to the slice's bounds. Both are judged
// from the fleet and the catalog, not from the engine's pools.
func checkTopology(t *rapid.T, s *Snapshot, a *Alloc) {
	f := s.f
	first := int(a.Slots[0].Node)
	m := f.NodeModel(first)
	// same reports whether every slot's domain (by key) is the first's
	same := func(key func(n int) int) bool {
		for _, sl := range a.Slots {
			if key(int(sl.Node)) != key(first) {
				return false
			}
		}
		return true
	}
	at := func(l fleet.Level) func(int) int { return func(n int) int { return int(f.Path(n)[l]) } }
	if a.Job.TopologyRequired {
		var key func(int) int
		switch a.Job.Topology {
		case TopologyNode:
			key = at(fleet.LevelNode)
		case TopologyNVLink:
			switch {
			case m.NVLinkDomain == fleet.DomainRack:
				key = at(fleet.LevelRack)
			case m.SpansRacks():
				key = f.ScaleUpOf
			default:
				key = at(fleet.LevelNode)
			}
		case TopologyRack:
			key = at(fleet.LevelRack)
		case TopologyRow:
			key = at(fleet.LevelRow)
		case TopologyHall:
			key = at(fleet.LevelHall)
		default:
			key = at(fleet.LevelSite)
		}
		if !same(key) {
			t.Fatalf("job %d requires %s but spans domains", a.Job.ID, a.Job.Topology)
		}
	}
	if len(m.SliceShapes) == 0 {
		return
	}
	k := a.Job.Accelerators
	if _, ok := m.SliceShape(k); !ok {
		t.Fatalf("job %d of %d accelerators placed on %s, whose slices are %v", a.Job.ID, k, m.Name, m.SliceShapes)
	}
	// the largest rack of the model in the site: a cube
	cube := 0
	for k := range f.Racks {
		n := 0
		for x := f.Racks[k].First; x < f.Racks[k].End; x++ {
			if f.Nodes[x].Model == f.Nodes[first].Model && f.SiteOfNode(int(x)) == f.SiteOfNode(first) {
				n += m.Accelerators
			}
		}
		cube = max(cube, n)
	}
	held := map[int]int{} // rack → accelerators held there
	for _, sl := range a.Slots {
		c := bits.OnesCount64(sl.Mask)
		if k > m.Accelerators && k%m.Accelerators == 0 && a.Job.PerNode == 0 && c != m.Accelerators {
			t.Fatalf("slice job %d takes %d of a %d-accelerator host", a.Job.ID, c, m.Accelerators)
		}
		held[int(f.Nodes[sl.Node].Rack)] += c
	}
	switch {
	case k <= m.Accelerators && !same(at(fleet.LevelNode)):
		t.Fatalf("slice job %d of %d spans hosts", a.Job.ID, k)
	case k <= cube && !same(at(fleet.LevelRack)):
		t.Fatalf("slice job %d of %d spans cubes (racks of %d)", a.Job.ID, k, cube)
	case k > cube && !same(f.ScaleUpOf):
		t.Fatalf("slice job %d of %d spans pods", a.Job.ID, k)
	}
	if k > cube && k%cube == 0 && a.Job.PerNode == 0 {
		for rack, c := range held {
			if c != cube {
				t.Fatalf("slice job %d of %d takes %d of rack %d, not a whole cube of %d", a.Job.ID, k, c, rack, cube)
			}
		}
	}
}

func TestPropertiesTiny(t *testing.T) {
	f := loadTestdata(t, "tiny.yaml")
	rapid.Check(t, func(t *rapid.T) { drawScenario(t, f).run(t, f) })
}

// TestPropertiesScaleUp runs the invariants and the reference placer on a
// fleet with CloudMatrix supernodes, a Trn2 UltraServer row and TPU v6e
// pods, with jobs of sizes that are slices and sizes that are not.
func TestPropertiesScaleUp(t *testing.T) {
	f := loadTestdata(t, "scaleup.yaml")
	models := []string{"", "ascend-910c", "tpu-v6e", "trainium2", "h100"}
	sizes := []int{1, 3, 4, 8, 12, 16, 32, 48, 64, 96, 128, 256, 384}
	rapid.Check(t, func(t *rapid.T) { drawScenarioOf(t, f, models, sizes).run(t, f) })
}

func TestPropertiesMulti(t *testing.T) {
	f := loadTestdata(t, "multi.yaml")
	rapid.Check(t, func(t *rapid.T) { drawScenario(t, f).run(t, f) })
}

// TestDeterminism plays the same calls twice on fresh engines and wants
// the same decisions.
func TestDeterminism(t *testing.T) {
	f := loadTestdata(t, "multi.yaml")
	rapid.Check(t, func(t *rapid.T) {
		sc := drawScenario(t, f)
		a, b := sc.run(t, f), sc.run(t, f)
		if a != b {
			t.Fatalf("two runs of the same calls differ:\n%s\n---\n%s", a, b)
		}
	})
}

package engine

import (
	"fmt"
	"math"
	"math/bits"
	"sort"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"stargate/fleet"
)

// The oracles below judge the engine from outside: they recount the
// fleet's state from the running allocations and the catalog, never from
// the engine's indexes, and place jobs with a plain greedy placer that is
// obviously correct (every accelerator it takes is free, and every
// breaker above it stays within its limit), if not clever. A placement
// the reference placer finds is a witness: a job the engine refused for
// capacity, fragmentation or power could have started.

// fatalf is what the checks need of *testing.T and *rapid.T.
type fatalf interface {
	Fatalf(format string, args ...any)
}

// world is the fleet's state recounted from the snapshot's allocations.
type world struct {
	f     *fleet.Fleet
	state []NodeState
	used  []uint64 // allocated accelerators of each node
	draw  [4][]int64
	limit [4][]int64
}

// jobDraw is a job's expected draw above idle per accelerator of node n,
// from the catalog: its power fraction of the accelerator's and the node
// overhead's rating, less their idle draw, rounded up.
func jobDraw(f *fleet.Fleet, n int, j *Job) int64 {
	m := f.NodeModel(n)
	a := f.NodeAccelerator(n)
	frac := j.PowerFraction
	if frac == 0 {
		frac = 1
	}
	per := float64(m.Accelerators)
	w := frac*(a.TDPW+m.OverheadW/per) - (a.IdleW + m.OverheadIdleW/per)
	if w < 0 {
		return 0
	}
	return int64(math.Ceil(w))
}

// recount rebuilds the world from s's running jobs and node states.
func recount(t fatalf, s *Snapshot) *world {
	f := s.f
	w := &world{f: f, state: make([]NodeState, len(f.Nodes)), used: make([]uint64, len(f.Nodes))}
	for l := range 4 {
		w.draw[l] = make([]int64, len(f.Domains(fleet.Level(l))))
		w.limit[l] = make([]int64, len(w.draw[l]))
	}
	for i := range f.Sites {
		st := &f.Sites[i]
		w.limit[fleet.LevelSite][i] = int64(float64(st.LimitW) / st.PUE * st.Oversubscription)
	}
	for _, l := range []fleet.Level{fleet.LevelHall, fleet.LevelRow, fleet.LevelRack} {
		for d, dom := range f.Domains(l) {
			var site int32
			switch l {
			case fleet.LevelHall:
				site = f.Halls[d].Parent
			case fleet.LevelRow:
				site = f.Halls[f.Rows[d].Parent].Parent
			case fleet.LevelRack:
				site = f.Halls[f.Rows[f.Racks[d].Parent].Parent].Parent
			}
			w.limit[l][d] = int64(float64(dom.LimitW) * f.Sites[site].Oversubscription)
		}
	}
	for n := range f.Nodes {
		w.state[n] = s.NodeState(n)
		idle := int64(math.Round(f.NodeModel(n).IdleW(f.NodeAccelerator(n))))
		w.add(n, 1, idle)
	}
	for _, id := range s.Running() {
		a, _ := s.Alloc(id)
		for _, sl := range a.Slots {
			if want := jobDraw(f, int(sl.Node), &a.Job); a.DrawW != want {
				t.Fatalf("job %d admitted at %d W per accelerator; the catalog says %d W", id, a.DrawW, want)
			}
			w.used[sl.Node] |= sl.Mask
			w.add(int(sl.Node), int64(bits.OnesCount64(sl.Mask)), a.DrawW)
		}
	}
	return w
}

func (w *world) add(n int, c, each int64) {
	path := w.f.Path(n)
	for l := fleet.LevelSite; l <= fleet.LevelRack; l++ {
		w.draw[l][path[l]] += c * each
	}
}

// fits reports whether c more accelerators drawing each fit node n's path.
func (w *world) fits(n int, c, each int64) bool {
	path := w.f.Path(n)
	for l := fleet.LevelSite; l <= fleet.LevelRack; l++ {
		if w.draw[l][path[l]]+c*each > w.limit[l][path[l]] {
			return false
		}
	}
	return true
}

// checkDraw: the snapshot's expected draw and limit of every domain equal
// the recount.
func checkDraw(t fatalf, s *Snapshot, w *world) {
	for l := fleet.LevelSite; l <= fleet.LevelRack; l++ {
		for d := range w.draw[l] {
			if s.Draw(l, d) != w.draw[l][d] || s.Limit(l, d) != w.limit[l][d] {
				t.Fatalf("%s %s: draw %d W limit %d W; recounted from allocations: %d W, %d W",
					l, s.DomainName(l, int32(d)), s.Draw(l, d), s.Limit(l, d), w.draw[l][d], w.limit[l][d])
			}
		}
	}
}

// refDomain is the domain of node n that a job's required topology
// confines it to, as a key: the node, the rack, the row, the hall, or the
// model's scale-up domain (the node, the rack or the group of racks that
// fleet.ScaleUpOf names); the site (0) when nothing is required.
func refDomain(f *fleet.Fleet, n int, j *Job) int {
	at := func(l fleet.Level) int { return int(f.Path(n)[l]) }
	if !j.TopologyRequired {
		return 0
	}
	switch j.Topology {
	case TopologyNode:
		return at(fleet.LevelNode)
	case TopologyNVLink:
		switch m := f.NodeModel(n); {
		case m.NVLinkDomain == fleet.DomainRack:
			return at(fleet.LevelRack)
		case m.SpansRacks():
			return f.ScaleUpOf(n)
		}
		return at(fleet.LevelNode)
	case TopologyRack:
		return at(fleet.LevelRack)
	case TopologyRow:
		return at(fleet.LevelRow)
	case TopologyHall:
		return at(fleet.LevelHall)
	}
	return 0
}

// sliceOf is what a slice of j's size may take on node n's model, from the
// catalog's shapes and the fleet's racks: ok is false when the size is no
// shape of the model (it never runs there); dom is the domain it must stay
// in (the host up to a host's size, the rack, a cube, up to the largest
// rack of the model in the site, else the pod); host and cube are the
// whole units it takes (0: any part). A model without shapes takes
// anything: dom 0, no units.
func sliceOf(f *fleet.Fleet, n int, j *Job) (dom, host, cube int, ok bool) {
	m := f.NodeModel(n)
	if len(m.SliceShapes) == 0 {
		return 0, 0, 0, true
	}
	k := j.Accelerators
	if _, ok := m.SliceShape(k); !ok {
		return 0, 0, 0, false
	}
	largest := 0
	site := f.SiteOfNode(n)
	for r := range f.Racks {
		c := 0
		for x := f.Racks[r].First; x < f.Racks[r].End; x++ {
			if f.Nodes[x].Model == f.Nodes[n].Model && f.SiteOfNode(int(x)) == site {
				c += m.Accelerators
			}
		}
		largest = max(largest, c)
	}
	if k > m.Accelerators && k%m.Accelerators == 0 && j.PerNode == 0 {
		host = m.Accelerators
	}
	switch {
	case k <= m.Accelerators:
		return n, 0, 0, true
	case k <= largest:
		return int(f.Nodes[n].Rack), host, 0, true
	}
	if k%largest == 0 && j.PerNode == 0 {
		cube = largest
	}
	return f.ScaleUpOf(n), host, cube, true
}

// eligibleNode reports whether j may run on node n: its model, site and
// region.
func eligibleNode(f *fleet.Fleet, n int, j *Job) bool {
	if j.Model != "" {
		m := f.Nodes[n].Model
		if f.Catalog.Node(j.Model) != int(m) && f.Catalog.Accelerator(j.Model) != f.Catalog.NodeAccelerator(int(m)) {
			return false
		}
	}
	st := &f.Sites[f.SiteOfNode(n)]
	if j.Site != "" && st.Name != j.Site {
		return false
	}
	return j.Region == "" || f.Regions[st.Region].Name == j.Region
}

// place is the reference placer: for every group of eligible nodes that
// the job may span (one node model in one domain of its required level),
// it takes free accelerators node by node, in index order and then most
// free first, as long as every breaker above stays within its limit. It
// returns a witness placement or nil. It does not change the world.
func (w *world) place(j *Job) []Slot {
	f := w.f
	// (site, node model, required domain, slice domain) → nodes
	groups := map[[4]int][]int{}
	var keys [][4]int
	units := map[[4]int][2]int{} // a slice's whole host and cube
	for n := range f.Nodes {
		if w.state[n] != Up || !eligibleNode(f, n, j) {
			continue
		}
		sd, host, cube, ok := sliceOf(f, n, j)
		if !ok {
			continue
		}
		k := [4]int{f.SiteOfNode(n), int(f.Nodes[n].Model), refDomain(f, n, j), sd}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
			units[k] = [2]int{host, cube}
		}
		groups[k] = append(groups[k], n)
	}
	for _, k := range keys {
		nodes := groups[k]
		host, cube := units[k][0], units[k][1]
		if cube > 0 {
			if slots := w.wholeRacks(j, nodes, cube); slots != nil {
				return slots
			}
			continue
		}
		byFree := append([]int(nil), nodes...)
		sort.SliceStable(byFree, func(a, b int) bool {
			return bits.OnesCount64(w.free(byFree[a])) > bits.OnesCount64(w.free(byFree[b]))
		})
		for _, order := range [][]int{nodes, byFree} {
			if slots := w.greedy(j, order, host); slots != nil {
				return slots
			}
		}
	}
	return nil
}

// wholeRacks is greedy for a slice of whole cubes: it takes, rack by rack
// in index order, the racks of nodes that hold cube accelerators and are
// all free, as long as every breaker stays within its limit.
func (w *world) wholeRacks(j *Job, nodes []int, cube int) []Slot {
	f := w.f
	byRack := map[int32][]int{}
	var racks []int32
	for _, n := range nodes {
		r := f.Nodes[n].Rack
		if _, ok := byRack[r]; !ok {
			racks = append(racks, r)
		}
		byRack[r] = append(byRack[r], n)
	}
	var slots []Slot
	var added [][3]int64
	defer func() {
		for _, a := range added {
			w.add(int(a[0]), -a[1], a[2])
		}
	}()
	need := j.Accelerators
	for _, r := range racks {
		if need == 0 {
			break
		}
		ns := byRack[r]
		total, whole := 0, true
		for _, n := range ns {
			total += f.NodeAccelerators(n)
			whole = whole && bits.OnesCount64(w.free(n)) == f.NodeAccelerators(n)
		}
		if total != cube || !whole {
			continue
		}
		mark, fit := len(added), true
		for _, n := range ns {
			c, each := int64(f.NodeAccelerators(n)), jobDraw(f, n, j)
			if !w.fits(n, c, each) {
				fit = false
				break
			}
			w.add(n, c, each)
			added = append(added, [3]int64{int64(n), c, each})
		}
		if !fit {
			for _, a := range added[mark:] {
				w.add(int(a[0]), -a[1], a[2])
			}
			added = added[:mark]
			continue
		}
		for _, n := range ns {
			slots = append(slots, Slot{Node: int32(n), Mask: w.free(n)})
		}
		need -= cube
	}
	if need > 0 {
		return nil
	}
	return slots
}

func (w *world) free(n int) uint64 {
	return ^w.used[n] & (1<<uint(w.f.NodeAccelerators(n)) - 1)
}

// greedy takes free accelerators node by node in the order given, as
// many as every breaker allows; with host > 0 (a slice of whole hosts)
// only whole free hosts.
func (w *world) greedy(j *Job, nodes []int, host int) []Slot {
	need := int64(j.Accelerators)
	var slots []Slot
	var added [][3]int64 // node, count, each: undone before returning
	defer func() {
		for _, a := range added {
			w.add(int(a[0]), -a[1], a[2])
		}
	}()
	for _, n := range nodes {
		if need == 0 {
			break
		}
		fm := w.free(n)
		each := jobDraw(w.f, n, j)
		c := min(int64(bits.OnesCount64(fm)), need)
		if host > 0 {
			if c < int64(host) || !w.fits(n, c, each) {
				continue
			}
		}
		if j.PerNode > 0 {
			if c < int64(j.PerNode) {
				continue
			}
			c = int64(j.PerNode)
			if !w.fits(n, c, each) {
				continue
			}
		}
		for c > 0 && !w.fits(n, c, each) {
			c--
		}
		if c == 0 {
			continue
		}
		var m uint64
		for range c {
			low := fm & -fm
			m |= low
			fm &^= low
		}
		slots = append(slots, Slot{Node: int32(n), Mask: m})
		w.add(n, c, each)
		added = append(added, [3]int64{int64(n), c, each})
		need -= c
	}
	if need > 0 {
		return nil
	}
	return slots
}

// checkLive: after a pass with no preemption, no job left waiting for
// capacity, fragmentation or power could have been placed.
func checkLive(t fatalf, s *Snapshot, e *Engine, res *Result) {
	if res.Preempted > 0 {
		return // victims freed capacity after earlier jobs were refused
	}
	w := recount(t, s)
	for _, wt := range res.Waiting {
		switch wt.Reason.Code {
		case InsufficientFree, Fragmented, Power:
		default:
			continue
		}
		p, ok := e.Pending(wt.Job)
		if !ok {
			t.Fatalf("waiting job %d is not pending", wt.Job)
		}
		if slots := w.place(&p.Job); slots != nil {
			t.Fatalf("job %d (%+v) waits with %s, but fits now: %v", wt.Job, p.Job, s.Describe(wt.Reason), slots)
		}
	}
}

// randomFleet draws a fleet of one or two sites whose racks mix node
// models under shared breakers, with every level's limit drawn between
// what validation requires (its accelerators at TDP) and about twice that,
// so that any level may bind.
func randomFleet(t *rapid.T) *fleet.Fleet {
	models := []struct {
		name string
		tdp  float64 // the node's accelerators at TDP, kW
	}{{"dgx-h100", 5.6}, {"dgx-b200", 8}, {"dgx-a100", 3.2}}
	frac := func(label string) float64 { return 1 + float64(rapid.IntRange(0, 10).Draw(t, label))/10 }
	var b strings.Builder
	b.WriteString("oversubscription: 1.0\nregions:\n  - name: r\n    sites:\n")
	sites := rapid.IntRange(1, 2).Draw(t, "sites")
	for si := range sites {
		var halls strings.Builder
		siteTDP := 0.0
		for hi := range rapid.IntRange(1, 2).Draw(t, "halls") {
			var rows strings.Builder
			hallTDP := 0.0
			for ri := range rapid.IntRange(1, 2).Draw(t, "rows") {
				var racks strings.Builder
				rowTDP := 0.0
				for ki := range rapid.IntRange(1, 3).Draw(t, "racks") {
					var nodes strings.Builder
					rackTDP := 0.0
					for range rapid.IntRange(1, 2).Draw(t, "models") {
						m := models[rapid.IntRange(0, len(models)-1).Draw(t, "model")]
						c := rapid.IntRange(1, 2).Draw(t, "count")
						fmt.Fprintf(&nodes, "                          - model: %s\n                            count: %d\n", m.name, c)
						rackTDP += m.tdp * float64(c)
					}
					fmt.Fprintf(&racks, "                  - name: k%d\n                    limit_kw: %.1f\n                    nodes:\n%s",
						ki, math.Ceil(rackTDP*frac("rack")*10)/10, nodes.String())
					rowTDP += rackTDP
				}
				fmt.Fprintf(&rows, "              - name: r%d\n                limit_kw: %.1f\n                racks:\n%s",
					ri, math.Ceil(rowTDP*frac("row")*10)/10, racks.String())
				hallTDP += rowTDP
			}
			fmt.Fprintf(&halls, "          - name: h%d\n            limit_kw: %.1f\n            rows:\n%s",
				hi, math.Ceil(hallTDP*frac("hall")*10)/10, rows.String())
			siteTDP += hallTDP
		}
		fmt.Fprintf(&b, "      - name: s%d\n        substation_mw: %.4f\n        pue: 1.25\n        energy:\n          - source: grid\n            share: 1\n            price_usd_mwh: %d\n            carbon_g_kwh: 300\n        halls:\n%s",
			si, math.Ceil(siteTDP*1.25*frac("site")*10)/10/1000, 40+10*si, halls.String())
	}
	f, err := fleet.Parse(strings.NewReader(b.String()))
	if err != nil {
		t.Fatalf("drawn fleet does not load: %v\n%s", err, b.String())
	}
	return f
}

// randomJob draws a job for the random fleets.
func randomJob(t *rapid.T, id JobID, prio int) Job {
	j := Job{
		ID:               id,
		Tenant:           rapid.SampledFrom([]string{"a", "b"}).Draw(t, "tenant"),
		Priority:         prio,
		Accelerators:     rapid.SampledFrom([]int{1, 2, 4, 8, 12, 16, 24, 32}).Draw(t, "n"),
		Topology:         Topology(rapid.IntRange(0, int(TopologySite)).Draw(t, "topo")),
		TopologyRequired: rapid.Bool().Draw(t, "required"),
		Duration:         time.Duration(rapid.IntRange(1, 24).Draw(t, "dur")) * 10 * time.Minute,
		PowerFraction:    rapid.SampledFrom([]float64{0, 0.3, 0.6, 1}).Draw(t, "power"),
		Model:            rapid.SampledFrom([]string{"", "h100", "b200", "a100"}).Draw(t, "jobmodel"),
	}
	if rapid.IntRange(0, 4).Draw(t, "shaped") == 0 {
		j.PerNode = 4
		j.Accelerators = (j.Accelerators + 3) / 4 * 4
	}
	return j
}

// TestBackfillKeepsItsPromise: under backfill, a job the pass reserved for
// starts no later than any reservation said, on random fleets with several
// node models under shared breakers, when jobs end by their estimates
// (some earlier) and lower-priority work keeps arriving. Every pass is
// also checked for liveness and the snapshot against a recount.
func TestBackfillKeepsItsPromise(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		f := randomFleet(t)
		s, e := backfillOn(t, f)
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		id := JobID(0)
		for range rapid.IntRange(1, 25).Draw(t, "initial") {
			id++
			if err := e.Submit(randomJob(t, id, rapid.IntRange(0, 3).Draw(t, "prio")), t0); err != nil {
				t.Fatal(err)
			}
		}
		// arrivals come at priority 0 after the initial jobs, so they
		// never pass a reserved head in the queue's order
		arrivals := map[time.Duration][]Job{}
		for range rapid.IntRange(0, 20).Draw(t, "arrivals") {
			id++
			at := time.Duration(rapid.IntRange(1, 48).Draw(t, "arrive")) * 10 * time.Minute
			arrivals[at] = append(arrivals[at], randomJob(t, id, 0))
		}
		early := map[JobID]time.Duration{} // how much sooner than its estimate a job ends
		for j := JobID(1); j <= id; j++ {
			if rapid.IntRange(0, 3).Draw(t, "early") == 0 {
				early[j] = time.Duration(rapid.IntRange(1, 5).Draw(t, "by")) * 10 * time.Minute
			}
		}
		promise := map[JobID]time.Time{}
		ends := map[JobID]time.Time{}
		var log strings.Builder // what happened, shown when a check fails
		for n := range f.Nodes {
			fmt.Fprintf(&log, "node %d %s %s\n", n, f.NodeName(n), f.NodeModel(n).Name)
		}
		for l := fleet.LevelSite; l <= fleet.LevelRack; l++ {
			for d := range f.Domains(l) {
				fmt.Fprintf(&log, "%s %s limit %d idle %d\n", l, s.DomainName(l, int32(d)), s.Limit(l, d), s.Draw(l, d))
			}
		}
		for now := t0; now.Sub(t0) <= 48*time.Hour; now = now.Add(10 * time.Minute) {
			var ended []JobID
			for j, end := range ends {
				if !end.After(now) {
					ended = append(ended, j)
				}
			}
			sort.Slice(ended, func(a, b int) bool { return ended[a] < ended[b] })
			for _, j := range ended {
				s.Release(j, now)
				delete(ends, j)
			}
			for _, j := range arrivals[now.Sub(t0)] {
				if err := e.Submit(j, now); err != nil {
					t.Fatal(err)
				}
			}
			fmt.Fprintf(&log, "+%v released %v\n", now.Sub(t0), ended)
			for _, r := range s.Running() {
				a, _ := s.Alloc(r)
				fmt.Fprintf(&log, "  running %d %v w=%d until +%v\n", r, a.Slots, a.DrawW, ends[r].Sub(t0))
			}
			res := e.Schedule(s, now)
			for _, d := range res.Decisions {
				fmt.Fprintf(&log, "  %v %d %v %s\n", d.Action, d.Job, d.Slots, s.Describe(d.Reason))
			}
			for _, w := range res.Waiting {
				p, _ := e.Pending(w.Job)
				fmt.Fprintf(&log, "  wait %d %s %+v\n", w.Job, s.Describe(w.Reason), p.Job)
			}
			if r := res.Reservation; r != nil {
				fmt.Fprintf(&log, "  reserved %d at +%v\n", r.Job, r.Start.Sub(t0))
			}
			for _, d := range res.Decisions {
				if d.Action != Place {
					continue
				}
				if p, ok := promise[d.Job]; ok && now.After(p) {
					t.Fatalf("job %d started at +%v; backfill promised +%v\n%s", d.Job, now.Sub(t0), p.Sub(t0), log.String())
				}
				delete(promise, d.Job)
				a, _ := s.Alloc(d.Job)
				end := now.Add(max(a.Job.Duration-early[d.Job], time.Minute))
				ends[d.Job] = end
			}
			if r := res.Reservation; r != nil && !r.Start.IsZero() {
				if p, ok := promise[r.Job]; !ok || r.Start.Before(p) {
					promise[r.Job] = r.Start
				}
			}
			w := recount(t, s)
			checkDraw(t, s, w)
			checkLive(t, s, e, &res)
			if len(ends) == 0 && e.Queued() == 0 && now.Sub(t0) > 8*time.Hour {
				break
			}
		}
		for j, p := range promise {
			t.Fatalf("job %d was promised +%v and never started", j, p.Sub(t0))
		}
	})
}

// describe formats a pass's decisions and waits for a failure message.
func describe(s *Snapshot, res Result) string {
	var b strings.Builder
	for _, d := range res.Decisions {
		fmt.Fprintf(&b, "%v %d %v %s\n", d.Action, d.Job, d.Slots, s.Describe(d.Reason))
	}
	for _, w := range res.Waiting {
		fmt.Fprintf(&b, "wait %d %s\n", w.Job, s.Describe(w.Reason))
	}
	return b.String()
}

// running is a running job as the test saw it before a pass.
type running struct {
	job   Job
	slots []Slot
	drawW int64
	start time.Time
}

func (w *world) release(r *running) {
	for _, sl := range r.slots {
		w.used[sl.Node] &^= sl.Mask
		w.add(int(sl.Node), -int64(bits.OnesCount64(sl.Mask)), r.drawW)
	}
}

// victimCost is the documented order of victim sets: the highest
// priority stopped, then accelerators stopped, then work lost since the
// victims' last checkpoints, then jobs stopped; lower is cheaper.
type victimCost struct {
	maxPr, accel int
	lost         time.Duration
	jobs         int
}

func (a victimCost) less(b victimCost) bool {
	switch {
	case a.maxPr != b.maxPr:
		return a.maxPr < b.maxPr
	case a.accel != b.accel:
		return a.accel < b.accel
	case a.lost != b.lost:
		return a.lost < b.lost
	}
	return a.jobs < b.jobs
}

func costOf(set []*running, now time.Time) victimCost {
	c := victimCost{maxPr: math.MinInt, jobs: len(set)}
	for _, r := range set {
		c.maxPr = max(c.maxPr, r.job.Priority)
		c.accel += r.job.Accelerators
		ran := now.Sub(r.start)
		if r.job.CheckpointEvery > 0 {
			ran %= r.job.CheckpointEvery
		}
		c.lost += ran
	}
	return c
}

// TestPreemptionIsMinimal fills random fleets with preemptible jobs of
// low priority, then submits one job of high priority, and checks the
// victims the pass chose: each preemptible and of lower priority; none
// unneeded (without any one of them the reference placer finds no room);
// and, on small cases, no cheaper set in the documented order with which
// the reference placer could place the job (exhaustive search).
func TestPreemptionIsMinimal(t *testing.T) {
	preempted := 0
	rapid.Check(t, func(t *rapid.T) {
		f := randomFleet(t)
		s, err := NewSnapshot(f)
		if err != nil {
			t.Fatal(err)
		}
		e, err := New(Config{Queue: "priority", Preemption: true})
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		now := t0
		id := JobID(0)
		for range rapid.IntRange(1, 4).Draw(t, "waves") {
			for range rapid.IntRange(1, 8).Draw(t, "jobs") {
				id++
				j := randomJob(t, id, rapid.IntRange(0, 2).Draw(t, "prio"))
				j.Preemptible = rapid.IntRange(0, 4).Draw(t, "preemptible") > 0
				j.CheckpointEvery = time.Duration(rapid.IntRange(0, 3).Draw(t, "ckpt")) * 7 * time.Minute
				if err := e.Submit(j, now); err != nil {
					t.Fatal(err)
				}
			}
			e.Schedule(s, now)
			now = now.Add(time.Duration(rapid.IntRange(1, 9).Draw(t, "advance")) * 5 * time.Minute)
		}
		for _, p := range e.Queue() {
			e.Cancel(p.Job.ID)
		}
		id++
		head := randomJob(t, id, 5)
		if err := e.Submit(head, now); err != nil {
			t.Fatal(err)
		}
		before := map[JobID]*running{}
		var cands []*running
		for _, rid := range s.Running() {
			a, _ := s.Alloc(rid)
			r := &running{job: a.Job, slots: append([]Slot(nil), a.Slots...), drawW: a.DrawW, start: a.Start}
			before[rid] = r
			if a.Job.Preemptible && a.Job.Priority < head.Priority && a.Start.Before(now) {
				cands = append(cands, r)
			}
		}
		w0 := recount(t, s)
		res := e.Schedule(s, now)
		var victims []*running
		placed := false
		for _, d := range res.Decisions {
			switch d.Action {
			case Preempt:
				r := before[d.Job]
				if r == nil || !r.job.Preemptible || r.job.Priority >= head.Priority {
					t.Fatalf("job %d preempted for %d: not a preemptible job of lower priority (%+v)", d.Job, head.ID, r)
				}
				victims = append(victims, r)
			case Place:
				placed = d.Job == head.ID
			}
		}
		if len(victims) == 0 {
			return
		}
		preempted++
		if !placed {
			t.Fatalf("victims %d stopped but job %d not placed", len(victims), head.ID)
		}
		fitsWithout := func(set []*running) bool {
			w := recount(t, s) // any world of this fleet; reset to before the pass
			*w = *w0
			w.used = append([]uint64(nil), w0.used...)
			for l := range w.draw {
				w.draw[l] = append([]int64(nil), w0.draw[l]...)
			}
			for _, r := range set {
				w.release(r)
			}
			return w.place(&head) != nil
		}
		for i := range victims {
			rest := append(append([]*running(nil), victims[:i]...), victims[i+1:]...)
			if fitsWithout(rest) {
				t.Fatalf("victim %d of %d is not needed: the job fits without it\njob %+v\nvictims %d, without any: %v\n%s", victims[i].job.ID, head.ID, head, len(victims), fitsWithout(nil), describe(s, res))
			}
		}
		if len(cands) > maxExactVictims {
			return
		}
		chosen := costOf(victims, now)
		for mask := 1; mask < 1<<len(cands); mask++ {
			var set []*running
			for i, r := range cands {
				if mask&(1<<i) != 0 {
					set = append(set, r)
				}
			}
			if c := costOf(set, now); c.less(chosen) && fitsWithout(set) {
				t.Fatalf("stopped %+v for job %d; %+v is cheaper and frees enough", chosen, head.ID, c)
			}
		}
	})
	t.Logf("%d of the runs preempted", preempted)
}

// TestCoverIsExact checks the covering search of the bounded victim
// search against every subset: its set covers the need at the least cost
// (accelerators stopped, then work lost, then jobs).
func TestCoverIsExact(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 10).Draw(t, "victims")
		var gains []gain
		total := int32(0)
		for i := range n {
			acc := rapid.IntRange(1, 16).Draw(t, "accelerators")
			here := int32(rapid.IntRange(1, acc).Draw(t, "here"))
			a := &Alloc{Job: Job{ID: JobID(i + 1), Accelerators: acc}, Slots: []Slot{{Mask: 1<<uint(acc) - 1}}}
			v := &victim{a: a, lost: time.Duration(rapid.IntRange(0, 3).Draw(t, "lost")) * time.Minute}
			gains = append(gains, gain{v: v, n: here})
			total += here
		}
		need := int32(rapid.IntRange(1, int(total)).Draw(t, "need"))
		costOfGains := func(gs []gain) cost {
			c := cost{ok: true}
			for _, g := range gs {
				c.accel += int64(g.v.a.accelerators())
				c.lost += g.v.lost
				c.jobs++
			}
			return c
		}
		got := cover(gains, need)
		sum := int32(0)
		for _, g := range got {
			sum += g.n
		}
		if sum < need {
			t.Fatalf("cover frees %d of %d", sum, need)
		}
		gc := costOfGains(got)
		for mask := 1; mask < 1<<n; mask++ {
			var set []gain
			s := int32(0)
			for i, g := range gains {
				if mask&(1<<i) != 0 {
					set = append(set, g)
					s += g.n
				}
			}
			if c := costOfGains(set); s >= need && c.less(gc) {
				t.Fatalf("cover chose %+v; %+v is cheaper", gc, c)
			}
		}
	})
}

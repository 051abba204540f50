package engine

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sort"
	"strings"
	"time"

	"stargate/fleet"
	"stargate/power"
)

// NodeState is the health of a node as the engine sees it.
type NodeState uint8

// Node states. Only Up nodes take new work; a Drained node keeps its jobs.
const (
	Up NodeState = iota
	Drained
	Down
)

var nodeStateNames = [...]string{"up", "drained", "down"}

// String returns the state's name.
func (s NodeState) String() string {
	if int(s) < len(nodeStateNames) {
		return nodeStateNames[s]
	}
	return "state?"
}

// Alloc is a running job: where it runs and since when.
type Alloc struct {
	Job   Job
	Site  int32
	Slots []Slot
	Start time.Time
	// CapW is the per-accelerator power cap in watts, 0 when uncapped.
	CapW float64
	// DrawW is the job's expected draw above idle per accelerator, in
	// watts, as admitted against the power tree's headroom.
	DrawW int64

	pool      int32
	endH      int32     // handle in the pool's ends heap, -1 if absent
	startH    int32     // handle in the pool's preemptible heap, -1 if absent
	endKey    int64     // expected end, Unix ns (jobs of known duration)
	startKey  int64     // start, Unix ns
	one       [1]Slot   // Slots' storage for single-node jobs
	seq       uint64    // queue position, kept across requeues
	attained  float64   // accelerator-seconds of earlier runs
	submitted time.Time // first submission
	requeues  int
	siteIdx   int32 // position in the snapshot's list of its site's jobs
	gridCap   bool  // CapW was set for a grid event (see Control's uncaps)
	class     int32 // the engine's class of the job (classKey), -1 if unknown
	tenant    int32 // the snapshot's index of its tenant (tenantOf)
}

// upward lists the levels of the power tree from the node up to the site,
// the order in which placement widens its search.
var upward = [...]fleet.Level{fleet.LevelNode, fleet.LevelRack, fleet.LevelRow, fleet.LevelHall, fleet.LevelSite}

// pool indexes the nodes of one node model in one site: the free
// accelerators of every node, rack, row and hall, bucketed by free count.
type pool struct {
	site    int32
	model   int // node model, index in the catalog
	accel   int // accelerator model, index in the catalog
	perNode int32
	nvlRack bool // the NVLink domain is the rack
	// by level, hall to node (the site's entry is unused): free counts
	// bucketed, the global index of local id 0, and the largest domain
	cap      [fleet.LevelNode + 1]int32 // cap[LevelSite] is the pool's total
	lv       [fleet.LevelNode + 1]*buckets
	off      [fleet.LevelNode + 1]int32
	total    int32 // accelerators of the pool
	free     int32 // free accelerators on Up nodes
	maxW     float64
	idleW    float64
	siteName string
	// A model whose scale-up domain spans racks: its groups in the site
	// (supernodes, pods) bucketed by free count by local id, each local
	// rack's group (-1 for none), each local group's index in
	// fleet.ScaleUps, and the largest group's accelerators.
	grp    *buckets
	grpOf  []int32
	groups []int32
	grpCap int32
	// A model that hands out slices: the allowed sizes, sorted (nil: any
	// size), and the largest rack's accelerators, the unit above the host
	// (a TPU cube).
	shapes []int32
	cube   int32
	// firstNode is a node of the pool, to name its model in a reason.
	firstNode int32
	// running jobs of known duration by expected end (for backfill), and
	// preemptible running jobs by start (for preemption, kept once the
	// snapshot has met one: Snapshot.byStart) with their accelerators by
	// priority
	ends        allocHeap
	preemptible allocHeap
	preemptAcc  map[int]int32
}

// nodeRec is what placing and releasing a job read and write of each of
// its nodes, side by side: a cache line holds two nodes' records, where
// an array apiece would cost a miss apiece.
type nodeRec struct {
	mask  uint64                 // allocated accelerators
	up    [fleet.LevelNode]int32 // its site, hall, row and rack, by Level
	first int32                  // global index of its first accelerator
	model uint16                 // as fleet.Node.Model
	state NodeState
}

// Snapshot is the engine's live, mutable state of the fleet, not a frozen
// copy: which accelerators are free, which jobs run where, each node's
// health and the expected and measured draw at every level of the power
// tree. A driver keeps one for as long as it runs: it is built once from a
// Fleet and then changed in place, by Engine.Schedule and Engine.Control
// (which apply their own decisions), by Release when a job ends, and by
// SetNodeState and SetMeasured. Each change costs O(accelerators touched ×
// tree depth); nothing rescans the fleet. A driver that needs a copy
// builds another with NewSnapshot and Restore. A Snapshot is not safe for
// concurrent use.
type Snapshot struct {
	f        *fleet.Fleet
	pools    []*pool
	nodePool []int32
	node     []nodeRec
	// owner is the job of each allocated accelerator (nodeRec.mask says
	// which are): a release leaves it, as nothing reads a free one's. It
	// is nil until something asks which jobs run on a node or
	// accelerator (trackOwners): a fleet whose nodes never change state
	// never writes it.
	owner []JobID
	// draw, limit and measured are by fleet level (site, hall, row, rack).
	draw     [4][]int64
	limit    [4][]int64
	measured [4][]int64
	// over marks, by level, the domains whose measured draw overCtl
	// finds over its upper threshold, kept by SetMeasured, so that
	// Control visits those alone (a fleet has tens of thousands of
	// domains); overCtl is the controller of the last Control.
	over    [4][]uint64
	overCtl power.Controller
	allocs  map[JobID]*Alloc
	capped  map[JobID]*Alloc // running jobs with a cap
	// nodeByName is built on the first call to Node.
	nodeByName map[string]int32
	running    int // accelerators allocated
	// By tenant, under an index each tenant gets at its first allocation
	// (tenantIdx, tenantName): the accelerators running (tenants);
	// accelerator-seconds, where done holds finished runs (doneOK once
	// one was booked) and startSum Σ accelerators × start (seconds since
	// epoch) of running ones, so that the total to any time is done +
	// running×t − startSum.
	tenantIdx  map[string]int32
	tenantName []string
	tenants    []int
	done       []float64
	doneOK     []bool
	startSum   []float64
	epoch      time.Time
	// sliced: a pool hands out slices of fixed shapes
	sliced bool
	// By site, for grid events (grid.go): the running jobs (kept only
	// once the engine has grid events: trackSites); the idle draw of every
	// node and of the nodes that are not Down; and what the caps of its
	// capped jobs save against their expected draw, in watts.
	siteAllocs [][]*Alloc
	bySite     bool
	idleAll    []int64
	idleUp     []int64
	saveW      []float64
	// fresh: a site's draw was measured since the engine last calibrated
	// its estimate to it (see gridState.calibrate)
	fresh []bool
	// siteGen names the state of each site's free indexes, draws and
	// running jobs: it takes a new value (from genSeq, never reused) at
	// every change there, and an old one back only when a change was
	// undone exactly (see touch). What the engine works out from a
	// site's state alone (a backfill reservation's expected placement)
	// holds for as long as the site keeps its value.
	siteGen []uint64
	genSeq  uint64
	// byStart: the pools' preemptible heaps and counts are kept, from
	// the first preemption search on (trackPreemptible); a fleet run
	// without preemption never pays for them
	byStart bool
}

// ErrNodeTooLarge is returned for node models of more than 64 accelerators.
var ErrNodeTooLarge = errors.New("engine: node models of more than 64 accelerators are not supported")

// NewSnapshot builds an empty snapshot of f: every node up, nothing
// running, every level drawing its nodes' idle power.
func NewSnapshot(f *fleet.Fleet) (*Snapshot, error) {
	s := &Snapshot{
		f:         f,
		nodePool:  make([]int32, len(f.Nodes)),
		node:      make([]nodeRec, len(f.Nodes)),
		allocs:    map[JobID]*Alloc{},
		capped:    map[JobID]*Alloc{},
		tenantIdx: map[string]int32{},
	}
	for i, n := range [4]int{len(f.Sites), len(f.Halls), len(f.Rows), len(f.Racks)} {
		s.draw[i] = make([]int64, n)
		s.limit[i] = make([]int64, n)
		s.measured[i] = make([]int64, n)
		s.over[i] = make([]uint64, (n+63)/64)
	}
	for i := range f.Sites {
		st := &f.Sites[i]
		s.limit[fleet.LevelSite][i] = int64(float64(st.LimitW) / st.PUE * st.Oversubscription)
	}
	for lv, doms := range [][]fleet.Domain{fleet.LevelHall: f.Halls, fleet.LevelRow: f.Rows, fleet.LevelRack: f.Racks} {
		if lv == 0 {
			continue
		}
		for i := range doms {
			site := f.Ancestor(fleet.Level(lv), int32(i), fleet.LevelSite)
			s.limit[lv][i] = int64(float64(doms[i].LimitW) * f.Sites[site].Oversubscription)
		}
	}
	// One pool per (site, node model), covering the site's contiguous
	// ranges at every level.
	poolOf := map[[2]int]int32{}
	for n := range f.Nodes {
		nd := &f.Nodes[n]
		m := f.Catalog.Nodes[nd.Model]
		if m.Accelerators > 64 {
			return nil, fmt.Errorf("%w (%s has %d)", ErrNodeTooLarge, m.Name, m.Accelerators)
		}
		path := f.Path(n)
		s.node[n].up = [fleet.LevelNode]int32(path[:fleet.LevelNode])
		s.node[n].first, s.node[n].model = nd.FirstAccel, nd.Model
		site := path[fleet.LevelSite]
		key := [2]int{int(site), int(nd.Model)}
		p, ok := poolOf[key]
		if !ok {
			p = int32(len(s.pools))
			poolOf[key] = p
			s.pools = append(s.pools, s.newPool(site, int(nd.Model)))
			s.pools[p].firstNode = int32(n)
		}
		s.nodePool[n] = p
		idle := s.nodeIdle(n)
		for l := fleet.LevelSite; l <= fleet.LevelRack; l++ {
			s.draw[l][path[l]] += idle
		}
	}
	s.siteAllocs = make([][]*Alloc, len(f.Sites))
	s.idleAll = slices.Clone(s.draw[fleet.LevelSite])
	s.idleUp = slices.Clone(s.draw[fleet.LevelSite])
	s.saveW = make([]float64, len(f.Sites))
	s.fresh = make([]bool, len(f.Sites))
	s.siteGen = make([]uint64, len(f.Sites))
	s.scaleUps(poolOf)
	for n := range f.Nodes {
		p := s.pools[s.nodePool[n]]
		s.addFree(p, int32(n), int32(f.NodeAccelerators(n)))
		p.total += int32(f.NodeAccelerators(n))
	}
	for _, p := range s.pools {
		for l := fleet.LevelHall; l <= fleet.LevelNode; l++ {
			for _, d := range p.lv[l].at {
				p.cap[l] = max(p.cap[l], d.free)
			}
		}
		p.cap[fleet.LevelSite] = p.total
		if p.grp != nil {
			for _, d := range p.grp.at {
				p.grpCap = max(p.grpCap, d.free)
			}
		}
		p.cube = p.cap[fleet.LevelRack]
	}
	return s, nil
}

// trackSites starts keeping each site's running jobs (siteAllocs), in
// job order to begin with.
func (s *Snapshot) trackSites() {
	if s.bySite {
		return
	}
	s.bySite = true
	for _, id := range s.Running() {
		a := s.allocs[id]
		a.siteIdx = int32(len(s.siteAllocs[a.Site]))
		s.siteAllocs[a.Site] = append(s.siteAllocs[a.Site], a)
	}
}

// trackPreemptible starts keeping each pool's preemptible running jobs
// by start (pool.preemptible), and their accelerators by priority
// (pool.preemptAcc). A heap's walk is in key order, job ID
// breaking ties, whatever order its jobs went in.
func (s *Snapshot) trackPreemptible() {
	if s.byStart {
		return
	}
	s.byStart = true
	for _, id := range s.Running() {
		if a := s.allocs[id]; a.Job.Preemptible {
			p := s.pools[a.pool]
			p.preemptible.push(a)
			p.preemptAcc[a.Job.Priority] += int32(a.accelerators())
		}
	}
}

// nodeIdle is node n's idle draw in watts, as the snapshot counts it.
func (s *Snapshot) nodeIdle(n int) int64 {
	return int64(math.Round(s.f.NodeModel(n).IdleW(s.f.NodeAccelerator(n))))
}

// scaleUps gives each pool whose model's scale-up domain spans racks its
// groups (fleet.ScaleUps in its site) and each pool that hands out slices
// its sizes, before the free counts are first added.
func (s *Snapshot) scaleUps(poolOf map[[2]int]int32) {
	f := s.f
	for i := range f.ScaleUps {
		su := &f.ScaleUps[i]
		site := f.Ancestor(fleet.LevelRow, su.Row, fleet.LevelSite)
		pi, ok := poolOf[[2]int{int(site), int(su.Model)}]
		if !ok {
			continue
		}
		p := s.pools[pi]
		if p.grpOf == nil {
			p.grpOf = make([]int32, len(p.lv[fleet.LevelRack].at))
			for k := range p.grpOf {
				p.grpOf[k] = -1
			}
		}
		g := int32(len(p.groups))
		p.groups = append(p.groups, int32(i))
		for k := su.FirstRack; k < su.EndRack; k++ {
			p.grpOf[k-p.off[fleet.LevelRack]] = g
		}
	}
	for _, p := range s.pools {
		if p.groups != nil {
			most := 0
			for _, i := range p.groups {
				most = max(most, int(f.ScaleUps[i].Accelerators))
			}
			p.grp = newBuckets(len(p.groups), most)
		}
		for _, sh := range f.Catalog.Nodes[p.model].SliceShapes {
			if v, err := fleet.ShapeVolume(sh); err == nil {
				p.shapes = append(p.shapes, int32(v))
			}
		}
		if p.shapes != nil {
			slices.Sort(p.shapes)
			p.shapes = slices.Compact(p.shapes)
			s.sliced = true
		}
	}
}

// newPool sizes a pool's indexes to the site's ranges at every level.
func (s *Snapshot) newPool(site int32, model int) *pool {
	f := s.f
	m := &f.Catalog.Nodes[model]
	ai := f.Catalog.Accelerator(m.Accelerator)
	a := &f.Catalog.Accelerators[ai]
	p := &pool{site: site, model: model, accel: ai, perNode: int32(m.Accelerators),
		nvlRack: m.NVLinkDomain == "rack", siteName: f.Sites[site].Name,
		ends: allocHeap{end: true}, preemptAcc: map[int]int32{}}
	p.maxW = a.TDPW + m.OverheadW/float64(m.Accelerators)
	p.idleW = a.IdleW + m.OverheadIdleW/float64(m.Accelerators)
	// Ranges: halls [h0,h1), rows of those halls, racks, nodes.
	st := f.Sites[site].Domain
	h0, h1 := st.First, st.End
	r0, r1 := rangeOf(f.Halls, h0, h1)
	k0, k1 := rangeOf(f.Rows, r0, r1)
	n0, n1 := rangeOf(f.Racks, k0, k1)
	var lo [fleet.LevelNode + 1][2]int32
	lo[fleet.LevelHall], lo[fleet.LevelRow], lo[fleet.LevelRack], lo[fleet.LevelNode] = [2]int32{h0, h1}, [2]int32{r0, r1}, [2]int32{k0, k1}, [2]int32{n0, n1}
	for l := fleet.LevelHall; l <= fleet.LevelNode; l++ {
		p.off[l] = lo[l][0]
		n := int(lo[l][1] - lo[l][0])
		// the largest free count a domain of this level can have
		maxFree := m.Accelerators
		if l != fleet.LevelNode {
			doms := f.Domains(l)
			maxFree = 0
			for i := lo[l][0]; i < lo[l][1]; i++ {
				maxFree = max(maxFree, int(doms[i].Accelerators))
			}
		}
		p.lv[l] = newBuckets(n, maxFree)
	}
	return p
}

// rangeOf returns the children range of the domains [a, b).
func rangeOf(doms []fleet.Domain, a, b int32) (int32, int32) {
	if a >= b {
		return 0, 0
	}
	return doms[a].First, doms[b-1].End
}

// touch gives site si's state a new generation (see siteGen).
func (s *Snapshot) touch(si int32) {
	s.genSeq++
	s.siteGen[si] = s.genSeq
}

// addFree changes the free count of node n (in pool p) and its ancestors.
func (s *Snapshot) addFree(p *pool, n, delta int32) {
	s.touch(p.site)
	d := n
	for l := fleet.LevelNode; l > fleet.LevelSite; l-- {
		p.lv[l].add(d-p.off[l], delta)
		d = s.f.Parent(l, d)
	}
	p.free += delta
	if p.grp != nil {
		if g := p.grpOf[s.f.Nodes[n].Rack-p.off[fleet.LevelRack]]; g >= 0 {
			p.grp.add(g, delta)
		}
	}
}

// slotSum is a change to one domain, summed over consecutive slots.
type slotSum struct {
	d int32 // the domain, -1 for none yet
	n int64
}

// addSlots changes the free counts of the slots' nodes that are up, and
// of every domain above them, by sign times the slots' accelerators
// (sign −1: allocated, +1: freed), and the expected draw of their racks
// and every domain above by −sign × w a slot's accelerator. It is
// addFree and addDrawQuiet slot by slot (and a new generation for the
// site), with a domain that consecutive slots meet (the nodes of one
// rack, the racks of one row) changed once by their sum: its draw is a
// sum, and a free index ends as after one change a slot, for a domain
// moved on again from the end of the bucket it was just put at leaves
// that bucket as it found it.
func (s *Snapshot) addSlots(p *pool, slots []Slot, sign int32, w int64) {
	var free [fleet.LevelNode + 1]slotSum // by level, hall to node
	var draw [fleet.LevelNode]slotSum     // by level, site to rack
	grp := slotSum{d: -1}
	for l := range free {
		free[l].d = -1
	}
	for l := range draw {
		draw[l].d = -1
	}
	flushFree := func(l fleet.Level) {
		if f := &free[l]; f.d >= 0 {
			p.lv[l].add(f.d-p.off[l], int32(f.n))
		}
	}
	flushDraw := func(l fleet.Level) {
		if d := &draw[l]; d.d >= 0 {
			s.draw[l][d.d] += d.n
			if l == fleet.LevelSite {
				s.touch(d.d)
			}
		}
	}
	changed := false
	for _, sl := range slots {
		c := int64(bits.OnesCount64(sl.Mask))
		up := &s.node[sl.Node].up
		for l := fleet.LevelSite; l <= fleet.LevelRack; l++ {
			if draw[l].d != up[l] {
				flushDraw(l)
				draw[l] = slotSum{d: up[l]}
			}
			draw[l].n -= int64(sign) * c * w
		}
		if s.node[sl.Node].state != Up {
			continue
		}
		changed = true
		for l := fleet.LevelHall; l <= fleet.LevelNode; l++ {
			d := sl.Node
			if l < fleet.LevelNode {
				d = up[l]
			}
			if free[l].d != d {
				flushFree(l)
				free[l] = slotSum{d: d}
			}
			free[l].n += int64(sign) * c
		}
		if p.grp != nil {
			if g := p.grpOf[up[fleet.LevelRack]-p.off[fleet.LevelRack]]; g >= 0 {
				if grp.d != g {
					if grp.d >= 0 {
						p.grp.add(grp.d, int32(grp.n))
					}
					grp = slotSum{d: g}
				}
				grp.n += int64(sign) * c
			}
		}
		p.free += sign * int32(c)
	}
	for l := fleet.LevelHall; l <= fleet.LevelNode; l++ {
		flushFree(l)
	}
	if grp.d >= 0 {
		p.grp.add(grp.d, int32(grp.n))
	}
	for l := fleet.LevelSite; l <= fleet.LevelRack; l++ {
		flushDraw(l)
	}
	if changed {
		s.touch(p.site)
	}
}

// addFreeLogged is addFree with every index move logged (into log) for
// an exact undo, and no new generation: its caller gives one, or puts
// the old one back after undoing.
func (s *Snapshot) addFreeLogged(p *pool, n, delta int32, log []moved) []moved {
	d := n
	for l := fleet.LevelNode; l > fleet.LevelSite; l-- {
		log = p.lv[l].addLogged(d-p.off[l], delta, log)
		d = s.f.Parent(l, d)
	}
	if p.grp != nil {
		if g := p.grpOf[s.f.Nodes[n].Rack-p.off[fleet.LevelRack]]; g >= 0 {
			log = p.grp.addLogged(g, delta, log)
		}
	}
	p.free += delta
	return log
}

// addDrawQuiet changes the expected draw of node n's rack and its
// ancestors without a new generation, for a change its caller undoes.
func (s *Snapshot) addDrawQuiet(n int32, w int64) {
	path := s.f.Path(int(n))
	for l := fleet.LevelSite; l <= fleet.LevelRack; l++ {
		s.draw[l][path[l]] += w
	}
}

// sliceRefusal returns the SliceShape reason for j when none of the pools
// elig could ever take it and one of them refuses its size as the volume
// of no slice shape it hands out; else the zero Reason.
func (s *Snapshot) sliceRefusal(j *Job, elig []int32) Reason {
	var why Reason
	for _, pi := range elig {
		pp := s.pools[pi]
		r := makeRequest(j, pp)
		if staticFit(&r, pp) {
			return Reason{}
		}
		if r.badShape && why.Code == "" {
			why = Reason{Code: SliceShape, Level: fleet.LevelNode, Domain: pp.firstNode}
		}
	}
	return why
}

// nodeFreeMask returns the free accelerators of node n.
func (s *Snapshot) nodeFreeMask(p *pool, n int32) uint64 {
	return ^s.node[n].mask & (1<<uint(p.perNode) - 1)
}

// allocate records a as running and updates every index.
func (s *Snapshot) allocate(a *Alloc) {
	p := s.pools[a.pool]
	total := 0
	for _, sl := range a.Slots {
		c := bits.OnesCount64(sl.Mask)
		total += c
		if s.node[sl.Node].mask&sl.Mask != 0 {
			panic("engine: accelerator allocated twice")
		}
		s.node[sl.Node].mask |= sl.Mask
		if s.owner != nil {
			s.setOwner(sl, a.Job.ID)
		}
	}
	s.addSlots(p, a.Slots, -1, a.DrawW)
	s.allocs[a.Job.ID] = a
	if s.bySite {
		a.siteIdx = int32(len(s.siteAllocs[a.Site]))
		s.siteAllocs[a.Site] = append(s.siteAllocs[a.Site], a)
	}
	if a.CapW > 0 {
		s.capped[a.Job.ID] = a
		s.saveW[a.Site] += s.capSave(a) * float64(total)
	}
	a.endH, a.startH = -1, -1
	a.startKey = a.Start.UnixNano()
	if a.Job.Duration > 0 {
		a.endKey = a.Start.Add(a.Job.Duration).UnixNano()
		p.ends.push(a)
	}
	if a.Job.Preemptible && s.byStart {
		p.preemptible.push(a)
		p.preemptAcc[a.Job.Priority] += int32(total)
	}
	a.tenant = s.tenantOf(a.Job.Tenant)
	s.tenants[a.tenant] += total
	s.running += total
	if s.epoch.IsZero() {
		s.epoch = a.Start
	}
	s.startSum[a.tenant] += float64(total) * a.Start.Sub(s.epoch).Seconds()
}

// trackOwners starts keeping the owner of every allocated accelerator
// (Snapshot.owner), from the running jobs on.
func (s *Snapshot) trackOwners() {
	if s.owner != nil {
		return
	}
	s.owner = make([]JobID, s.f.Accelerators)
	for id, a := range s.allocs {
		for _, sl := range a.Slots {
			s.setOwner(sl, id)
		}
	}
}

// setOwner records id as the owner of slot sl's accelerators.
// A slot's accelerators are most often a run of a node's: written as a
// range.
func (s *Snapshot) setOwner(sl Slot, id JobID) {
	first := s.node[sl.Node].first
	lo := int32(bits.TrailingZeros64(sl.Mask))
	hi := int32(64 - bits.LeadingZeros64(sl.Mask))
	if bits.OnesCount64(sl.Mask) == int(hi-lo) {
		o := s.owner[first+lo : first+hi]
		for i := range o {
			o[i] = id
		}
		return
	}
	for m := sl.Mask; m != 0; m &= m - 1 {
		s.owner[first+int32(bits.TrailingZeros64(m))] = id
	}
}

// attainedAt is a's service to now, earlier runs included.
func (a *Alloc) attainedAt(now time.Time) float64 {
	return a.attained + float64(a.accelerators())*max(now.Sub(a.Start).Seconds(), 0)
}

// accelerators returns how many accelerators a holds.
func (a *Alloc) accelerators() int {
	n := 0
	for _, sl := range a.Slots {
		n += bits.OnesCount64(sl.Mask)
	}
	return n
}

// account books a's accelerator-seconds up to now as done, before a
// release at now.
func (s *Snapshot) account(a *Alloc, now time.Time) {
	if d := now.Sub(a.Start).Seconds(); d > 0 {
		s.done[a.tenant] += float64(a.accelerators()) * d
		s.doneOK[a.tenant] = true
	}
}

// tenantOf returns a tenant's index, giving it one at its first call.
func (s *Snapshot) tenantOf(name string) int32 {
	t, ok := s.tenantIdx[name]
	if !ok {
		t = int32(len(s.tenantName))
		s.tenantIdx[name] = t
		s.tenantName = append(s.tenantName, name)
		s.tenants = append(s.tenants, 0)
		s.done = append(s.done, 0)
		s.doneOK = append(s.doneOK, false)
		s.startSum = append(s.startSum, 0)
	}
	return t
}

// TenantSeconds returns a tenant's accelerator-seconds to now: its
// finished runs and its running jobs so far.
func (s *Snapshot) TenantSeconds(tenant string, now time.Time) float64 {
	i, ok := s.tenantIdx[tenant]
	if !ok {
		return 0
	}
	return s.tenantSeconds(i, now)
}

func (s *Snapshot) tenantSeconds(i int32, now time.Time) float64 {
	t := s.done[i]
	if n := s.tenants[i]; n > 0 {
		t += float64(n)*now.Sub(s.epoch).Seconds() - s.startSum[i]
	}
	return t
}

// free removes a from the running set and updates every index.
func (s *Snapshot) free(a *Alloc) {
	p := s.pools[a.pool]
	total := 0
	for _, sl := range a.Slots {
		c := bits.OnesCount64(sl.Mask)
		total += c
		s.node[sl.Node].mask &^= sl.Mask
	}
	s.addSlots(p, a.Slots, +1, a.DrawW)
	delete(s.allocs, a.Job.ID)
	if a.CapW > 0 {
		delete(s.capped, a.Job.ID)
		s.saveW[a.Site] -= s.capSave(a) * float64(total)
	}
	if s.bySite {
		sa := s.siteAllocs[a.Site]
		last := sa[len(sa)-1]
		sa[a.siteIdx], last.siteIdx = last, a.siteIdx
		s.siteAllocs[a.Site] = sa[:len(sa)-1]
	}
	p.ends.remove(a)
	if a.Job.Preemptible && s.byStart {
		p.preemptible.remove(a)
		if p.preemptAcc[a.Job.Priority] -= int32(total); p.preemptAcc[a.Job.Priority] == 0 {
			delete(p.preemptAcc, a.Job.Priority)
		}
	}
	s.startSum[a.tenant] -= float64(total) * a.Start.Sub(s.epoch).Seconds()
	if s.tenants[a.tenant] -= total; s.tenants[a.tenant] == 0 {
		s.startSum[a.tenant] = 0 // its sum starts again from nothing
	}
	s.running -= total
}

// Fleet returns the fleet the snapshot was built from.
func (s *Snapshot) Fleet() *fleet.Fleet { return s.f }

// Release removes a running job at now (it completed, failed or was
// cancelled), frees its accelerators and books its accelerator-seconds to
// its tenant. It returns the allocation it removed, or false if the job
// was not running. Releasing twice is harmless.
func (s *Snapshot) Release(id JobID, now time.Time) (*Alloc, bool) {
	a, ok := s.allocs[id]
	if !ok {
		return nil, false
	}
	s.account(a, now)
	s.free(a)
	return a, true
}

// Restore records a job as running on slots since start, as a driver does
// when it rebuilds a snapshot from its store after a restart. The slots
// must be free, on nodes of one model in one site.
func (s *Snapshot) Restore(job Job, slots []Slot, start time.Time) error {
	if err := job.Validate(); err != nil {
		return err
	}
	if _, ok := s.allocs[job.ID]; ok {
		return fmt.Errorf("engine: restore job %d: %w", job.ID, ErrDuplicateJob)
	}
	if len(slots) == 0 {
		return fmt.Errorf("engine: restore job %d: no slots", job.ID)
	}
	pi := int32(-1)
	for _, sl := range slots {
		if sl.Node < 0 || int(sl.Node) >= len(s.f.Nodes) {
			return fmt.Errorf("engine: restore job %d: no node %d", job.ID, sl.Node)
		}
		if pi >= 0 && s.nodePool[sl.Node] != pi {
			return fmt.Errorf("engine: restore job %d: slots span node models or sites", job.ID)
		}
		pi = s.nodePool[sl.Node]
		p := s.pools[pi]
		if sl.Mask == 0 || sl.Mask&^(1<<uint(p.perNode)-1) != 0 || s.node[sl.Node].mask&sl.Mask != 0 {
			return fmt.Errorf("engine: restore job %d: accelerators of node %d are not free", job.ID, sl.Node)
		}
	}
	p := s.pools[pi]
	a := &Alloc{Job: job, Site: p.site, Slots: append([]Slot(nil), slots...), Start: start, pool: pi, DrawW: p.drawW(&job), class: -1}
	s.allocate(a)
	return nil
}

// drawW is a job's expected draw above idle per accelerator of pool p:
// its fraction of the accelerator's and node overhead's rated power, less
// the idle draw already counted.
func (p *pool) drawW(j *Job) int64 {
	w := j.powerFraction()*p.maxW - p.idleW
	if w < 0 {
		return 0
	}
	return int64(math.Ceil(w))
}

// SetNodeState changes a node's health. A node that is not Up takes no new
// work; jobs already on it keep running until released (Engine.FailNode
// releases and requeues them for a lost node). It returns the jobs on the
// node, in ID order.
func (s *Snapshot) SetNodeState(n int, st NodeState) []JobID {
	old := s.node[n].state
	if old != st {
		p := s.pools[s.nodePool[n]]
		s.touch(p.site)
		freeN := int32(bits.OnesCount64(s.nodeFreeMask(p, int32(n))))
		if old == Up {
			s.addFree(p, int32(n), -freeN)
		}
		site := s.f.SiteOfNode(n)
		if old == Down {
			s.idleUp[site] += s.nodeIdle(n)
		} else if st == Down {
			s.idleUp[site] -= s.nodeIdle(n)
		}
		s.node[n].state = st
		if st == Up {
			s.addFree(p, int32(n), freeN)
		}
	}
	return s.jobsOnNode(n)
}

func (s *Snapshot) jobsOnNode(n int) []JobID {
	if s.node[n].mask == 0 {
		return nil
	}
	s.trackOwners()
	var out []JobID
	first := s.node[n].first
	for m := s.node[n].mask; m != 0; m &= m - 1 {
		id := s.owner[first+int32(bits.TrailingZeros64(m))]
		if len(out) == 0 || out[len(out)-1] != id {
			out = append(out, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	k := 0
	for i, id := range out {
		if i == 0 || id != out[k-1] {
			out[k] = id
			k++
		}
	}
	return out[:k]
}

// NodeState returns node n's health.
func (s *Snapshot) NodeState(n int) NodeState { return s.node[n].state }

// SetMeasured records the measured draw in watts of a domain (site, hall,
// row or rack; the site figure is IT power, before PUE). Engine.Control
// compares it with the domain's limit.
func (s *Snapshot) SetMeasured(l fleet.Level, domain int, w int64) {
	s.measured[l][domain] = w
	if l == fleet.LevelSite {
		s.fresh[domain] = true
	}
	s.markOver(l, int32(domain))
}

// markOver notes whether domain d of level l is over overCtl's upper
// threshold.
func (s *Snapshot) markOver(l fleet.Level, d int32) {
	word, bit := &s.over[l][d>>6], uint64(1)<<(d&63)
	if m := s.measured[l][d]; m != 0 && s.overCtl.Excess(s.ratedFast(l, d), float64(m)) > 0 {
		*word |= bit
	} else {
		*word &^= bit
	}
}

// overDomains returns the domains whose measured draw c finds over its
// upper threshold, by level then index.
func (s *Snapshot) overDomains(c power.Controller, out []domKey) []domKey {
	if c != s.overCtl { // a new controller: judge every domain again
		s.overCtl = c
		for l := fleet.LevelSite; l <= fleet.LevelRack; l++ {
			for d := range s.measured[l] {
				s.markOver(l, int32(d))
			}
		}
	}
	for l := fleet.LevelSite; l <= fleet.LevelRack; l++ {
		for w, word := range s.over[l] {
			for ; word != 0; word &= word - 1 {
				out = append(out, domKey{l, int32(w<<6 + bits.TrailingZeros64(word))})
			}
		}
	}
	return out
}

// Measured returns the last measured draw set for a domain.
func (s *Snapshot) Measured(l fleet.Level, domain int) int64 { return s.measured[l][domain] }

// Draw returns the expected draw in watts of a domain: its nodes' idle
// draw plus the admitted draw of the jobs below it.
func (s *Snapshot) Draw(l fleet.Level, domain int) int64 { return s.draw[l][domain] }

// Limit returns the admission limit in watts of a domain: its rating times
// its site's oversubscription ratio (for a site, the IT share: the
// substation rating over PUE).
func (s *Snapshot) Limit(l fleet.Level, domain int) int64 { return s.limit[l][domain] }

// Alloc returns the allocation of a running job.
func (s *Snapshot) Alloc(id JobID) (*Alloc, bool) {
	a, ok := s.allocs[id]
	return a, ok
}

// Running returns the IDs of the running jobs, in ID order.
func (s *Snapshot) Running() []JobID {
	out := make([]JobID, 0, len(s.allocs))
	for id := range s.allocs {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Jobs returns the number of running jobs.
func (s *Snapshot) Jobs() int { return len(s.allocs) }

// Allocated returns the number of allocated accelerators.
func (s *Snapshot) Allocated() int { return s.running }

// Free returns the number of free accelerators on Up nodes.
func (s *Snapshot) Free() int {
	n := 0
	for _, p := range s.pools {
		n += int(p.free)
	}
	return n
}

// TenantAccelerators returns the accelerators running for a tenant.
func (s *Snapshot) TenantAccelerators(tenant string) int {
	if i, ok := s.tenantIdx[tenant]; ok {
		return s.tenants[i]
	}
	return 0
}

// NodePath returns node n's site, hall, row and rack, as fleet.Path
// does, from the snapshot's own copy: the one its placements and
// releases have just read.
func (s *Snapshot) NodePath(n int32) [fleet.LevelNode]int32 { return s.node[n].up }

// NodeModel returns node n's model (an index into the catalog's nodes),
// as fleet.Node.Model does, from the record NodePath reads.
func (s *Snapshot) NodeModel(n int32) uint16 { return s.node[n].model }

// Owner returns the job running on global accelerator a, or 0.
func (s *Snapshot) Owner(a int) JobID {
	nodes := s.f.Nodes
	n := sort.Search(len(nodes), func(i int) bool { return int(nodes[i].FirstAccel) > a }) - 1
	if n < 0 || s.node[n].mask&(1<<(a-int(nodes[n].FirstAccel))) == 0 {
		return 0
	}
	s.trackOwners()
	return s.owner[a]
}

// DomainName returns the full name of a domain ("site/hall/row").
func (s *Snapshot) DomainName(l fleet.Level, d int32) string {
	f := s.f
	switch l {
	case fleet.LevelSite:
		return f.Sites[d].Name
	case fleet.LevelHall:
		return s.DomainName(fleet.LevelSite, f.Halls[d].Parent) + "/" + f.Halls[d].Name
	case fleet.LevelRow:
		return s.DomainName(fleet.LevelHall, f.Rows[d].Parent) + "/" + f.Rows[d].Name
	case fleet.LevelRack:
		return f.RackPath(int(d))
	case fleet.LevelNode:
		return f.NodeName(int(d))
	}
	return "?"
}

// Describe formats a reason for people: "power:row/lab/hall-a/row-1";
// for SliceShape, the model and the shapes it allows:
// "slice-shape:tpu-v6e-host(1x1,2x2,2x4,4x4,4x8,8x8,8x16,16x16)".
func (s *Snapshot) Describe(r Reason) string {
	if r.Code == SliceShape && r.Level == fleet.LevelNode && r.Domain >= 0 && int(r.Domain) < len(s.f.Nodes) {
		m := s.f.NodeModel(int(r.Domain))
		return string(r.Code) + ":" + m.Name + "(" + strings.Join(m.SliceShapes, ",") + ")"
	}
	if r.Domain >= 0 {
		return string(r.Code) + ":" + r.Level.String() + "/" + s.DomainName(r.Level, r.Domain)
	}
	return r.String()
}

// Node returns the index of the node with this full name
// ("site/hall/row/rack/nN"), as a driver that knows nodes by name needs.
// The first call builds the name index.
func (s *Snapshot) Node(name string) (int, bool) {
	if s.nodeByName == nil {
		s.nodeByName = make(map[string]int32, len(s.f.Nodes))
		for i := range s.f.Nodes {
			s.nodeByName[s.f.NodeName(i)] = int32(i)
		}
	}
	n, ok := s.nodeByName[name]
	return int(n), ok
}

// SetCap records a running job's per-accelerator cap in watts (0 lifts
// it), as a driver does when it restores a snapshot whose jobs were
// capped. It reports whether the job runs.
func (s *Snapshot) SetCap(id JobID, capW float64) bool {
	a, ok := s.allocs[id]
	if !ok {
		return false
	}
	s.setCap(a, capW)
	return true
}

// setCap puts a per-accelerator cap of capW watts on a running job (0
// lifts it), keeping the site's cap savings in step.
func (s *Snapshot) setCap(a *Alloc, capW float64) {
	n := float64(a.accelerators())
	if a.CapW > 0 {
		s.saveW[a.Site] -= s.capSave(a) * n
	}
	a.CapW = max(capW, 0)
	if a.CapW > 0 {
		s.capped[a.Job.ID] = a
		s.saveW[a.Site] += s.capSave(a) * n
	} else {
		delete(s.capped, a.Job.ID)
		a.gridCap = false
	}
}

// capSave is what a capped job's cap saves per accelerator against its
// expected draw: its expected accelerator draw less the cap, never more
// than all it draws above idle, never less than nothing.
func (s *Snapshot) capSave(a *Alloc) float64 {
	if a.CapW <= 0 {
		return 0
	}
	acc := &s.f.Catalog.Accelerators[s.pools[a.pool].accel]
	return min(float64(a.DrawW), max(a.Job.powerFraction()*acc.TDPW-a.CapW, 0))
}

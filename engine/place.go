package engine

import (
	"cmp"
	"math/bits"
	"slices"
	"time"

	"stargate/fleet"
)

// request is one placement attempt of a job in one pool.
type request struct {
	k       int32       // accelerators
	perNode int32       // exact accelerators per node, 0 = any
	w       int64       // expected draw above idle per accelerator
	top     fleet.Level // the widest level the job may span
	// grp confines the job to one scale-up group of racks (a supernode,
	// a pod), which lies in a row: top is then the row.
	grp bool
	// perRack, when > 0, takes whole racks of exactly this many (a slice
	// of several TPU cubes).
	perRack int32
	// badShape: the pool hands out slices and k is the volume of none.
	badShape bool
}

// outcome is why an attempt in a pool failed; the zero value is success.
type outcome struct {
	code  Code
	level fleet.Level
	dom   int32
}

// rank orders refusals by what a waiting job is told: a grid event or a
// ramp over power, power over the shape of what is free.
func (o outcome) rank() int {
	switch o.code {
	case "":
		return 0
	case Grid, Ramp:
		return 3
	case Power:
		return 2
	}
	return 1
}

// child is a candidate sub-domain during a fill.
type child struct {
	id  int32 // global index
	cap int32 // accelerators it can take (free, power, node shape)
}

// placer holds scratch buffers reused across attempts so that a placement
// allocates only its result.
type placer struct {
	s     *Snapshot
	slots []Slot
	kids  [][]child // one buffer per recursion depth
	// cut is the first domain whose headroom cut a child's share during
	// the last fill, to explain a refusal by power rather than shape.
	cut outcome
	// gaveUp says the last place stopped at maxCandidates domains of a
	// level: its refusal proves nothing for other jobs.
	gaveUp bool
	// ids and grpIDs hold a small index's bucket (buckets.ids) while
	// place, or placeGroup, tries its domains: never a bucket list
	ids, grpIDs []int32
	// grid, when set, holds admission to grid events and ramps (see
	// gridState.admit) at gnow, for a job gated by the events of gmask.
	grid  *gridState
	gnow  time.Time
	gmask uint64
}

// makeRequest is job j's placement attempt in pool p, all but its draw:
// the widest level it may span (its topology's if required, else the
// site), and on a pool that hands out slices the shape's own limits.
func makeRequest(j *Job, p *pool) request {
	if j.TopologyRequired || p.shapes != nil {
		return narrowRequest(j, p)
	}
	return request{k: int32(j.Accelerators), perNode: int32(j.PerNode)} // top: the site
}

// narrowRequest is makeRequest for a job that requires a topology or a
// pool that hands out slices.
func narrowRequest(j *Job, p *pool) request {
	r := request{k: int32(j.Accelerators), perNode: int32(j.PerNode)}
	if j.TopologyRequired {
		r.top, r.grp = required(j.Topology, p)
	}
	if p.shapes != nil {
		r.slice(p)
	}
	return r
}

// required is the widest level a job that requires topology t may span in
// pool p, and whether it must keep to one scale-up group of racks (which
// lies in a row).
func required(t Topology, p *pool) (fleet.Level, bool) {
	switch t {
	case TopologyNode:
		return fleet.LevelNode, false
	case TopologyNVLink:
		switch {
		case p.nvlRack:
			return fleet.LevelRack, false
		case p.grp != nil:
			return fleet.LevelRow, true
		}
		return fleet.LevelNode, false
	case TopologyRack:
		return fleet.LevelRack, false
	case TopologyRow:
		return fleet.LevelRow, false
	case TopologyHall:
		return fleet.LevelHall, false
	}
	return fleet.LevelSite, false
}

// slice narrows r to what a slice of r.k accelerators may take in pool p:
// within one host if it fits one; else whole hosts within one rack (a
// TPU cube) if it fits one; else whole hosts, and whole racks when it is
// made of them, within one scale-up group (a pod). A size that is the
// volume of no allowed shape is refused (badShape). A tighter topology
// the job requires still holds; a per-node shape it asks for is kept.
func (r *request) slice(p *pool) {
	if _, ok := slices.BinarySearch(p.shapes, r.k); !ok {
		r.badShape = true
		return
	}
	whole := r.k%p.perNode == 0
	top, grp := fleet.LevelNode, false
	switch {
	case r.k <= p.perNode:
	case r.k <= p.cube:
		top = fleet.LevelRack
	default:
		// within one pod; anywhere in the site when the model has none
		top = fleet.LevelSite
		if p.grp != nil {
			top, grp = fleet.LevelRow, true
		}
		if r.k%p.cube == 0 && r.perNode == 0 {
			r.perRack = p.cube
		}
	}
	if r.k > p.perNode && whole && r.perNode == 0 {
		r.perNode = p.perNode
	}
	if top > r.top || (top == r.top && grp) {
		r.top, r.grp = top, grp
	}
	if r.top > fleet.LevelRow {
		r.grp = false
	}
}

// staticFit reports whether the job could ever fit pool p when it is
// empty: NoDomainLargeEnough if not (SliceShape when its size is no
// slice the pool allows).
func staticFit(r *request, p *pool) bool {
	if r.badShape {
		return false
	}
	cap := p.cap[r.top]
	if r.grp {
		cap = p.grpCap
	}
	if r.k > cap {
		return false
	}
	if r.perNode > 0 && r.perNode > p.perNode {
		return false
	}
	return true
}

// headroom checks that w more watts fit domain d of level l and all its
// ancestors (a node's from its rack up); it returns the first that does
// not.
func (s *Snapshot) headroom(l fleet.Level, d int32, w int64) (outcome, bool) {
	if l == fleet.LevelNode {
		// the node's path, kept by the snapshot
		up := &s.node[d].up
		for l := fleet.LevelRack; ; l-- {
			if d := up[l]; s.draw[l][d]+w > s.limit[l][d] {
				return outcome{code: Power, level: l, dom: d}, false
			}
			if l == fleet.LevelSite {
				return outcome{}, true
			}
		}
	}
	for {
		if s.draw[l][d]+w > s.limit[l][d] {
			return outcome{code: Power, level: l, dom: d}, false
		}
		if l == fleet.LevelSite {
			return outcome{}, true
		}
		d, l = s.f.Parent(l, d), l-1
	}
}

// probe returns the capacity of the narrowest domain kind in which the
// pool has room for k, ignoring power, and the best-fit free count there;
// ok is false if none.
func probe(r *request, p *pool) (cap, fit int32, ok bool) {
	if p.free < r.k {
		return 0, 0, false
	}
	for _, l := range upward {
		if l == fleet.LevelSite || l < r.top {
			break
		}
		if l == fleet.LevelRow && p.grp != nil && p.grpCap >= r.k {
			if f := p.grp.atLeast(r.k); f >= 0 {
				return p.grpCap, f, true
			}
		}
		if r.grp && l == fleet.LevelRow {
			return 0, 0, false
		}
		if p.cap[l] < r.k {
			continue
		}
		if f := p.lv[l].atLeast(r.k); f >= 0 {
			return p.cap[l], f, true
		}
	}
	if r.top == fleet.LevelSite {
		return p.cap[fleet.LevelSite], p.free, true
	}
	return 0, 0, false
}

// maxCandidates bounds the domains tried per level before moving up, so
// that a pass stays fast when power or node shape refuse many domains.
const maxCandidates = 32

// place tries to place r in pool p. On success it returns the slots, in
// the placer's scratch buffer (valid until the next call: commit copies
// them); otherwise why not.
func (pl *placer) place(r *request, p *pool) ([]Slot, outcome) {
	s := pl.s
	pl.gaveUp = false
	if p.free < r.k {
		return nil, outcome{code: InsufficientFree}
	}
	// every placement draws on the site: when it has no room, no domain
	// below needs trying
	if o, ok := s.headroom(fleet.LevelSite, p.site, int64(r.k)*r.w); !ok {
		return nil, o
	}
	if g := pl.grid; g != nil {
		if o, ok := g.admit(p.site, s.startRise(p, int(r.k)), pl.gmask, pl.gnow); !ok {
			return nil, o
		}
	}
	var first outcome
	note := func(o outcome) {
		if first.code == "" || (first.code != Power && o.code == Power) {
			first = o
		}
	}
	for _, l := range upward {
		if l < r.top {
			break
		}
		// a scale-up group of racks (a supernode, a pod) lies between the
		// rack and the row: tried first, and alone when the job requires it
		if l == fleet.LevelRow && p.grp != nil {
			if slots := pl.placeGroup(r, p, note); slots != nil {
				return slots, outcome{}
			}
			if r.grp {
				break
			}
		}
		if p.cap[l] < r.k {
			continue
		}
		if l == fleet.LevelSite {
			d := p.site
			if o, ok := s.headroom(fleet.LevelSite, d, int64(r.k)*r.w); !ok {
				note(o)
				break
			}
			pl.slots, pl.cut = pl.slots[:0], outcome{}
			if pl.fill(r, p, fleet.LevelSite, d, r.k, 0) == r.k {
				return pl.slots, outcome{}
			}
			note(pl.fillFailure())
			break
		}
		b := p.lv[l]
		tried := 0
	level:
		for f := b.atLeast(r.k); f >= 0; f = b.atLeast(f + 1) {
			h := b.ids(f, &pl.ids)
			for i := len(h) - 1; i >= 0; i-- {
				if tried == maxCandidates {
					pl.gaveUp = true // a refusal that may not hold for larger jobs
					break level
				}
				tried++
				d := h[i] + p.off[l]
				if o, ok := s.headroom(l, d, int64(r.k)*r.w); !ok {
					note(o)
					continue
				}
				pl.slots, pl.cut = pl.slots[:0], outcome{}
				if pl.fill(r, p, l, d, r.k, 0) == r.k {
					return pl.slots, outcome{}
				}
				note(pl.fillFailure())
			}
		}
	}
	if first.code == "" {
		first.code = Fragmented
	}
	return nil, first
}

// placeGroup tries the pool's scale-up groups of racks with room for r,
// best fit first, as place tries the domains of a level: the headroom of
// the group's row and above, then a fill of its racks. It returns the
// slots, or nil with every refusal noted.
func (pl *placer) placeGroup(r *request, p *pool, note func(outcome)) []Slot {
	if p.grpCap < r.k {
		return nil
	}
	s := pl.s
	b := p.grp
	tried := 0
	for f := b.atLeast(r.k); f >= 0; f = b.atLeast(f + 1) {
		h := b.ids(f, &pl.grpIDs)
		for i := len(h) - 1; i >= 0; i-- {
			if tried == maxCandidates {
				pl.gaveUp = true
				return nil
			}
			tried++
			su := &s.f.ScaleUps[p.groups[h[i]]]
			if o, ok := s.headroom(fleet.LevelRow, su.Row, int64(r.k)*r.w); !ok {
				note(o)
				continue
			}
			pl.slots, pl.cut = pl.slots[:0], outcome{}
			if pl.fillRange(r, p, fleet.LevelRack, su.FirstRack, su.EndRack, r.k, 0) == r.k {
				return pl.slots
			}
			note(pl.fillFailure())
		}
	}
	return nil
}

// fillFailure says why the last fill fell short: power if a headroom cut
// a share, else the shape of what is free.
func (pl *placer) fillFailure() outcome {
	if pl.cut.code != "" {
		return pl.cut
	}
	return outcome{code: Fragmented}
}

// fill selects up to want accelerators under domain d of level l,
// appending slots; it returns how many it selected. Ancestors' headroom
// has been checked by the caller; each child's own headroom is checked
// here. It never changes the snapshot.
func (pl *placer) fill(r *request, p *pool, l fleet.Level, d, want int32, depth int) int32 {
	s := pl.s
	if l == fleet.LevelNode {
		fm := s.nodeFreeMask(p, d)
		n := int32(bits.OnesCount64(fm))
		if r.perNode > 0 {
			if n < r.perNode || want < r.perNode {
				return 0
			}
			want = r.perNode
		}
		if n < want {
			want = n
		}
		var m uint64
		for i := int32(0); i < want; i++ {
			low := fm & -fm
			m |= low
			fm &^= low
		}
		if m != 0 {
			pl.slots = append(pl.slots, Slot{Node: d, Mask: m})
		}
		return want
	}
	// children of d, one level down
	lo, hi := s.f.Children(l, d)
	return pl.fillRange(r, p, l+1, lo, hi, want, depth)
}

// fillRange selects up to want accelerators among the domains [lo, hi) of
// level cl (the children of one domain, or the racks of a scale-up
// group), largest first and best-fitting the remainder, checking each
// one's own headroom; it returns how many it selected.
func (pl *placer) fillRange(r *request, p *pool, cl fleet.Level, lo, hi, want int32, depth int) int32 {
	s := pl.s
	for len(pl.kids) <= depth {
		pl.kids = append(pl.kids, nil)
	}
	kids := pl.kids[depth][:0]
	b := p.lv[cl]
	for c := lo; c < hi; c++ {
		fr := b.at[c-p.off[cl]].free
		if fr == 0 {
			continue
		}
		if cl != fleet.LevelNode && r.w > 0 {
			room := (s.limit[cl][c] - s.draw[cl][c]) / r.w
			if room < int64(fr) {
				fr = int32(max(room, 0))
				if pl.cut.code == "" {
					pl.cut = outcome{code: Power, level: cl, dom: c}
				}
			}
		}
		if r.perRack > 0 && cl == fleet.LevelRack {
			if fr < r.perRack {
				continue
			}
			fr = r.perRack
		}
		if r.perNode > 0 {
			if cl == fleet.LevelNode {
				if fr < r.perNode {
					continue
				}
				fr = r.perNode
			} else {
				fr -= fr % r.perNode
			}
		}
		if fr > 0 {
			kids = append(kids, child{id: c, cap: fr})
		}
	}
	// largest first; ties by index for determinism
	slices.SortFunc(kids, func(a, b child) int {
		if a.cap != b.cap {
			return cmp.Compare(b.cap, a.cap)
		}
		return cmp.Compare(a.id, b.id)
	})
	pl.kids[depth] = kids
	got := int32(0)
	for i := 0; i < len(kids) && got < want; {
		rem := want - got
		// best fit: the smallest child that takes the rest at once
		bf := -1
		for j := len(kids) - 1; j >= i; j-- {
			if kids[j].cap >= rem {
				bf = j
				break
			}
		}
		if bf >= 0 {
			mark := len(pl.slots)
			n := pl.fill(r, p, cl, kids[bf].id, rem, depth+1)
			if n == rem {
				return want
			}
			// partial (a per-node shape or a deeper power limit took less
			// than the estimate): undo, and take the largest child instead,
			// keeping whatever it can give
			pl.slots = pl.slots[:mark]
		}
		take := min(kids[i].cap, rem)
		got += pl.fill(r, p, cl, kids[i].id, take, depth+1)
		i++
	}
	return got
}

// commit allocates a placement chosen by place for pending job p.
func (s *Snapshot) commit(p *Pending, pi int32, slots []Slot, w int64, now time.Time) *Alloc {
	a := &Alloc{Job: p.Job, Site: s.pools[pi].site, Start: now, DrawW: w,
		pool: pi, seq: p.Seq, submitted: p.Submitted, requeues: p.Requeues, attained: p.Attained, class: p.class}
	if len(slots) == 1 {
		a.one[0] = slots[0]
		a.Slots = a.one[:]
	} else {
		a.Slots = append([]Slot(nil), slots...)
	}
	s.allocate(a)
	return a
}

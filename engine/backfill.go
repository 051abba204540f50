package engine

import (
	"math/bits"
	"time"

	"stargate/fleet"
)

// reservation is what backfill holds for the blocked queue head: the
// accelerators of the placement it is expected to get when running jobs
// end (at), and the watts it will then draw along its power path.
//
// While a pass holds the reservation, the free accelerators of that
// placement are marked taken in the snapshot and the watts are added to
// the draw of every domain on the path, so that a later job that would
// still run at that time sees neither: it can start only where it does
// not delay the head, through accelerators or through any breaker they
// share. A job expected to end by then sees the hold lifted.
type reservation struct {
	active   bool
	pool     int32
	at       time.Time
	infinite bool // no placement known: the whole pool is held
	slots    []Slot
	watts    []heldW
	// while held: the accelerators taken out of the free indexes
	holding bool
	held    []Slot
}

// heldW is the draw held in one domain of the head's path: what the head
// will draw there beyond what the jobs ending before it give back.
type heldW struct {
	level fleet.Level
	dom   int32
	w     int64
}

// maxReserveTries bounds the end times at which reserve tries to place the
// head before it holds the whole pool instead.
const maxReserveTries = 64

// reserve computes the backfill reservation for p, the first job of the
// pass that cannot start. In each pool it may use, it releases running
// jobs in order of expected end (start + estimated duration) on a scratch
// basis and tries to place p after each group of ends, until p fits; the
// earliest time wins, and its placement and the watts along its path are
// held for the rest of the pass (see reservation). It then puts every job
// back: the snapshot is unchanged but for the hold.
func (ps *pass) reserve(p *Pending) {
	s := ps.s
	j := &p.Job
	k := int32(j.Accelerators)
	var best reservation
	for _, pi := range ps.e.eligible(j) {
		pp := s.pools[pi]
		r := makeRequest(j, pp)
		r.w = pp.drawW(j)
		if !staticFit(&r, pp) || pp.total < k {
			continue
		}
		c := ps.expect(p, pi, &r)
		if !best.active || (!c.infinite && (best.infinite || c.at.Before(best.at))) {
			best = c
		}
	}
	if !best.active {
		return
	}
	ps.resv = best
	ps.hold()
	rv := &Reservation{Job: j.ID, Site: s.pools[best.pool].site}
	if !best.infinite {
		rv.Start = best.at
	}
	ps.res.Reservation = rv
}

// expect finds when and where p is expected to fit in pool pi. It frees
// the running jobs of the pool's site (every pool there shares its
// breakers) in order of expected end, and after each end time at which
// the pool has enough accelerators it tries to place p; it notes the
// first placement and the draw it needs along its path, and restores the
// jobs.
func (ps *pass) expect(p *Pending, pi int32, r *request) reservation {
	s := ps.s
	pp := s.pools[pi]
	var site []*pool
	for _, q := range s.pools {
		if q.site == pp.site {
			site = append(site, q)
		}
	}
	res := reservation{active: true, pool: pi, infinite: true}
	// the reservation is for when running jobs have ended: grid events
	// and ramps are judged then, not now
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
				res.watts = ps.pathDraw(res.slots, r.w)
				break
			}
		}
		// release every job of the site that ends next
		key, any := int64(0), false
		for _, q := range site {
			if len(q.ends.items) > 0 && (!any || q.ends.items[0].endKey < key) {
				key, any = q.ends.items[0].endKey, true
			}
		}
		if !any {
			break // nothing more ends: jobs of unknown duration hold the rest
		}
		for _, q := range site {
			for len(q.ends.items) > 0 && q.ends.items[0].endKey == key {
				a := q.ends.items[0]
				if q == pp {
					for _, sl := range a.Slots {
						if s.nodeState[sl.Node] == Up {
							avail += int32(bits.OnesCount64(sl.Mask))
						}
					}
				}
				s.free(a)
				freed = append(freed, a)
			}
		}
		at = time.Unix(0, key).UTC()
		if at.Before(ps.now) {
			at = ps.now // overdue jobs are expected to end now
		}
	}
	// While the jobs are freed, the path's draw is what it will be at
	// that time; the hold is what the head needs beyond today's draw
	// (never less than nothing).
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

// pathDraw returns the draw slots add to every domain on their power
// path when each accelerator draws w.
func (ps *pass) pathDraw(slots []Slot, w int64) []heldW {
	s := ps.s
	var out []heldW
	at := map[[2]int32]int{}
	add := func(l fleet.Level, d int32, x int64) {
		k := [2]int32{int32(l), d}
		if i, ok := at[k]; ok {
			out[i].w += x
			return
		}
		at[k] = len(out)
		out = append(out, heldW{level: l, dom: d, w: x})
	}
	for _, sl := range slots {
		x := int64(bits.OnesCount64(sl.Mask)) * w
		path := s.f.Path(int(sl.Node))
		for l := fleet.LevelSite; l <= fleet.LevelRack; l++ {
			add(l, path[l], x)
		}
	}
	return out
}

// hold takes the reservation out of the snapshot: the free accelerators
// of the head's expected placement, and the watts along its path. For a
// reservation with no known placement it holds nothing here: try keeps
// later jobs out of the whole pool instead.
func (ps *pass) hold() {
	r := &ps.resv
	if !r.active || r.holding {
		return
	}
	s := ps.s
	pp := s.pools[r.pool]
	r.held = r.held[:0]
	for _, sl := range r.slots {
		if s.nodeState[sl.Node] != Up {
			continue
		}
		m := sl.Mask & s.nodeFreeMask(pp, sl.Node)
		if m == 0 {
			continue
		}
		s.nodeMask[sl.Node] |= m
		s.addFree(pp, sl.Node, -int32(bits.OnesCount64(m)))
		r.held = append(r.held, Slot{Node: sl.Node, Mask: m})
	}
	for _, h := range r.watts {
		s.draw[h.level][h.dom] += h.w
	}
	r.holding = true
}

// unhold gives back what hold took, for good (the pass ends).
func (ps *pass) unhold() {
	r := &ps.resv
	if !r.holding {
		return
	}
	s := ps.s
	pp := s.pools[r.pool]
	for _, sl := range r.held {
		s.nodeMask[sl.Node] &^= sl.Mask
		s.addFree(pp, sl.Node, int32(bits.OnesCount64(sl.Mask)))
	}
	for _, h := range r.watts {
		s.draw[h.level][h.dom] -= h.w
	}
	r.held = r.held[:0]
	r.holding = false
}

// lift gives back what the hold took for a moment, logging every move in
// the free indexes (into log) so that restore can put them back exactly:
// the order within a bucket decides which of equally free domains a best
// fit takes, and looking must not change where later jobs go.
func (ps *pass) lift(log []moved) []moved {
	r := &ps.resv
	s := ps.s
	pp := s.pools[r.pool]
	for _, sl := range r.held {
		s.nodeMask[sl.Node] &^= sl.Mask
		c := int32(bits.OnesCount64(sl.Mask))
		d := sl.Node
		for l := fleet.LevelNode; l > fleet.LevelSite; l-- {
			log = pp.lv[l].addLogged(d-pp.off[l], c, log)
			d = s.f.Parent(l, d)
		}
		if pp.grp != nil {
			if g := pp.grpOf[s.f.Nodes[sl.Node].Rack-pp.off[fleet.LevelRack]]; g >= 0 {
				log = pp.grp.addLogged(g, c, log)
			}
		}
		pp.free += c
	}
	for _, h := range r.watts {
		s.draw[h.level][h.dom] -= h.w
	}
	r.holding = false
	return log
}

// restore takes the hold back after lift, exactly, when nothing else
// changed in between.
func (ps *pass) restore(log []moved) {
	r := &ps.resv
	s := ps.s
	pp := s.pools[r.pool]
	for i := len(log) - 1; i >= 0; i-- {
		log[i].undo()
	}
	for _, sl := range r.held {
		s.nodeMask[sl.Node] |= sl.Mask
		pp.free -= int32(bits.OnesCount64(sl.Mask))
	}
	for _, h := range r.watts {
		s.draw[h.level][h.dom] += h.w
	}
	r.holding = true
}

// retake takes the hold back after lift when a job was placed meanwhile:
// what it held and is still free (the job may have used some of it).
func (ps *pass) retake() {
	r := &ps.resv
	s := ps.s
	pp := s.pools[r.pool]
	held := r.held[:0]
	for _, sl := range r.held {
		m := sl.Mask & s.nodeFreeMask(pp, sl.Node)
		if m == 0 || s.nodeState[sl.Node] != Up {
			continue
		}
		s.nodeMask[sl.Node] |= m
		s.addFree(pp, sl.Node, -int32(bits.OnesCount64(m)))
		held = append(held, Slot{Node: sl.Node, Mask: m})
	}
	r.held = held
	for _, h := range r.watts {
		s.draw[h.level][h.dom] += h.w
	}
	r.holding = true
}

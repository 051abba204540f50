package engine

import (
	"math"
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
	from     int64 // the end (Unix ns) it waits for, noEnd if none
	infinite bool  // no placement known: the whole pool is held
	// cut: the search stopped before the end at from, the pool being
	// unable to start the head earlier than the reservation chosen
	cut   bool
	slots []Slot
	watts []heldW
	// while held: the accelerators taken out of the free indexes, the
	// moves that took them (for an exact undo), and the site's generation
	// before the hold and with it (see Snapshot.siteGen)
	holding         bool
	held            []Slot
	holdLog         []moved
	preGen, heldGen uint64
	// while lifted: the site's generation with the hold
	liftGen uint64
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
//
// What a pool's search finds depends on its site's state alone, and on
// the clock only through the time of the ends it waited for: the engine
// keeps it for the head (see resvCache) until that site changes, so that
// passes in which the site did not change repeat no search.
func (ps *pass) reserve(p *Pending) {
	s := ps.s
	j := &p.Job
	k := int32(j.Accelerators)
	c := ps.e.keptFor(s, p)
	cands := ps.e.cands[:0]
	for _, pi := range ps.e.eligible(j) {
		pp := s.pools[pi]
		r := makeRequest(j, pp)
		r.w = pp.drawW(j)
		if !staticFit(&r, pp) || pp.total < k {
			continue
		}
		cands = append(cands, resvCand{pi, r})
	}
	ps.e.cands = cands
	if len(cands) == 0 {
		return
	}
	// The reservation is the earliest of the pools', the first of them
	// at a tie, or the first pool's when none knows a placement. What a
	// pool's site kept is taken first; a pool searched anew stops as soon
	// as it cannot be earlier than the best known (see cutoff).
	best, bi := reservation{}, -1
	take := func(i int, r reservation) {
		if !r.infinite && (bi < 0 || r.at.Before(best.at) || r.at.Equal(best.at) && i < bi) {
			best, bi = r, i
		}
	}
	for i, cd := range cands {
		if kept := c.valid(s, cd.pi); kept != nil && !kept.r.cut {
			take(i, ps.at(kept.r))
		}
	}
	for i := range cands {
		cd := &cands[i]
		kept := c.valid(s, cd.pi)
		if kept != nil && !kept.r.cut {
			continue
		}
		cut := cutoff{}
		if bi >= 0 {
			cut = cutoff{on: true, at: best.at.UnixNano(), after: i > bi}
			if kept != nil && cut.loses(kept.r.from, ps.now) {
				continue // still later than the best, as when it was cut
			}
		}
		r := ps.expect(p, cd.pi, &cd.r, cut)
		c.pools[cd.pi] = resvKept{ok: true, gen: s.siteGen[s.pools[cd.pi].site], r: r}
		if !r.cut {
			take(i, ps.at(r))
		}
	}
	if bi < 0 {
		// no pool knows a placement: every one was searched to its end
		best = ps.at(c.pools[cands[0].pi].r)
	}
	ps.resv = best
	ps.resv.held = ps.e.heldBuf[:0]
	ps.hold()
	rv := &Reservation{Job: j.ID, Site: s.pools[best.pool].site}
	if !best.infinite {
		rv.Start = best.at
	}
	ps.res.Reservation = rv
}

// resvCand is a pool the head may be reserved in, with its request there.
type resvCand struct {
	pi int32
	r  request
}

// resvCache keeps what expect found for one head in each pool, with the
// generation of the pool's site it was found at (Snapshot.siteGen): the
// search is a function of the site's state, and the clock only sets when
// the head starts (never before now), so that what it found holds while
// the site keeps its generation.
type resvCache struct {
	snap  *Snapshot
	head  *Pending
	pools []resvKept // by pool
}

type resvKept struct {
	ok  bool
	gen uint64
	r   reservation
}

// keptFor returns the searches kept for head p on s, forgetting those of
// another head or snapshot.
func (e *Engine) keptFor(s *Snapshot, p *Pending) *resvCache {
	c := &e.resv
	if c.snap != s || c.head != p || len(c.pools) != len(s.pools) {
		c.snap, c.head = s, p
		c.pools = append(c.pools[:0], make([]resvKept, len(s.pools))...)
	}
	return c
}

// valid returns what was kept for pool pi if its site has not changed
// since, else nil.
func (c *resvCache) valid(s *Snapshot, pi int32) *resvKept {
	if k := &c.pools[pi]; k.ok && k.gen == s.siteGen[s.pools[pi].site] {
		return k
	}
	return nil
}

// at returns r with its start at now: when the end it waits for comes,
// or now if that is past or it waits for none.
func (ps *pass) at(r reservation) reservation {
	if !r.infinite {
		r.at = ps.now
		if r.from != noEnd {
			if at := time.Unix(0, r.from).UTC(); !at.Before(ps.now) {
				r.at = at
			}
		}
	}
	return r
}

// cutoff stops a pool's search once the pool cannot be the reservation's:
// its start would be after at (Unix ns), or at it for a pool after the
// best one (after), which wins the tie.
type cutoff struct {
	on    bool
	at    int64
	after bool
}

// loses reports whether a pool that has not fitted the head before the
// end at key (so starts it no earlier than that, or now) cannot be the
// reservation's.
func (c cutoff) loses(key int64, now time.Time) bool {
	if !c.on {
		return false
	}
	t := max(key, now.UnixNano())
	return t > c.at || t == c.at && c.after
}

// noEnd is reservation.from when the head fits without waiting for an end.
const noEnd = math.MinInt64

// expect finds when and where p is expected to fit in pool pi. It frees
// the running jobs of the pool's site (every pool there shares its
// breakers) in order of expected end, and after each end time at which
// the pool has enough accelerators it tries to place p; it notes the
// first placement and the draw it needs along its path, and puts the
// jobs back. Freeing touches only what placement reads (the free
// indexes, the nodes' masks, the draws), every index move logged and
// undone in reverse, so that the snapshot is left exactly as it was and
// its site keeps its generation (nothing here gives it a new one).
func (ps *pass) expect(p *Pending, pi int32, r *request, cut cutoff) reservation {
	s := ps.s
	pp := s.pools[pi]
	n := 0
	for _, q := range s.pools {
		if q.site == pp.site && q.ends.len() > 0 {
			if n == len(ps.e.walks) {
				ps.e.walks = append(ps.e.walks, endWalk{})
			}
			w := &ps.e.walks[n]
			w.h = &q.ends
			w.start()
			n++
		}
	}
	walks := ps.e.walks[:n]
	res := reservation{active: true, pool: pi, infinite: true, from: noEnd}
	// the reservation is for when running jobs have ended: grid events
	// and ramps are judged then, not now
	g := ps.e.pl.grid
	ps.e.pl.grid = nil
	log := ps.e.expectLog[:0]
	freed := ps.e.freed[:0]
	avail := pp.free
	from := int64(noEnd)
	for try := 0; try < maxReserveTries; {
		if avail >= r.k {
			try++
			if slots, _ := ps.e.pl.place(r, pp); slots != nil {
				res.from, res.infinite = from, false
				res.slots = append([]Slot(nil), slots...)
				res.watts = ps.pathDraw(res.slots, r.w)
				break
			}
		}
		// release every job of the site that ends next
		key, any := int64(0), false
		for i := range walks {
			if k, ok := walks[i].peekKey(); ok && (!any || k < key) {
				key, any = k, true
			}
		}
		if !any {
			break // nothing more ends: jobs of unknown duration hold the rest
		}
		if cut.loses(key, ps.now) {
			res.cut, res.from = true, key // it starts no earlier than key
			break
		}
		for i := range walks {
			for k, ok := walks[i].peekKey(); ok && k == key; k, ok = walks[i].peekKey() {
				a := walks[i].peek()
				walks[i].pop()
				q := s.pools[a.pool]
				for _, sl := range a.Slots {
					s.node[sl.Node].mask &^= sl.Mask
					c := int32(bits.OnesCount64(sl.Mask))
					if s.node[sl.Node].state == Up {
						log = s.addFreeLogged(q, sl.Node, c, log)
						if q == pp {
							avail += c
						}
					}
					s.addDrawQuiet(sl.Node, -int64(c)*a.DrawW)
				}
				freed = append(freed, a)
			}
		}
		from = key
	}
	// While the jobs are freed, the path's draw is what it will be at
	// that time; the hold is what the head needs beyond today's draw
	// (never less than nothing).
	for i := range res.watts {
		h := &res.watts[i]
		h.w += s.draw[h.level][h.dom]
	}
	for i := len(log) - 1; i >= 0; i-- {
		log[i].undo()
	}
	for _, a := range freed {
		q := s.pools[a.pool]
		for _, sl := range a.Slots {
			s.node[sl.Node].mask |= sl.Mask
			if s.node[sl.Node].state == Up {
				q.free -= int32(bits.OnesCount64(sl.Mask))
			}
			s.addDrawQuiet(sl.Node, int64(bits.OnesCount64(sl.Mask))*a.DrawW)
		}
	}
	ps.e.pl.grid = g
	clear(freed)
	ps.e.expectLog, ps.e.freed = log[:0], freed[:0]
	out := res.watts[:0]
	for _, h := range res.watts {
		if h.w -= s.draw[h.level][h.dom]; h.w > 0 {
			out = append(out, h)
		}
	}
	res.watts = out
	return res
}

// endWalk visits one pool's running jobs of known duration in order of
// expected end (then job ID), as the heap would give them up, without
// taking them out: a frontier of heap positions, itself a min-heap.
type endWalk struct {
	h   *allocHeap
	aux []int32
}

func (w *endWalk) start() {
	w.h.trim()
	w.aux = append(w.aux[:0], 0)
}

func (w *endWalk) less(a, b int) bool { return w.h.less(int(w.aux[a]), int(w.aux[b])) }

// peek returns the next job, or nil when every one was visited.
func (w *endWalk) peek() *Alloc {
	if !w.live() {
		return nil
	}
	return w.h.items[w.aux[0]]
}

// peekKey returns the next job's expected end, false when every one was
// visited.
func (w *endWalk) peekKey() (int64, bool) {
	if !w.live() {
		return 0, false
	}
	return w.h.keys[w.aux[0]].key, true
}

// live moves past dead entries (allocHeap.remove) to the next job; it
// reports whether there is one.
func (w *endWalk) live() bool {
	for len(w.aux) > 0 && len(w.h.items) > 0 {
		if w.h.items[w.aux[0]] != nil {
			return true
		}
		w.pop()
	}
	return false
}

// pop moves past the next job.
func (w *endWalk) pop() {
	i := w.aux[0]
	n := len(w.aux) - 1
	w.aux[0] = w.aux[n]
	w.aux = w.aux[:n]
	siftDown(n, 0, w.less, func(a, b int) { w.aux[a], w.aux[b] = w.aux[b], w.aux[a] })
	for c := allocArity*i + 1; c <= allocArity*i+allocArity && int(c) < len(w.h.items); c++ {
		w.aux = append(w.aux, c)
		for j := len(w.aux) - 1; j > 0; {
			p := (j - 1) / 2
			if !w.less(j, p) {
				break
			}
			w.aux[j], w.aux[p] = w.aux[p], w.aux[j]
			j = p
		}
	}
}

// pathDraw returns the draw slots add to every domain on their power
// path when each accelerator draws w, domains in the order the slots
// first reach them. Slots of one rack come together: each level's latest
// domain is tried first, and an index is built only for the others.
func (ps *pass) pathDraw(slots []Slot, w int64) []heldW {
	s := ps.s
	var out []heldW
	last := [fleet.LevelRack + 1]int{-1, -1, -1, -1}
	var at map[[2]int32]int
	for _, sl := range slots {
		x := int64(bits.OnesCount64(sl.Mask)) * w
		path := s.f.Path(int(sl.Node))
		for l := fleet.LevelSite; l <= fleet.LevelRack; l++ {
			if i := last[l]; i >= 0 && out[i].dom == path[l] {
				out[i].w += x
				continue
			}
			if at == nil && last[l] >= 0 {
				at = make(map[[2]int32]int, 4*len(out))
				for i, h := range out {
					at[[2]int32{int32(h.level), h.dom}] = i
				}
			}
			k := [2]int32{int32(l), path[l]}
			if i, ok := at[k]; ok {
				out[i].w += x
				last[l] = i
				continue
			}
			last[l] = len(out)
			if at != nil {
				at[k] = len(out)
			}
			out = append(out, heldW{level: l, dom: path[l], w: x})
		}
	}
	return out
}

// hold takes the reservation out of the snapshot: the free accelerators
// of the head's expected placement, and the watts along its path. For a
// reservation with no known placement it holds nothing here: try keeps
// later jobs out of the whole pool instead. Its index moves are logged,
// so that a pass that changes nothing else in the site gives them back
// exactly (see unhold).
func (ps *pass) hold() {
	r := &ps.resv
	if !r.active || r.holding {
		return
	}
	s := ps.s
	pp := s.pools[r.pool]
	r.preGen = s.siteGen[pp.site]
	r.held = r.held[:0]
	log := ps.e.holdLog[:0]
	for _, sl := range r.slots {
		if s.node[sl.Node].state != Up {
			continue
		}
		m := sl.Mask & s.nodeFreeMask(pp, sl.Node)
		if m == 0 {
			continue
		}
		s.node[sl.Node].mask |= m
		log = s.addFreeLogged(pp, sl.Node, -int32(bits.OnesCount64(m)), log)
		r.held = append(r.held, Slot{Node: sl.Node, Mask: m})
	}
	r.holdLog = log
	for _, h := range r.watts {
		s.draw[h.level][h.dom] += h.w
	}
	s.touch(pp.site)
	r.heldGen = s.siteGen[pp.site]
	r.holding = true
}

// unhold gives back what hold took, for good (the pass ends): exactly,
// index order and the site's generation included, when the site is as
// the hold left it (nothing was placed there, every lift was restored);
// else what it still holds.
func (ps *pass) unhold() {
	r := &ps.resv
	if !r.holding {
		return
	}
	s := ps.s
	pp := s.pools[r.pool]
	if s.siteGen[pp.site] == r.heldGen {
		for i := len(r.holdLog) - 1; i >= 0; i-- {
			r.holdLog[i].undo()
		}
		for _, sl := range r.held {
			s.node[sl.Node].mask &^= sl.Mask
			pp.free += int32(bits.OnesCount64(sl.Mask))
		}
		s.siteGen[pp.site] = r.preGen
	} else {
		for _, sl := range r.held {
			s.node[sl.Node].mask &^= sl.Mask
			s.addFree(pp, sl.Node, int32(bits.OnesCount64(sl.Mask)))
		}
	}
	for _, h := range r.watts {
		s.draw[h.level][h.dom] -= h.w
	}
	ps.e.holdLog = r.holdLog[:0]
	ps.e.heldBuf = r.held[:0]
	r.holdLog, r.held = nil, nil
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
	r.liftGen = s.siteGen[pp.site]
	for _, sl := range r.held {
		s.node[sl.Node].mask &^= sl.Mask
		log = s.addFreeLogged(pp, sl.Node, int32(bits.OnesCount64(sl.Mask)), log)
	}
	for _, h := range r.watts {
		s.draw[h.level][h.dom] -= h.w
	}
	s.touch(pp.site)
	r.holding = false
	return log
}

// restore takes the hold back after lift, exactly, when nothing else
// changed in between: the site gets back its generation.
func (ps *pass) restore(log []moved) {
	r := &ps.resv
	s := ps.s
	pp := s.pools[r.pool]
	for i := len(log) - 1; i >= 0; i-- {
		log[i].undo()
	}
	for _, sl := range r.held {
		s.node[sl.Node].mask |= sl.Mask
		pp.free -= int32(bits.OnesCount64(sl.Mask))
	}
	for _, h := range r.watts {
		s.draw[h.level][h.dom] += h.w
	}
	s.siteGen[pp.site] = r.liftGen
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
		if m == 0 || s.node[sl.Node].state != Up {
			continue
		}
		s.node[sl.Node].mask |= m
		s.addFree(pp, sl.Node, -int32(bits.OnesCount64(m)))
		held = append(held, Slot{Node: sl.Node, Mask: m})
	}
	r.held = held
	for _, h := range r.watts {
		s.draw[h.level][h.dom] += h.w
	}
	s.touch(pp.site)
	r.holding = true
}

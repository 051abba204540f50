package engine

import (
	"math/bits"
	"sort"
	"time"
)

// The pending queue. A pass must cost what changed, not the queue's
// length, so the queue is kept in the policy's order between passes when
// the policy allows it (StaticOrder): an arrival is inserted at its place,
// a job that leaves is only marked, and the slice is compacted once half
// of it is marked. A pass reads the queue from the head and stops as soon
// as nothing further can start; the jobs it did not reach are described
// on demand (Engine.Reason, Engine.Waits) rather than one by one.

// StaticOrder is implemented by queue policies whose order of two waiting
// jobs never changes (fifo, priority, backfill). The engine then keeps its
// queue in that order as jobs arrive instead of sorting it every pass, and
// Order is not called. Less must agree with Order and break ties by Seq.
type StaticOrder interface {
	Less(a, b *Pending) bool
}

// push adds p to the queue. During a pass (a preempted job requeued) it
// waits in incoming until the pass ends, so that the pass does not see it.
func (e *Engine) push(p *Pending) {
	if p.Seq == 0 {
		e.seq++
		p.Seq = e.seq
	}
	p.removed, p.fresh = false, true
	e.fresh = append(e.fresh, p)
	p.class = e.classOf(&p.Job)
	e.byID[p.Job.ID] = p
	k := p.Job.Accelerators
	e.sizes[k]++
	if k < e.minK {
		e.minK = k
	}
	if e.passing {
		e.incoming = append(e.incoming, p)
		return
	}
	e.insert(p)
}

// insert puts p in the queue: at its place under a static order, else at
// the end (the next pass sorts).
func (e *Engine) insert(p *Pending) {
	if e.lazyFair {
		e.pending = append(e.pending, p)
		tq := e.byTenant[p.Job.Tenant]
		if tq == nil {
			tq = &tenantQueue{name: p.Job.Tenant}
			e.byTenant[tq.name] = tq
		}
		tq.jobs = insertOrdered(tq.jobs, p, priorityPolicy{})
		return
	}
	so, ok := e.queue.(StaticOrder)
	if !ok {
		e.pending = append(e.pending, p)
		e.sorted = false
		return
	}
	e.pending = insertOrdered(e.pending, p, so)
	key := sizeKeyOf(&p.Job)
	sq := e.bySize[key.id()]
	if sq == nil {
		if n := len(e.spareSizes); n > 0 {
			sq, e.spareSizes = e.spareSizes[n-1], e.spareSizes[:n-1]
			sq.sizeKey = key
		} else {
			sq = &sizeQueue{sizeKey: key}
		}
		e.bySize[key.id()] = sq
	}
	sq.jobs = insertOrdered(sq.jobs, p, so)
}

// insertOrdered inserts p into q, kept in so's order.
func insertOrdered(q []*Pending, p *Pending, so StaticOrder) []*Pending {
	n := len(q)
	if n == 0 || !so.Less(p, q[n-1]) {
		return append(q, p) // the usual case: it goes last
	}
	i := sort.Search(n, func(i int) bool { return so.Less(p, q[i]) })
	q = append(q, nil)
	copy(q[i+1:], q[i:])
	q[i] = p
	return q
}

// sizeQueue holds the pending jobs that ask for k accelerators and run
// about as long (a duration class), in the static order, so that a pass
// can visit only the jobs small enough to fit what is free, and, past a
// backfill reservation, short enough to end before the head starts.
type sizeQueue struct {
	sizeKey
	jobs    []*Pending
	removed int
	dirty   bool // in Engine.dirtySizes
}

// maxSpareSizes bounds the emptied size queues kept for reuse: a queue
// that empties and fills again at every few arrivals (a size class of
// rare jobs) takes one back instead of new memory.
const maxSpareSizes = 64

// sizeKey is a job's size and duration class: durations in [2^(c-1),
// 2^c) seconds are class c (under a second, 0); unknown durations are
// class noDuration and never end before anything.
type sizeKey struct {
	k  int
	dc uint8
}

const noDuration = 255

func sizeKeyOf(j *Job) sizeKey {
	if j.Duration <= 0 {
		return sizeKey{j.Accelerators, noDuration}
	}
	return sizeKey{j.Accelerators, uint8(bits.Len64(uint64(j.Duration / time.Second)))}
}

// id packs the key into one word, the size queues' map key: a struct
// key is hashed field by field, a word in one step.
func (k sizeKey) id() uint64 { return uint64(k.k)<<8 | uint64(k.dc) }

// shortest returns the least duration of the class.
func (k sizeKey) shortest() time.Duration {
	if k.dc == 0 {
		return 0
	}
	return time.Duration(1<<(k.dc-1)) * time.Second
}

// bound is what a pass can still start: any job of up to free
// accelerators, and, of up to held (free plus what a backfill reservation
// holds), those that run no longer than window (none when window < 0).
type bound struct {
	free, held int
	window     time.Duration
}

// admits reports whether a job of queue k might still start.
func (b bound) admits(k sizeKey) bool {
	return k.k <= b.free || k.k <= b.held && k.dc != noDuration && b.window >= 0 && k.shortest() <= b.window
}

// cursor walks one sizeQueue during a pass.
type cursor struct {
	sq *sizeQueue
	i  int
}

// cursors merges the sizeQueues of jobs no larger than a bound, in the
// static order: a min-heap of cursors by their current job.
type cursors struct {
	so StaticOrder
	h  []cursor
}

func (c *cursors) less(a, b int) bool {
	return c.so.Less(c.h[a].sq.jobs[c.h[a].i], c.h[b].sq.jobs[c.h[b].i])
}

func (c *cursors) down(i int) {
	siftDown(len(c.h), i, c.less, func(a, b int) { c.h[a], c.h[b] = c.h[b], c.h[a] })
}

// siftDown restores a binary min-heap of n entries from entry i down.
func siftDown(n, i int, less func(a, b int) bool, swap func(a, b int)) {
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && less(r, l) {
			m = r
		}
		if !less(m, i) {
			return
		}
		swap(i, m)
		i = m
	}
}

// startCursors positions a cursor on every size queue the bound admits,
// at the first job not before from (every job when from is nil).
func (e *Engine) startCursors(so StaticOrder, from *Pending, b bound) *cursors {
	c := &cursors{so: so}
	for _, sq := range e.bySize {
		if !b.admits(sq.sizeKey) {
			continue
		}
		i := 0
		if from != nil {
			i = sort.Search(len(sq.jobs), func(i int) bool { return !so.Less(sq.jobs[i], from) })
		}
		if i < len(sq.jobs) {
			c.h = append(c.h, cursor{sq, i})
		}
	}
	for i := len(c.h)/2 - 1; i >= 0; i-- {
		c.down(i)
	}
	return c
}

// next returns the next job in order among the queues the bound admits,
// or nil. Queues it no longer admits drop out for the rest of the pass:
// the bound only shrinks as jobs are placed.
func (c *cursors) next(b bound) *Pending {
	for len(c.h) > 0 {
		top := &c.h[0]
		if !b.admits(top.sq.sizeKey) {
			c.pop()
			continue
		}
		p := top.sq.jobs[top.i]
		if top.i++; top.i == len(top.sq.jobs) {
			c.pop()
		} else {
			c.down(0)
		}
		return p
	}
	return nil
}

func (c *cursors) pop() {
	n := len(c.h) - 1
	c.h[0] = c.h[n]
	c.h = c.h[:n]
	c.down(0)
}

// remove marks p as no longer pending (placed or cancelled).
func (e *Engine) remove(p *Pending) {
	if p.removed {
		return
	}
	p.removed = true
	e.removedN++
	if sq := e.bySize[sizeKeyOf(&p.Job).id()]; sq != nil {
		if sq.removed++; !sq.dirty {
			sq.dirty = true
			e.dirtySizes = append(e.dirtySizes, sq)
		}
	}
	if tq := e.byTenant[p.Job.Tenant]; tq != nil {
		tq.removed++
	}
	delete(e.byID, p.Job.ID)
	k := p.Job.Accelerators
	if e.sizes[k]--; e.sizes[k] == 0 {
		delete(e.sizes, k)
		if k == e.minK {
			e.minK = 0 // recomputed when next asked
		}
	}
}

// smallest returns the fewest accelerators any pending job asks for, or 0
// for an empty queue.
func (e *Engine) smallest() int {
	if e.minK == 0 || e.sizes[e.minK] == 0 {
		e.minK = 0
		for k := range e.sizes {
			if e.minK == 0 || k < e.minK {
				e.minK = k
			}
		}
	}
	return e.minK
}

// compact drops marked entries from the queue once they are half of it,
// or once passes have stepped over as many marked entries as half of it
// since the last compaction: a pass reads the queue from its head, where
// the jobs placed leave their marks, and must not pay for them pass after
// pass.
func (e *Engine) compact(force bool) {
	if !force && e.removedN*2 < len(e.pending) && e.skipped*2 < len(e.pending) {
		return
	}
	e.pending = dropRemoved(e.pending)
	e.removedN, e.skipped = 0, 0
}

// sortQueue puts the queue in the policy's order for a pass: nothing to do
// under a static order, else a compaction and the policy's sort.
func (e *Engine) sortQueue(v QueueView) {
	if _, ok := e.queue.(StaticOrder); ok && e.sorted || e.lazyFair {
		return
	}
	e.compact(true)
	e.queue.Order(e.pending, v)
	_, e.sorted = e.queue.(StaticOrder)
}

// beginPass and endPass bracket a pass: arrivals during it join the queue
// when it ends.
func (e *Engine) beginPass(now time.Time) {
	e.passN++
	e.passing = true
	for _, p := range e.fresh { // this pass sees them
		p.fresh = false
	}
	clear(e.fresh)
	e.fresh = e.fresh[:0]
	if cap(e.fresh) > 1<<16 { // a queue read whole before its first pass
		e.fresh = nil
	}
	e.at = now
	e.untried = Reason{}
	e.memo.reset()
	e.fits.reset()
}

func (e *Engine) endPass() {
	e.passing = false
	for _, p := range e.incoming {
		if !p.removed {
			e.insert(p)
		}
	}
	clear(e.incoming)
	e.incoming = e.incoming[:0]
	all := e.skipped*2 >= len(e.pending) // the size and tenant queues too
	e.compact(false)
	// the size queues with jobs removed, not all of them
	dirty := e.dirtySizes[:0]
	for _, sq := range e.dirtySizes {
		if sq.removed > 0 && (all || sq.removed*2 >= len(sq.jobs)) {
			if sq.jobs, sq.removed = dropRemoved(sq.jobs), 0; len(sq.jobs) == 0 {
				delete(e.bySize, sq.sizeKey.id())
				if len(e.spareSizes) < maxSpareSizes {
					clear(sq.jobs[:cap(sq.jobs)])
					sq.dirty = false
					e.spareSizes = append(e.spareSizes, sq)
				}
			}
		}
		if sq.removed > 0 {
			dirty = append(dirty, sq)
		} else {
			sq.dirty = false
		}
	}
	clear(e.dirtySizes[len(dirty):])
	e.dirtySizes = dirty
	for t, tq := range e.byTenant {
		if tq.removed > 0 && (all || tq.removed*2 >= len(tq.jobs)) {
			if tq.jobs, tq.removed = dropRemoved(tq.jobs), 0; len(tq.jobs) == 0 {
				delete(e.byTenant, t)
			}
		}
	}
}

// dropRemoved returns q without the jobs that left the queue, in place.
func dropRemoved(q []*Pending) []*Pending {
	out := q[:0]
	for _, p := range q {
		if !p.removed {
			out = append(out, p)
		}
	}
	clear(q[len(out):])
	return out
}

// Reason returns why a pending job waits, as of the last pass: the reason
// the pass gave it, or, for a job the pass did not reach because nothing
// further could start, the reason that applies to it (its backoff, its
// tenant's quota as it stands now, a size no domain holds, or what the
// pass ran out of); the zero Reason for a job no pass has considered yet.
// It reports false for a job that is not pending.
func (e *Engine) Reason(id JobID) (Reason, bool) {
	p, ok := e.byID[id]
	if !ok {
		return Reason{}, false
	}
	return e.reasonOf(p), true
}

func (e *Engine) reasonOf(p *Pending) Reason {
	if p.fresh {
		return Reason{}
	}
	if p.tried == e.passN && p.why.Code != "" {
		return p.why
	}
	if e.at.Before(p.NotBefore) {
		return reason(Backoff)
	}
	if e.untried.Code == FIFOBlocked || e.snap == nil {
		return e.untried
	}
	// the pass stopped because no pool had room for the smallest job: say
	// what a try would have said first
	j := &p.Job
	if q := e.cfg.Tenants[j.Tenant].Quota; q > 0 && e.snap.TenantAccelerators(j.Tenant)+j.Accelerators > q {
		return reason(Quota)
	}
	elig := e.eligible(j)
	if len(elig) == 0 {
		return reason(NoMatchingAccelerators)
	}
	if e.snap.sliced {
		if why := e.snap.sliceRefusal(j, elig); why.Code != "" {
			return why
		}
	}
	static := false
	for _, pi := range elig {
		pp := e.snap.pools[pi]
		r := makeRequest(j, pp)
		if staticFit(&r, pp) {
			static = true
			break
		}
	}
	if !static {
		return reason(NoDomainLargeEnough)
	}
	if b := e.lastBound; e.untried.Code == InsufficientFree && b.window >= 0 && j.Accelerators <= b.held {
		// small enough for what the head's reservation holds, but it
		// would still run when the head starts
		return reason(Reserved)
	}
	return e.untried
}

// Waits returns every job that was pending at the last pass, in the order
// the pass considered them, with the reason each waits (see Reason). It
// costs the queue's length: it is for drivers that show every job.
func (e *Engine) Waits() []Wait {
	out := make([]Wait, 0, len(e.byID))
	q := e.pending
	if e.lazyFair {
		q = make([]*Pending, 0, len(e.byID))
		for _, p := range e.pending {
			if !p.removed && !p.fresh {
				q = append(q, p) // as the pass had them: not those come since
			}
		}
		e.queue.Order(q, e.view(e.at))
	}
	for _, p := range q {
		if !p.removed && !p.fresh {
			out = append(out, Wait{Job: p.Job.ID, Reason: e.reasonOf(p)})
		}
	}
	return out
}

// The fair policy's order changes with usage, but within a tenant it is
// the static priority order. The engine keeps each tenant's jobs in that
// order and a pass merges the tenants lazily, by their share as the
// policy's Order computes it (usage per weight, plus what the jobs already
// taken this pass would use): it pays for the jobs it reaches, not for
// the whole queue.

// tenantQueue holds one tenant's pending jobs in priority order.
type tenantQueue struct {
	name    string
	jobs    []*Pending
	removed int
}

// fairCursor is a tenant in the merge: its next job and its share.
type fairCursor struct {
	tq            *tenantQueue
	i             int
	share, weight float64
}

type fairMerge struct {
	e *Engine
	h []*fairCursor
}

func (m *fairMerge) less(a, b int) bool {
	x, y := m.h[a], m.h[b]
	if x.share != y.share {
		return x.share < y.share
	}
	return x.tq.jobs[x.i].Seq < y.tq.jobs[y.i].Seq
}

func (m *fairMerge) down(i int) {
	siftDown(len(m.h), i, m.less, func(a, b int) { m.h[a], m.h[b] = m.h[b], m.h[a] })
}

// skipRemoved moves a cursor past jobs that left the queue; it reports
// whether one remains.
func (c *fairCursor) skipRemoved(e *Engine) bool {
	for c.i < len(c.tq.jobs) && c.tq.jobs[c.i].removed {
		c.i++
		e.skipped++
	}
	return c.i < len(c.tq.jobs)
}

// startFair begins the lazy fair merge of a pass.
func (e *Engine) startFair(v QueueView) *fairMerge {
	m := &fairMerge{e: e}
	for t, tq := range e.byTenant {
		c := &fairCursor{tq: tq, weight: 1}
		if v.Weight != nil {
			c.weight = v.Weight(t)
		}
		c.share = v.Usage[t] / c.weight
		if c.skipRemoved(e) {
			m.h = append(m.h, c)
		}
	}
	for i := len(m.h)/2 - 1; i >= 0; i-- {
		m.down(i)
	}
	return m
}

// next returns the next job in fair order, or nil, and charges its
// tenant for it as Order does.
func (m *fairMerge) next() *Pending {
	if len(m.h) == 0 {
		return nil
	}
	c := m.h[0]
	p := c.tq.jobs[c.i]
	c.i++
	d := p.Job.Duration
	if d <= 0 {
		d = fairCharge
	}
	c.share += float64(p.Job.Accelerators) * d.Seconds() / c.weight
	if !c.skipRemoved(m.e) {
		n := len(m.h) - 1
		m.h[0] = m.h[n]
		m.h = m.h[:n]
	}
	m.down(0)
	return p
}

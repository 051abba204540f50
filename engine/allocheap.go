package engine

// allocHeap is an indexed 4-ary min-heap of running jobs by a time key
// (end or start, in Unix nanoseconds). Each Alloc remembers its position,
// so removal is O(1) amortized (see below); walk visits entries in key
// order and stops early, costing O(m log m) for the m entries it visits
// (dead ones included, at most half as many again), so a pool can
// answer "the earliest ends that free k accelerators" or "the jobs that
// started before t" without sorting all its jobs.
//
// Each entry carries its key and job ID beside the job, so that ordering
// reads the heap's own array and not the jobs (a heap of a million-GPU
// fleet's running jobs is far larger than a cache).
//
// An entry's position is kept by the heap, under a handle the Alloc
// holds (Alloc.endH, Alloc.startH) and its key carries: moving an entry
// writes the heap's own small array, not the job.
//
// A removal only marks its entry dead (a nil item, its key left in
// place, so the heap's order holds): the jobs that end are mostly the
// heap's first, and sifting a replacement down from the root at every
// end cost more than rebuilding the heap, in one pass over its array,
// once a third of its entries are dead. A walk first takes the dead
// entries off the top (trim), then steps over any others.
type allocHeap struct {
	end   bool      // keyed by end (else by start)
	items []*Alloc  // nil: a removed entry, until the next rebuild
	keys  []heapKey // by position, as items
	at    []int32   // position by handle, -1 for a free handle
	spare []int32   // free handles
	dead  int       // removed entries in items
	aux   []int32   // walk's frontier, reused
}

// len returns how many jobs the heap holds.
func (h *allocHeap) len() int { return len(h.items) - h.dead }

// heapKey is an entry's order: its key, then its job's ID; and the
// entry's handle.
type heapKey struct {
	key int64
	id  JobID
	h   int32
}

func (h *allocHeap) keyOf(a *Alloc, handle int32) heapKey {
	if h.end {
		return heapKey{a.endKey, a.Job.ID, handle}
	}
	return heapKey{a.startKey, a.Job.ID, handle}
}

func (h *allocHeap) key(i int) int64 { return h.keys[i].key }

func (h *allocHeap) less(i, j int) bool { return h.keys[i].less(h.keys[j]) }

func (k heapKey) less(o heapKey) bool {
	if k.key != o.key {
		return k.key < o.key
	}
	return k.id < o.id
}

// allocArity is the heap's fan-out: a 4-ary heap is half as deep as a
// binary one, and each level it moves an entry through writes that
// entry's position into its Alloc, a cache miss on a large fleet.
const allocArity = 4

// handle returns where a keeps its handle in this heap.
func (h *allocHeap) handle(a *Alloc) *int32 {
	if h.end {
		return &a.endH
	}
	return &a.startH
}

// index returns a's position in the heap, -1 if absent.
func (h *allocHeap) index(a *Alloc) int {
	if k := *h.handle(a); k >= 0 {
		return int(h.at[k])
	}
	return -1
}

// set puts a with key k at position i (a nil a: a dead entry, whose
// handle may be another's by now).
func (h *allocHeap) set(i int, a *Alloc, k heapKey) {
	h.items[i], h.keys[i] = a, k
	if a != nil {
		h.at[k.h] = int32(i)
	}
}

// up moves the entry at i towards the root to its place, each entry it
// passes one level down.
func (h *allocHeap) up(i int) {
	k := h.keys[i]
	if i == 0 || !k.less(h.keys[(i-1)/allocArity]) {
		return
	}
	a := h.items[i]
	for i > 0 {
		p := (i - 1) / allocArity
		if !k.less(h.keys[p]) {
			break
		}
		h.set(i, h.items[p], h.keys[p])
		i = p
	}
	h.set(i, a, k)
}

// down moves the entry at i towards the leaves to its place, each entry
// it passes one level up.
func (h *allocHeap) down(i int) {
	n := len(h.items)
	k, a, i0 := h.keys[i], h.items[i], i
	for {
		c := allocArity*i + 1
		if c >= n {
			break
		}
		m := c
		for j := c + 1; j < min(c+allocArity, n); j++ {
			if h.keys[j].less(h.keys[m]) {
				m = j
			}
		}
		if !h.keys[m].less(k) {
			break
		}
		h.set(i, h.items[m], h.keys[m])
		i = m
	}
	if i != i0 {
		h.set(i, a, k)
	}
}

func (h *allocHeap) push(a *Alloc) {
	var k int32
	if n := len(h.spare); n > 0 {
		k, h.spare = h.spare[n-1], h.spare[:n-1]
	} else {
		k = int32(len(h.at))
		h.at = append(h.at, -1)
	}
	*h.handle(a) = k
	i := len(h.items)
	h.items = append(h.items, a)
	h.keys = append(h.keys, h.keyOf(a, k))
	h.at[k] = int32(i)
	h.up(i)
}

func (h *allocHeap) remove(a *Alloc) {
	hp := h.handle(a)
	if *hp < 0 {
		return
	}
	i := int(h.at[*hp])
	h.at[*hp] = -1
	h.spare = append(h.spare, *hp)
	*hp = -1
	if last := len(h.items) - 1; i == last {
		h.items[last] = nil
		h.items, h.keys = h.items[:last], h.keys[:last]
		return
	}
	h.items[i] = nil
	if h.dead++; h.dead*3 > len(h.items) {
		h.rebuild()
	}
}

// trim takes the dead entries off the top, so that a walk starts at a
// live one: the jobs removed are mostly the first to end, whose entries
// a walk in key order would otherwise step over one by one, all of them,
// every time. It costs what removing them at once would have; a heap
// that is never walked never pays it.
func (h *allocHeap) trim() {
	for len(h.items) > 0 && h.items[0] == nil {
		last := len(h.items) - 1
		h.set(0, h.items[last], h.keys[last])
		h.items[last] = nil
		h.items, h.keys = h.items[:last], h.keys[:last]
		h.dead--
		if last > 0 {
			h.down(0)
		}
	}
}

// rebuild drops the dead entries and restores the heap's order bottom
// up, in O(n).
func (h *allocHeap) rebuild() {
	n := 0
	for i, a := range h.items {
		if a != nil {
			h.items[n], h.keys[n] = a, h.keys[i]
			n++
		}
	}
	clear(h.items[n:])
	h.items, h.keys, h.dead = h.items[:n], h.keys[:n], 0
	for i := range n {
		h.at[h.keys[i].h] = int32(i)
	}
	if n > 1 {
		for i := (n - 2) / allocArity; i >= 0; i-- {
			h.down(i)
		}
	}
}

// walk calls fn on entries in ascending key order until fn returns false
// or all were visited.
func (h *allocHeap) walk(fn func(a *Alloc) bool) {
	h.trim()
	if len(h.items) == 0 {
		return
	}
	aux := append(h.aux[:0], 0)
	for len(aux) > 0 {
		// pop the frontier's minimum
		i := aux[0]
		last := len(aux) - 1
		aux[0] = aux[last]
		aux = aux[:last]
		for j := 0; ; {
			l := 2*j + 1
			if l >= len(aux) {
				break
			}
			m := l
			if r := l + 1; r < len(aux) && h.less(int(aux[r]), int(aux[l])) {
				m = r
			}
			if !h.less(int(aux[m]), int(aux[j])) {
				break
			}
			aux[j], aux[m] = aux[m], aux[j]
			j = m
		}
		if a := h.items[i]; a != nil && !fn(a) {
			break
		}
		for c := allocArity*i + 1; c <= allocArity*i+allocArity && int(c) < len(h.items); c++ {
			aux = append(aux, c)
			for j := len(aux) - 1; j > 0; {
				p := (j - 1) / 2
				if !h.less(int(aux[j]), int(aux[p])) {
					break
				}
				aux[j], aux[p] = aux[p], aux[j]
				j = p
			}
		}
	}
	h.aux = aux[:0]
}

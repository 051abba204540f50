package engine

// allocHeap is an indexed binary min-heap of running jobs by a time key
// (end or start, in Unix nanoseconds). Each Alloc remembers its position,
// so removal is O(log n); walk visits entries in key order and stops
// early, costing O(m log m) for the m entries it visits, so a pool can
// answer "the earliest ends that free k accelerators" or "the jobs that
// started before t" without sorting all its jobs.
//
// Each entry carries its key and job ID beside the job, so that ordering
// reads the heap's own array and not the jobs (a heap of a million-GPU
// fleet's running jobs is far larger than a cache).
type allocHeap struct {
	end   bool // keyed by end (else by start)
	items []*Alloc
	keys  []heapKey // by position, as items
	aux   []int32   // walk's frontier, reused
}

// heapKey is an entry's order: its key, then its job's ID.
type heapKey struct {
	key int64
	id  JobID
}

func (h *allocHeap) keyOf(a *Alloc) heapKey {
	if h.end {
		return heapKey{a.endKey, a.Job.ID}
	}
	return heapKey{a.startKey, a.Job.ID}
}

func (h *allocHeap) key(i int) int64 { return h.keys[i].key }

func (h *allocHeap) less(i, j int) bool {
	ki, kj := h.keys[i], h.keys[j]
	if ki.key != kj.key {
		return ki.key < kj.key
	}
	return ki.id < kj.id
}

func (h *allocHeap) pos(a *Alloc) *int32 {
	if h.end {
		return &a.endIdx
	}
	return &a.startIdx
}

func (h *allocHeap) swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.keys[i], h.keys[j] = h.keys[j], h.keys[i]
	*h.pos(h.items[i]) = int32(i)
	*h.pos(h.items[j]) = int32(j)
}

func (h *allocHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h *allocHeap) down(i int) {
	n := len(h.items)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h.swap(i, m)
		i = m
	}
}

func (h *allocHeap) push(a *Alloc) {
	h.items = append(h.items, a)
	h.keys = append(h.keys, h.keyOf(a))
	i := len(h.items) - 1
	*h.pos(a) = int32(i)
	h.up(i)
}

func (h *allocHeap) remove(a *Alloc) {
	p := h.pos(a)
	i := int(*p)
	if i < 0 {
		return
	}
	last := len(h.items) - 1
	if i != last {
		h.swap(i, last)
	}
	h.items[last] = nil
	h.items = h.items[:last]
	h.keys = h.keys[:last]
	*p = -1
	if i != last {
		h.down(i)
		h.up(i)
	}
}

// walk calls fn on entries in ascending key order until fn returns false
// or all were visited.
func (h *allocHeap) walk(fn func(a *Alloc) bool) {
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
		if !fn(h.items[i]) {
			break
		}
		for _, c := range [2]int32{2*i + 1, 2*i + 2} {
			if int(c) >= len(h.items) {
				continue
			}
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

package sim

import "time"

// kind orders events that fall at the same instant: state changes first,
// then the decisions that react to them, then the sample that records them.
type kind uint8

const (
	evFinish kind = iota
	evFail
	evRepair
	evArrival
	evLoad
	evGrid
	evWake
	evControl
	evPass
	evSample
)

type event struct {
	at time.Duration
	// order breaks ties of at: the kind in the top byte, then the
	// insertion order (ties of kind stay first in, first out); set by push
	order uint64
	job   int32  // evFinish, evArrival; evLoad: the load bucket; evGrid: the event
	ver   uint32 // evFinish: the job's version when scheduled
	node  int32  // evRepair; evGrid: the phase
	kind  kind
}

func (a *event) before(b *event) bool {
	return a.at < b.at || (a.at == b.at && a.order < b.order)
}

// eventHeap is a 4-ary min-heap of events by (time, kind, insertion
// order): half the depth of a binary heap, and a node's children share a
// cache line or two.
type eventHeap struct {
	items []event
	seq   uint64
}

func (h *eventHeap) Len() int { return len(h.items) }

func (h *eventHeap) push(e event) {
	h.seq++
	e.order = uint64(e.kind)<<56 | h.seq
	h.items = append(h.items, e)
	i := len(h.items) - 1
	for i > 0 {
		p := (i - 1) / 4
		if !e.before(&h.items[p]) {
			break
		}
		h.items[i] = h.items[p]
		i = p
	}
	h.items[i] = e
}

func (h *eventHeap) pop() event {
	items := h.items
	top := items[0]
	n := len(items) - 1
	x := items[n]
	items = items[:n]
	h.items = items
	if n == 0 {
		return top
	}
	i := 0
	for {
		c := 4*i + 1
		if c >= n {
			break
		}
		m := c
		for j := c + 1; j < min(c+4, n); j++ {
			if items[j].before(&items[m]) {
				m = j
			}
		}
		if !items[m].before(&x) {
			break
		}
		items[i] = items[m]
		i = m
	}
	items[i] = x
	return top
}

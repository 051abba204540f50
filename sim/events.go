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
	at   time.Duration
	kind kind
	seq  uint64 // insertion order: ties stay first in, first out
	job  int32  // evFinish, evArrival; evLoad: the load bucket; evGrid: the event
	ver  uint32 // evFinish: the job's version when scheduled
	node int32  // evRepair; evGrid: the phase
}

func (a *event) before(b *event) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	if a.kind != b.kind {
		return a.kind < b.kind
	}
	return a.seq < b.seq
}

// eventHeap is a binary min-heap of events by (time, kind, seq).
type eventHeap struct {
	items []event
	seq   uint64
}

func (h *eventHeap) Len() int { return len(h.items) }

func (h *eventHeap) push(e event) {
	h.seq++
	e.seq = h.seq
	h.items = append(h.items, e)
	i := len(h.items) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h.items[i].before(&h.items[p]) {
			break
		}
		h.items[i], h.items[p] = h.items[p], h.items[i]
		i = p
	}
}

func (h *eventHeap) pop() event {
	top := h.items[0]
	last := len(h.items) - 1
	h.items[0] = h.items[last]
	h.items = h.items[:last]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < last && h.items[l].before(&h.items[m]) {
			m = l
		}
		if r < last && h.items[r].before(&h.items[m]) {
			m = r
		}
		if m == i {
			break
		}
		h.items[i], h.items[m] = h.items[m], h.items[i]
		i = m
	}
	return top
}

func (h *eventHeap) peek() *event { return &h.items[0] }

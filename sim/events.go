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

// eventQueue holds a run's events in order of (time, kind, insertion
// order), in three heaps popped as one: arrivals and passes, each
// pending one or two at a time but a third of all events each, go in
// and out of heaps of their own in a step or two instead of through the
// running jobs' finishes.
type eventQueue struct {
	lanes [3]eventHeap // by lane
	seq   uint64
	n     int
}

// lane is the heap an event of kind k goes to.
func lane(k kind) int {
	switch k {
	case evArrival:
		return 1
	case evPass:
		return 2
	}
	return 0
}

func (q *eventQueue) Len() int { return q.n }

func (q *eventQueue) push(e event) {
	q.seq++
	e.order = uint64(e.kind)<<56 | q.seq
	q.lanes[lane(e.kind)].push(e)
	q.n++
}

// pop removes and returns the first event.
func (q *eventQueue) pop() event {
	best := -1
	for i := range q.lanes {
		if h := &q.lanes[i]; len(h.items) > 0 && (best < 0 || h.items[0].before(&q.lanes[best].items[0])) {
			best = i
		}
	}
	q.n--
	return q.lanes[best].pop()
}

// eventHeap is a 4-ary min-heap of events by (time, order): half the
// depth of a binary heap, and a node's children share a cache line or
// two.
type eventHeap struct {
	items []event
}

func (h *eventHeap) push(e event) {
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

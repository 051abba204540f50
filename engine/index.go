package engine

import "math/bits"

// buckets indexes the domains of one level of a pool by their free
// accelerator count: bucket f holds the domains with exactly f free, and a
// bitset marks the non-empty buckets, so that a best-fit search (the
// smallest f >= k) is a short bit scan and every update is O(1).
type buckets struct {
	at       []domSlot // by local domain id: its free count and its place
	head     [][]int32 // head[f]: local ids with free == f (in no order)
	nonEmpty []uint64
}

// domSlot is one domain's free count and its position in the bucket of
// that count, kept side by side so that an update touches one cache line.
type domSlot struct {
	free int32
	pos  int32
}

func newBuckets(n, maxFree int) *buckets {
	b := &buckets{
		at:       make([]domSlot, n),
		head:     make([][]int32, maxFree+1),
		nonEmpty: make([]uint64, maxFree/64+1),
	}
	b.head[0] = make([]int32, n)
	for i := range n {
		b.head[0][i] = int32(i)
		b.at[i].pos = int32(i)
	}
	if n > 0 {
		b.nonEmpty[0] = 1
	}
	return b
}

// add changes the free count of domain id by delta.
func (b *buckets) add(id, delta int32) {
	if delta == 0 {
		return
	}
	d := &b.at[id]
	old := d.free
	nf := old + delta
	// remove from old bucket
	h := b.head[old]
	p := d.pos
	last := h[len(h)-1]
	h[p] = last
	b.at[last].pos = p
	h = h[:len(h)-1]
	b.head[old] = h
	if len(h) == 0 {
		b.nonEmpty[old>>6] &^= 1 << (uint(old) & 63)
	}
	// insert into the new one
	*d = domSlot{free: nf, pos: int32(len(b.head[nf]))}
	b.head[nf] = append(b.head[nf], id)
	b.nonEmpty[nf>>6] |= 1 << (uint(nf) & 63)
}

// moved records one add, so that undo can put the domain back exactly
// where it was in its bucket: the order of a bucket decides which of
// equally free domains a best fit takes.
type moved struct {
	b        *buckets
	id       int32
	from     int32 // its free count before
	fromSlot int32 // its position in that bucket
}

// addLogged is add, appending what undo needs to log.
func (b *buckets) addLogged(id, delta int32, log []moved) []moved {
	if delta == 0 {
		return log
	}
	d := b.at[id]
	log = append(log, moved{b: b, id: id, from: d.free, fromSlot: d.pos})
	b.add(id, delta)
	return log
}

// undo reverts one logged add; adds must be undone in reverse order, with
// nothing else changed in between.
func (m moved) undo() {
	b := m.b
	nf := b.at[m.id].free
	h := b.head[nf]
	h = h[:len(h)-1] // m.id is last: it was appended by the add undone
	b.head[nf] = h
	if len(h) == 0 {
		b.nonEmpty[nf>>6] &^= 1 << (uint(nf) & 63)
	}
	old := b.head[m.from]
	if int(m.fromSlot) == len(old) {
		old = append(old, m.id)
	} else {
		other := old[m.fromSlot] // the last one, moved into its slot
		b.at[other].pos = int32(len(old))
		old = append(old, other)
		old[m.fromSlot] = m.id
	}
	b.head[m.from] = old
	b.at[m.id] = domSlot{free: m.from, pos: m.fromSlot}
	b.nonEmpty[m.from>>6] |= 1 << (uint(m.from) & 63)
}

// atLeast returns the smallest non-empty bucket f >= k, or -1.
func (b *buckets) atLeast(k int32) int32 {
	if k < 0 {
		k = 0
	}
	w := int(k >> 6)
	if w >= len(b.nonEmpty) {
		return -1
	}
	word := b.nonEmpty[w] &^ (1<<(uint(k)&63) - 1)
	for {
		if word != 0 {
			return int32(w<<6 + bits.TrailingZeros64(word))
		}
		w++
		if w >= len(b.nonEmpty) {
			return -1
		}
		word = b.nonEmpty[w]
	}
}

func popcount(m uint64) int { return bits.OnesCount64(m) }

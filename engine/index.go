package engine

import "math/bits"

// buckets indexes the domains of one level of a pool by their free
// accelerator count: bucket f holds the domains with exactly f free, and a
// bitset marks the non-empty buckets, so that a best-fit search (the
// smallest f >= k) is a short bit scan and every update is O(1).
//
// A level of a few domains with a wide range of counts (the halls of a
// site: four of 32,000 accelerators) keeps no bucket lists: they would be
// a slice header per count, far apart in memory, for a handful of
// domains. There (small) each domain's count and place are all there is,
// and a search or an update scans the few domains instead. Both ways keep
// the same order within a bucket: a domain leaving it takes the last one
// into its place, a domain arriving goes last.
type buckets struct {
	at       []domSlot // by local domain id: its free count and its place
	head     [][]int32 // head[f]: local ids with free == f (in no order); nil if small
	nonEmpty []uint64  // nil if small
	small    bool
}

// smallBuckets says whether n domains of up to maxFree free each are
// best kept without bucket lists: few enough to scan, with many more
// counts than domains.
func smallBuckets(n, maxFree int) bool { return n <= 32 && maxFree > 4*n }

// domSlot is one domain's free count and its position in the bucket of
// that count, kept side by side so that an update touches one cache line.
type domSlot struct {
	free int32
	pos  int32
}

func newBuckets(n, maxFree int) *buckets {
	return newBucketsOf(n, maxFree, smallBuckets(n, maxFree))
}

func newBucketsOf(n, maxFree int, small bool) *buckets {
	b := &buckets{at: make([]domSlot, n), small: small}
	for i := range n {
		b.at[i].pos = int32(i)
	}
	if small {
		return b
	}
	b.head = make([][]int32, maxFree+1)
	b.nonEmpty = make([]uint64, maxFree/64+1)
	b.head[0] = make([]int32, n)
	for i := range n {
		b.head[0][i] = int32(i)
	}
	if n > 0 {
		b.nonEmpty[0] = 1
	}
	return b
}

// ids returns the local ids of the domains with exactly f free, in
// bucket order: a bucket list, or for a small index one built in *buf
// (reused from call to call).
func (b *buckets) ids(f int32, buf *[]int32) []int32 {
	if !b.small {
		return b.head[f]
	}
	h := (*buf)[:0]
	for _, d := range b.at {
		if d.free == f {
			h = append(h, 0)
		}
	}
	for i, d := range b.at {
		if d.free == f {
			h[d.pos] = int32(i)
		}
	}
	*buf = h
	return h
}

// add changes the free count of domain id by delta.
func (b *buckets) add(id, delta int32) {
	if delta == 0 {
		return
	}
	if b.small {
		b.addSmall(id, delta)
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

// addSmall is add on a small index: the domain last in id's bucket
// takes id's place there, and id goes last in its new one.
func (b *buckets) addSmall(id, delta int32) {
	at := b.at
	old, p := at[id].free, at[id].pos
	nf := old + delta
	last, lastPos, n := id, p, int32(0)
	for j, d := range at {
		switch d.free {
		case old:
			if d.pos > lastPos {
				last, lastPos = int32(j), d.pos
			}
		case nf:
			n++
		}
	}
	at[last].pos = p
	at[id] = domSlot{free: nf, pos: n}
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
	if b.small {
		// m.id is last in its bucket: leaving it moves no other; the
		// domain now at its old place goes last in that bucket
		other, n := -1, int32(0)
		for j, d := range b.at {
			if d.free == m.from {
				if d.pos == m.fromSlot {
					other = j
				}
				n++
			}
		}
		if other >= 0 {
			b.at[other].pos = n
		}
		b.at[m.id] = domSlot{free: m.from, pos: m.fromSlot}
		return
	}
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
	if b.small {
		best := int32(-1)
		for _, d := range b.at {
			if d.free >= k && (best < 0 || d.free < best) {
				best = d.free
			}
		}
		return best
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

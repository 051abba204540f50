package engine

import (
	"reflect"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// inBucket reports whether domain id is where its free count f says: at
// its place in bucket f, which no other domain shares, within the
// bucket's length.
func inBucket(b *buckets, id, f int32) bool {
	pos := b.at[id].pos
	if !b.small {
		h := b.head[f]
		return pos >= 0 && pos < int32(len(h)) && h[pos] == id
	}
	n := int32(0)
	for j, d := range b.at {
		if d.free == f {
			n++
			if d.pos == pos && int32(j) != id {
				return false
			}
		}
	}
	return pos >= 0 && pos < n
}

// TestUndoRestoresBucketOrder: adds logged and undone in reverse leave
// the buckets exactly as they were, order within each bucket included,
// with bucket lists and without.
func TestUndoRestoresBucketOrder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 20).Draw(t, "domains")
		b := newBucketsOf(n, 16, rapid.Bool().Draw(t, "small"))
		for range rapid.IntRange(0, 60).Draw(t, "setup") {
			id := int32(rapid.IntRange(0, n-1).Draw(t, "id"))
			b.add(id, int32(rapid.IntRange(0, 16).Draw(t, "to"))-b.at[id].free)
		}
		before := snapshotBuckets(b)
		var log []moved
		for range rapid.IntRange(0, 30).Draw(t, "logged") {
			id := int32(rapid.IntRange(0, n-1).Draw(t, "id"))
			log = b.addLogged(id, int32(rapid.IntRange(0, 16).Draw(t, "to"))-b.at[id].free, log)
		}
		for i := len(log) - 1; i >= 0; i-- {
			log[i].undo()
		}
		if after := snapshotBuckets(b); !reflect.DeepEqual(before, after) {
			t.Fatalf("undo left\n%+v\nwas\n%+v", after, before)
		}
	})
}

type bucketState struct {
	at       []domSlot
	head     [][]int32
	nonEmpty []uint64
}

func snapshotBuckets(b *buckets) bucketState {
	st := bucketState{at: append([]domSlot(nil), b.at...), nonEmpty: append([]uint64(nil), b.nonEmpty...)}
	for _, h := range b.head {
		st.head = append(st.head, append([]int32{}, h...))
	}
	return st
}

// TestSmallBucketsAsLists: an index without bucket lists answers as one
// with them, after the same adds and undos: the same best fit for every
// request, the same domains in every bucket, in the same order.
func TestSmallBucketsAsLists(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 12).Draw(t, "domains")
		const maxFree = 10
		list, small := newBucketsOf(n, maxFree, false), newBucketsOf(n, maxFree, true)
		var logL, logS []moved
		for range rapid.IntRange(0, 80).Draw(t, "steps") {
			id := int32(rapid.IntRange(0, n-1).Draw(t, "id"))
			delta := int32(rapid.IntRange(0, maxFree).Draw(t, "to")) - list.at[id].free
			switch rapid.IntRange(0, 2).Draw(t, "op") {
			case 0:
				list.add(id, delta)
				small.add(id, delta)
				logL, logS = logL[:0], logS[:0] // an undo must follow its adds
			case 1:
				logL = list.addLogged(id, delta, logL)
				logS = small.addLogged(id, delta, logS)
			case 2:
				for i := len(logL) - 1; i >= 0; i-- {
					logL[i].undo()
					logS[i].undo()
				}
				logL, logS = logL[:0], logS[:0]
			}
			for k := int32(0); k <= maxFree+1; k++ {
				if a, b := list.atLeast(k), small.atLeast(k); a != b {
					t.Fatalf("atLeast(%d): %d with lists, %d without", k, a, b)
				}
			}
			for f := int32(0); f <= maxFree; f++ {
				var buf []int32
				if a, b := list.ids(f, &buf), small.ids(f, &buf); !slices.Equal(a, b) {
					t.Fatalf("bucket %d: %v with lists, %v without", f, a, b)
				}
			}
		}
	})
}

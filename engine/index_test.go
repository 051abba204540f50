package engine

import (
	"reflect"
	"testing"

	"pgregory.net/rapid"
)

// TestUndoRestoresBucketOrder: adds logged and undone in reverse leave
// the buckets exactly as they were, order within each bucket included.
func TestUndoRestoresBucketOrder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 20).Draw(t, "domains")
		b := newBuckets(n, 16)
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

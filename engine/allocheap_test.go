package engine

import (
	"cmp"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// TestAllocHeapWalksInKeyOrder: after any pushes and removals (dead
// entries, rebuilds and all), a walk and an end walk give exactly the
// jobs held, in order of key then ID, and every job knows its place.
func TestAllocHeapWalksInKeyOrder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := &allocHeap{end: true}
		var held []*Alloc
		next := JobID(1)
		for range rapid.IntRange(0, 200).Draw(t, "steps") {
			if len(held) > 0 && rapid.IntRange(0, 2).Draw(t, "op") == 0 {
				// removals favour the first to end, as jobs end in a run
				i := 0
				if rapid.Bool().Draw(t, "any") {
					i = rapid.IntRange(0, len(held)-1).Draw(t, "which")
				}
				h.remove(held[i])
				held = slices.Delete(held, i, i+1)
				continue
			}
			a := &Alloc{Job: Job{ID: next}, endKey: int64(rapid.IntRange(0, 20).Draw(t, "end"))}
			next++
			h.push(a)
			held = append(held, a)
			slices.SortFunc(held, func(a, b *Alloc) int {
				return cmp.Or(cmp.Compare(a.endKey, b.endKey), cmp.Compare(a.Job.ID, b.Job.ID))
			})
		}
		if h.len() != len(held) {
			t.Fatalf("heap holds %d, want %d", h.len(), len(held))
		}
		for _, a := range held {
			if i := h.index(a); i < 0 || h.items[i] != a {
				t.Fatalf("job %d: not at its place", a.Job.ID)
			}
		}
		w := endWalk{h: h}
		w.start()
		// a walk starts by taking the dead entries off the top: walks
		// that step over all the jobs that ended made a busy fleet's
		// passes seven times slower
		if len(h.items) > 0 && h.items[0] == nil {
			t.Fatalf("an end walk left a dead entry first, %d dead", h.dead)
		}
		var walked []*Alloc
		for a := w.peek(); a != nil; a = w.peek() {
			if k, ok := w.peekKey(); !ok || k != a.endKey {
				t.Fatalf("job %d: peekKey %d %v, want %d", a.Job.ID, k, ok, a.endKey)
			}
			walked = append(walked, a)
			w.pop()
		}
		if !slices.Equal(walked, held) {
			t.Fatalf("end walk gave %d jobs out of order or incomplete, want %d", len(walked), len(held))
		}
		// the first to end goes: its entry, first, is dead
		if len(held) > 0 {
			h.remove(held[0])
			held = held[1:]
		}
		walked = walked[:0]
		h.walk(func(a *Alloc) bool { walked = append(walked, a); return true })
		if len(h.items) > 0 && h.items[0] == nil {
			t.Fatalf("a walk left a dead entry first, %d dead", h.dead)
		}
		if !slices.Equal(walked, held) {
			t.Fatalf("walk gave %d jobs out of order or incomplete, want %d", len(walked), len(held))
		}
	})
}

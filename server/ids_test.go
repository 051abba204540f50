package server

import (
	"testing"
	"time"
)

// Job IDs of one replica sort in the order they were made, whether the
// clock moves, stands still or steps back, and never repeat.
func TestJobIDsSortInSubmissionOrder(t *testing.T) {
	var g idGen
	t0 := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	times := []time.Duration{0, 0, 0, time.Millisecond, time.Millisecond, 500 * time.Microsecond, time.Second, 0, 2 * time.Second}
	prev := ""
	seen := map[string]bool{}
	for i := 0; i < 10000; i++ {
		id := g.next(t0.Add(times[i%len(times)] + time.Duration(i/len(times))*time.Millisecond))
		if len(id) != 21 || id[0] != 'j' {
			t.Fatalf("malformed ID %q", id)
		}
		if id <= prev || seen[id] {
			t.Fatalf("ID %d %q does not sort after %q", i, id, prev)
		}
		prev, seen[id] = id, true
	}
	// A later millisecond always sorts later, across generators (replicas).
	var a, b idGen
	if x, y := a.next(t0), b.next(t0.Add(time.Millisecond)); x >= y {
		t.Errorf("%q (earlier) sorts after %q", x, y)
	}
}

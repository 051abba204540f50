package sim

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestEventQueueOrder pushes and pops random events and checks each pop
// against a plain scan for the least (time, kind, insertion order) among
// those pushed and not yet popped.
func TestEventQueueOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var q eventQueue
	type ref struct {
		e   event
		seq int
	}
	var pending []ref
	seq := 0
	for step := range 20_000 {
		if len(pending) == 0 || rng.IntN(3) > 0 {
			seq++
			e := event{at: time.Duration(rng.IntN(50)), kind: kind(rng.IntN(int(evSample) + 1)), job: int32(seq)}
			q.push(e)
			pending = append(pending, ref{e, seq})
			continue
		}
		best := 0
		for i, r := range pending {
			b := pending[best]
			if r.e.at < b.e.at || r.e.at == b.e.at && (r.e.kind < b.e.kind || r.e.kind == b.e.kind && r.seq < b.seq) {
				best = i
			}
		}
		got := q.pop()
		if want := pending[best].e; got.job != want.job {
			t.Fatalf("step %d: popped job %d (at %d, kind %d), want %d (at %d, kind %d)",
				step, got.job, got.at, got.kind, want.job, want.at, want.kind)
		}
		pending = append(pending[:best], pending[best+1:]...)
		if q.Len() != len(pending) {
			t.Fatalf("step %d: %d queued, want %d", step, q.Len(), len(pending))
		}
	}
}

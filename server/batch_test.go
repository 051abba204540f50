package server

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"stargate/store"
	"stargate/store/sqlite"
)

// stallFrom is a store whose change sets, from the from-th on (counting
// from when it is armed), wait for their deadline instead of committing.
type stallFrom struct {
	store.Store
	mu          sync.Mutex
	calls, from int
}

func (s *stallFrom) arm(from int) {
	s.mu.Lock()
	s.calls, s.from = 0, from
	s.mu.Unlock()
}

func (s *stallFrom) Apply(ctx context.Context, c store.Changes) error {
	s.mu.Lock()
	s.calls++
	stall := s.from > 0 && s.calls >= s.from
	s.mu.Unlock()
	if stall {
		<-ctx.Done()
		return ctx.Err()
	}
	return s.Store.Apply(ctx, c)
}

// batched sets small commit batches and deadlines for a test.
func batched(t *testing.T, n int, timeout time.Duration) {
	oldN, oldT := commitBatch, batchTimeout
	commitBatch, batchTimeout = n, timeout
	t.Cleanup(func() { commitBatch, batchTimeout = oldN, oldT })
}

func stallingHarness(t *testing.T) (*harness, *stallFrom) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), t.TempDir()+"/db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st := &stallFrom{Store: db}
	clock := &fakeClock{t: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
	h, _ := startOn(t, st, clock, func(c *Config) { c.ID = "test"; c.Scheduler = placeFirst{} })
	return h, st
}

func states(t *testing.T, st store.Store, jobs []store.Job) (running, reasoned int) {
	t.Helper()
	for _, j := range jobs {
		got, err := st.Job(context.Background(), j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State == store.JobRunning {
			running++
		} else if len(got.Reasons) > 0 {
			reasoned++
		}
	}
	return running, reasoned
}

// A pass commits its decisions in batches, each with its own deadline:
// when one stalls past it, the batches before stand, the pass fails (the
// scheduler assumed the placements) and the next places the rest.
func TestPassCommitsPlacementsInBatches(t *testing.T) {
	batched(t, 3, 100*time.Millisecond)
	h, st := stallingHarness(t)
	h.register(node1)
	var jobs []store.Job
	for range 8 {
		jobs = append(jobs, h.submit("acme", `{"accelerators":1}`))
	}
	st.arm(2) // the second batch of placements stalls
	gen := h.srv.generation.Load()
	t0 := time.Now()
	err := h.srv.Reconcile(context.Background()) // no deadline of its own
	if err == nil {
		t.Fatal("a pass whose placements did not all commit succeeded")
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("the stalled batch held the pass %v: no deadline of its own", d)
	}
	if running, _ := states(t, st, jobs); running != 3 {
		t.Errorf("after a failed second batch: %d running, want the first batch's 3", running)
	}
	if h.srv.generation.Load() == gen {
		t.Error("the scheduler was not told to rebuild")
	}
	st.arm(0)
	if err := h.srv.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if running, _ := states(t, st, jobs); running != 8 {
		t.Errorf("the next pass: %d running, want 8", running)
	}
}

// A batch of wait reasons that fails costs only those reasons: the pass
// stands, and the scheduler keeps its state.
func TestPassWaitsInBatches(t *testing.T) {
	batched(t, 3, 100*time.Millisecond)
	h, st := stallingHarness(t)
	h.register(node1)
	var jobs []store.Job
	for range 14 {
		jobs = append(jobs, h.submit("acme", `{"accelerators":1}`))
	}
	st.arm(5) // placements in 3 batches, then waits in 2: the second stalls
	gen := h.srv.generation.Load()
	if err := h.srv.Reconcile(context.Background()); err != nil {
		t.Fatalf("a failed batch of waits failed the pass: %v", err)
	}
	running, reasoned := states(t, st, jobs)
	if running != 8 || reasoned != 3 {
		t.Errorf("%d running and %d waiting with a reason, want 8 and 3", running, reasoned)
	}
	if h.srv.generation.Load() != gen {
		t.Error("failed waits made the scheduler rebuild")
	}
	st.arm(0)
	if err := h.srv.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if running, reasoned := states(t, st, jobs); running != 8 || reasoned != 6 {
		t.Errorf("the next pass: %d running and %d with a reason, want 8 and 6", running, reasoned)
	}
}

func TestBatchesKeepEventsWithTheirJobs(t *testing.T) {
	var c store.Changes
	for i := range 7 {
		id := fmt.Sprint("j", i)
		c.Jobs = append(c.Jobs, store.Job{ID: id})
		c.Events = append(c.Events, store.Event{Job: id, Kind: "placed"})
	}
	c.Events = append(c.Events, store.Event{Node: "n", Kind: "node-lost"})
	bs := batches(c, 3)
	if len(bs) != 3 || len(bs[0].Jobs) != 3 || len(bs[2].Jobs) != 1 {
		t.Fatalf("batches: %+v", bs)
	}
	for i, b := range bs {
		in := map[string]bool{}
		for _, j := range b.Jobs {
			in[j.ID] = true
		}
		for _, e := range b.Events {
			if e.Job != "" && !in[e.Job] {
				t.Errorf("batch %d: event of job %s, not in it", i, e.Job)
			}
		}
	}
	if n := len(bs[0].Events); n != 4 {
		t.Errorf("the first batch has %d events, want its 3 and the node's", n)
	}
}

package server

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"stargate/store"
)

// keepQueue is a QueueKeeper that keeps the queue it is told of, and
// places jobs as placeFirst does.
type keepQueue struct {
	gen   uint64
	queue map[string]store.Job
}

func (k *keepQueue) Enqueue(q QueueChange) error {
	if k.queue == nil || q.Generation != k.gen {
		k.gen, k.queue = q.Generation, map[string]store.Job{}
	}
	for _, id := range q.Left {
		delete(k.queue, id)
	}
	for _, j := range q.Joined {
		k.queue[j.ID] = j
	}
	return nil
}

func (k *keepQueue) Schedule(ctx context.Context, in ScheduleInput) ([]Decision, error) {
	if in.Pending != nil {
		return nil, errors.New("the whole queue given to a scheduler that keeps it")
	}
	if k.queue == nil || in.Generation != k.gen {
		return nil, errors.New("no queue of this generation")
	}
	in.Pending = k.pending()
	ds, err := placeFirst{}.Schedule(ctx, in)
	for _, d := range ds {
		if d.Action == ActPlace {
			delete(k.queue, d.Job)
		}
	}
	return ds, err
}

func (k *keepQueue) pending() []store.Job {
	var out []store.Job
	for _, j := range k.queue {
		out = append(out, j)
	}
	slices.SortFunc(out, func(a, b store.Job) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func (k *keepQueue) ids() []string {
	var out []string
	for _, j := range k.pending() {
		out = append(out, j.ID)
	}
	return out
}

// A queue is read over several passes of bounded size, and decided on once
// whole; from then on the scheduler that keeps it hears only of the jobs
// that joined or left it: cancelled, held, released, new.
func TestQueueReadOverPassesThenFollowed(t *testing.T) {
	oldPass, oldPage := loadPerPass, loadPage
	loadPerPass, loadPage = 10, 4
	t.Cleanup(func() { loadPerPass, loadPage = oldPass, oldPage })
	k := &keepQueue{}
	h := newHarness(t, func(c *Config) { c.Scheduler = k })
	var jobs []store.Job
	for range 25 {
		jobs = append(jobs, h.submit("acme", `{"accelerators":1}`))
	}
	ctx := context.Background()
	h.register(node1)
	h.srv.generation.Add(1) // as a new leadership does: the queue is read again
	for pass := 1; pass <= 2; pass++ {
		if err := h.srv.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		if !h.srv.QueueLoading() {
			t.Fatalf("pass %d: the queue of 25 was read whole, %d a pass", pass, loadPerPass)
		}
		if got := len(k.queue); got != 12*pass {
			t.Errorf("pass %d: %d jobs in the queue, want %d", pass, got, 12*pass)
		}
	}
	if err := h.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if h.srv.QueueLoading() {
		t.Fatal("the queue is still being read after the third pass")
	}
	if running, _ := states(t, h.st, jobs); running != 8 {
		t.Errorf("%d running once the queue is whole, want 8", running)
	}
	want := []string{}
	for _, j := range jobs[8:] {
		want = append(want, j.ID)
	}
	if got := k.ids(); !slices.Equal(got, want) {
		t.Fatalf("queue after placing 8: %v, want %v", got, want)
	}

	// Cancelled, held: they leave. Held and released: it comes back. New:
	// it joins. Submitted held: it joins once released.
	if r := h.do("acme", "DELETE", "/v1/jobs/"+jobs[8].ID, ""); r.status != 200 {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	if r := h.do("acme", "POST", "/v1/jobs/"+jobs[9].ID+"/hold", ""); r.status != 200 {
		t.Fatalf("hold: %d %s", r.status, r.body)
	}
	if r := h.do("acme", "POST", "/v1/jobs/"+jobs[10].ID+"/hold", ""); r.status != 200 {
		t.Fatalf("hold: %d %s", r.status, r.body)
	}
	fresh := h.submit("acme", `{"accelerators":1}`)
	later := h.submit("acme", `{"accelerators":1,"hold":true}`)
	if err := h.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	want = []string{}
	for _, j := range jobs[11:] {
		want = append(want, j.ID)
	}
	want = append(want, fresh.ID)
	if got := k.ids(); !slices.Equal(got, want) {
		t.Errorf("queue after a cancel, two holds and a submit: %v, want %v", got, want)
	}
	for _, id := range []string{jobs[10].ID, later.ID} {
		if r := h.do("acme", "POST", "/v1/jobs/"+id+"/release", ""); r.status != 200 {
			t.Fatalf("release: %d %s", r.status, r.body)
		}
	}
	if err := h.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	want = append(want, jobs[10].ID, later.ID)
	slices.Sort(want)
	if got := k.ids(); !slices.Equal(got, want) {
		t.Errorf("queue after two releases: %v, want %v", got, want)
	}
	// The loop keeps none of the scheduler's jobs whole.
	for _, id := range want {
		if _, ok := h.srv.live.jobs[id]; ok {
			t.Errorf("job %s is kept whole by the loop as well", id)
		}
	}
}

// A pending job that ran before keeps the times of its last run when a
// pass writes why it waits: the loop keeps them aside for the few queued
// jobs that have them.
func TestQueuedJobKeepsItsLastRun(t *testing.T) {
	k := &keepQueue{}
	h := newHarness(t, func(c *Config) { c.Scheduler = k })
	ctx := context.Background()
	fresh := h.submit("acme", `{"accelerators":8}`)
	ran := h.submit("acme", `{"accelerators":8,"max_restarts":3}`)
	j, err := h.st.Job(ctx, ran.ID)
	if err != nil {
		t.Fatal(err)
	}
	start := h.clock.Now().Add(-time.Hour).Truncate(time.Millisecond)
	j.StartedAt, j.EndedAt, j.Attempts, j.Failures = start, start.Add(30*time.Minute), 1, 1
	if err := h.st.Apply(ctx, store.Changes{Jobs: []store.Job{j}}); err != nil {
		t.Fatal(err)
	}
	for range 2 { // no node: both wait, and say why
		if err := h.srv.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		id         string
		start, end time.Time
		runs       int
	}{{fresh.ID, time.Time{}, time.Time{}, 0}, {ran.ID, start, start.Add(30 * time.Minute), 1}} {
		got, err := h.st.Job(ctx, c.id)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != store.JobPending || len(got.Reasons) == 0 {
			t.Fatalf("job %s: %s %v, want pending with a reason written", c.id, got.State, got.Reasons)
		}
		if !got.StartedAt.Equal(c.start) || !got.EndedAt.Equal(c.end) {
			t.Errorf("job %s after a wait was written: started %v ended %v, want %v and %v", c.id, got.StartedAt, got.EndedAt, c.start, c.end)
		}
		if got.Attempts != c.runs || got.Failures != c.runs {
			t.Errorf("job %s: attempts %d failures %d, want %d", c.id, got.Attempts, got.Failures, c.runs)
		}
	}
}

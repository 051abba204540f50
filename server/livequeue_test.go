package server

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"stargate/store"
	"stargate/store/sqlite"
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
	oldPage := loadPage
	loadPage = 4
	t.Cleanup(func() { loadPage = oldPage })
	k := &keepQueue{}
	h := newHarness(t, func(c *Config) { c.Scheduler = k; c.ReadPerPass = 10 })
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
			t.Fatalf("pass %d: the queue of 25 was read whole, %d a pass", pass, h.srv.cfg.ReadPerPass)
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

// prefixQueue is a keepQueue of a static order: it serves its queue by
// priority, then ID (or by ID), reads the queue in that order, and notes
// the order jobs joined it in.
type prefixQueue struct {
	keepQueue
	order  LoadOrder
	joined []string
}

func (p *prefixQueue) LoadOrder() LoadOrder { return p.order }

func (p *prefixQueue) Enqueue(q QueueChange) error {
	if p.queue == nil || q.Generation != p.gen {
		p.joined = nil
	}
	for _, j := range q.Joined {
		p.joined = append(p.joined, j.ID)
	}
	return p.keepQueue.Enqueue(q)
}

func (p *prefixQueue) Schedule(ctx context.Context, in ScheduleInput) ([]Decision, error) {
	if p.queue == nil || in.Generation != p.gen {
		return nil, errors.New("no queue of this generation")
	}
	in.Pending = p.pending()
	if p.order == LoadByPriority {
		slices.SortStableFunc(in.Pending, func(a, b store.Job) int { return b.Spec.Priority - a.Spec.Priority })
	}
	ds, err := placeFirst{}.Schedule(ctx, in)
	for _, d := range ds {
		if d.Action == ActPlace {
			delete(p.queue, d.Job)
		}
	}
	return ds, err
}

// A new leader over a long queue reads it in the scheduler's order and,
// for a scheduler of a static order, decides from the part read: a
// priority-1000 job is placed in the first pass. While it reads, it
// follows the change feed for the jobs it has read or that sort before
// the last one read, and leaves the others to the reading: every job
// joins once, a cancelled one leaves or never joins, and a new urgent
// job joins in the next pass.
func TestNewLeaderDecidesFromTheHeadItRead(t *testing.T) {
	oldPage := loadPage
	loadPage = 3
	t.Cleanup(func() { loadPage = oldPage })
	for name, order := range map[string]LoadOrder{"priority": LoadByPriority, "id": LoadByID} {
		t.Run(name, func(t *testing.T) {
			p := &prefixQueue{order: order}
			h := newHarness(t, func(c *Config) { c.Scheduler = p; c.ReadPerPass = 6 })
			prio := map[string]int{}
			submit := func(priority int) store.Job {
				j := h.submit("acme", fmt.Sprintf(`{"accelerators":8,"priority":%d}`, priority))
				prio[j.ID] = priority
				return j
			}
			var jobs []store.Job
			for i := range 20 {
				jobs = append(jobs, submit([]int{0, 5, -2, 0, 3}[i%5]))
			}
			high := submit(1000)
			h.register(node1) // room for one job
			h.srv.generation.Add(1)
			ctx := context.Background()
			pass := func() {
				t.Helper()
				if err := h.srv.Reconcile(ctx); err != nil {
					t.Fatal(err)
				}
			}
			pass()
			if !h.srv.QueueLoading() {
				t.Fatal("a queue of 21 read whole, 6 a pass")
			}
			got, err := h.st.Job(ctx, high.ID)
			if err != nil {
				t.Fatal(err)
			}
			if placed := got.State == store.JobRunning; placed != (order == LoadByPriority) {
				t.Fatalf("the priority-1000 job after the first pass: %s (reading by %v)", got.State, order)
			}

			// While the queue is read: one read job and one not yet read
			// are cancelled; an urgent job and a low one are submitted.
			read, unread := p.joined[len(p.joined)-1], ""
			for _, j := range jobs {
				if !slices.Contains(p.joined, j.ID) {
					unread = j.ID
				}
			}
			if read == high.ID {
				read = p.joined[0]
			}
			for _, id := range []string{read, unread} {
				if r := h.do("acme", "DELETE", "/v1/jobs/"+id, ""); r.status != 200 {
					t.Fatalf("cancel: %d %s", r.status, r.body)
				}
			}
			urgent, low := submit(900), submit(-5)
			pass()
			if order == LoadByPriority && !slices.Contains(p.joined, urgent.ID) {
				t.Errorf("an urgent job submitted while the queue is read did not join in the next pass: %v", p.joined)
			}
			for passes := 2; h.srv.QueueLoading(); passes++ {
				if passes > 10 {
					t.Fatal("the queue of 23 is still being read after 10 passes")
				}
				pass()
			}
			pass()

			// Every job joined once, in the reading's order but for the
			// urgent one; the queue is what waits in the store.
			var read2 []string
			for _, id := range p.joined {
				if id != urgent.ID || order == LoadByID {
					read2 = append(read2, id)
				}
			}
			sorted := slices.Clone(read2)
			slices.SortStableFunc(sorted, func(a, b string) int {
				if order == LoadByPriority && prio[a] != prio[b] {
					return prio[b] - prio[a]
				}
				return strings.Compare(a, b)
			})
			if !slices.Equal(read2, sorted) {
				t.Errorf("joined out of the reading's order:\n got %v\nwant %v", read2, sorted)
			}
			if len(slices.Compact(slices.Sorted(slices.Values(sorted)))) != len(sorted) {
				t.Errorf("a job joined twice: %v", p.joined)
			}
			if slices.Contains(p.joined, unread) {
				t.Errorf("job %s, cancelled before it was read, joined", unread)
			}
			waiting, err := h.st.Jobs(ctx, store.JobQuery{States: []store.JobState{store.JobPending}})
			if err != nil {
				t.Fatal(err)
			}
			want := []string{}
			for _, j := range waiting {
				want = append(want, j.ID)
			}
			if got := p.ids(); !slices.Equal(got, want) {
				t.Errorf("the scheduler's queue once read:\n got %v\nwant %v", got, want)
			}
			if !slices.Contains(want, low.ID) || !slices.Contains(want, urgent.ID) && order == LoadByPriority {
				t.Errorf("queue %v lacks the low job %s or the urgent one %s", want, low.ID, urgent.ID)
			}
		})
	}
}

// A new leader reads its queue pass after pass without waiting for the
// reconcile period between them: here the period is an hour and the
// clock stands still.
func TestNewLeaderReadsOnAtOnce(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := &fakeClock{t: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
	h, stop := startOn(t, st, clock, func(c *Config) { c.ID = "test"; c.Scheduler = &keepQueue{} })
	for range 9 {
		h.submit("acme", `{"accelerators":1}`)
	}
	stop()
	h, _ = startOn(t, st, clock, func(c *Config) { c.ID = "test"; c.Scheduler = &keepQueue{}; c.ReadPerPass = 2 })
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		h.srv.reconMu.Lock()
		loaded, queued := h.srv.live.loaded, len(h.srv.live.queue)
		h.srv.reconMu.Unlock()
		if loaded && queued == 9 {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("after 10 s the leader has read %d of 9 queued jobs, 2 a pass (loaded %v)", queued, loaded)
		}
	}
}

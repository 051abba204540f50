package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"stargate/store"
)

// testQueueOrder checks the pending queue listed ByPriority, page after
// page from each page's last job, against a sort of the jobs by (priority
// descending, ID), whatever the specs' other text holds; and that
// JobChanges says each job's priority.
func testQueueOrder(t *testing.T, s store.Store, _ func() store.Store) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	prios := []int{-1000, -3, 0, 0, 0, 1, 7, 1000}
	var jobs []store.Job
	for i := range 60 {
		j := newJob(fmt.Sprintf("q%03d", r.IntN(1000)*100+i), "acme", 1+i%3)
		j.Spec.Priority = prios[r.IntN(len(prios))]
		// text that looks like a priority, in a name, an env key and
		// value, and a command: none of it is the job's priority
		j.Spec.Name = `"priority":999`
		j.Spec.Env = map[string]string{"priority": "5", "X": `{"priority":-9}`}
		j.Spec.Command = []string{`"priority":12`}
		jobs = append(jobs, j)
	}
	cur, err := s.JobCursor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustSubmit(t, s, jobs...)
	// Some leave the queue: they are not listed.
	var done []store.Job
	for _, i := range []int{3, 17, 40} {
		j := mustJob(t, s, jobs[i].ID)
		j.State = store.JobRunning
		done = append(done, j)
	}
	if err := s.Apply(ctx, store.Changes{Jobs: done}); err != nil {
		t.Fatal(err)
	}
	want := []string{}
	byID := map[string]store.Job{}
	var sorted []store.Job
	for i, j := range jobs {
		byID[j.ID] = j
		if i != 3 && i != 17 && i != 40 {
			sorted = append(sorted, j)
		}
	}
	slices.SortFunc(sorted, func(a, b store.Job) int {
		return cmp.Or(cmp.Compare(b.Spec.Priority, a.Spec.Priority), cmp.Compare(a.ID, b.ID))
	})
	for _, j := range sorted {
		want = append(want, j.ID)
	}
	for _, limit := range []int{1, 4, 7, 100, 0} {
		q := store.JobQuery{States: []store.JobState{store.JobPending}, ByPriority: true, Limit: limit}
		var got []string
		for pages := 0; ; pages++ {
			page, err := s.Jobs(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, j := range page {
				got = append(got, j.ID)
			}
			if len(page) == 0 || limit <= 0 || len(page) < limit || pages > len(jobs) {
				break
			}
			last := page[len(page)-1]
			q.After, q.AfterPriority = last.ID, last.Spec.Priority
		}
		if !slices.Equal(got, want) {
			t.Errorf("pages of %d by priority:\n got %v\nwant %v", limit, got, want)
		}
	}
	if _, err := s.Jobs(ctx, store.JobQuery{ByPriority: true, Newest: true}); !errors.Is(err, store.ErrBadQuery) {
		t.Errorf("ByPriority and Newest: %v, want ErrBadQuery", err)
	}

	vs, _, err := s.JobChanges(ctx, cur)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) < len(jobs) {
		t.Fatalf("%d changes, want at least %d", len(vs), len(jobs))
	}
	for _, v := range vs {
		if j, ok := byID[v.ID]; ok && v.Priority != j.Spec.Priority {
			t.Errorf("JobChanges: %s has priority %d, want %d", v.ID, v.Priority, j.Spec.Priority)
		}
	}
}

// OldQueue is a pending queue as a store held it before it kept each
// job's priority apart (the IDs and specs, JSON text, to insert with the
// old schema): the specs hold text that looks like a priority, and a NUL
// that PostgreSQL's jsonb refuses.
func OldQueue() (ids, specs []string) {
	for i, p := range []int{0, 7, -3, 7, 1000, 0, -1000} {
		ids = append(ids, fmt.Sprintf("j%d", i))
		specs = append(specs, store.EncodeJSON(store.JobSpec{Name: `"priority":5` + "\x00", Priority: p, Accelerators: 8,
			Env: map[string]string{"priority": "9"}}))
	}
	return ids, specs
}

// CheckOldQueue checks that a store migrated over OldQueue lists it by
// priority in order.
func CheckOldQueue(t *testing.T, s store.Store) {
	t.Helper()
	got, err := s.Jobs(context.Background(), store.JobQuery{States: []store.JobState{store.JobPending}, ByPriority: true})
	if err != nil {
		t.Fatal(err)
	}
	if ids, want := ids(got), []string{"j4", "j1", "j3", "j0", "j5", "j2", "j6"}; !slices.Equal(ids, want) {
		t.Fatalf("old jobs by priority: %v, want %v", ids, want)
	}
}

package storetest

import (
	"context"
	"sync"
	"testing"

	"stargate/store"
)

// testJobChanges checks that a reader following JobChanges's cursor sees
// every submit and every change, committed in any order by concurrent
// writers, with the version it was committed at, and nothing of a change
// set that failed.
func testJobChanges(t *testing.T, s store.Store, _ func() store.Store) {
	ctx := context.Background()
	mustSubmit(t, s, newJob("old", "acme", 1))
	cur, err := s.JobCursor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]store.JobVersion{} // the latest listed of each job
	follow := func() {
		t.Helper()
		vs, next, err := s.JobChanges(ctx, cur)
		if err != nil {
			t.Fatal(err)
		}
		if next < cur {
			t.Fatalf("cursor went back: %d after %d", next, cur)
		}
		cur = next
		for _, v := range vs {
			if p, ok := seen[v.ID]; !ok || v.Version >= p.Version {
				seen[v.ID] = v
			}
		}
	}
	follow()
	if _, ok := seen["old"]; ok && len(seen) > 1 {
		t.Errorf("changes before the cursor: %v", seen)
	}
	clear(seen)

	mustSubmit(t, s, newJob("a", "acme", 1), newJob("b", "acme", 1))
	follow()
	for _, id := range []string{"a", "b"} {
		if v := seen[id]; v.State != store.JobPending || v.Version != 1 {
			t.Errorf("after submit, %s: %+v", id, v)
		}
	}
	a := mustJob(t, s, "a")
	a.State = store.JobRunning
	if err := s.Apply(ctx, store.Changes{Jobs: []store.Job{a}}); err != nil {
		t.Fatal(err)
	}
	// A failed change set shows nothing.
	b := mustJob(t, s, "b")
	b.Version = 7
	b.State = store.JobCancelled
	if err := s.Apply(ctx, store.Changes{Jobs: []store.Job{b}}); err == nil {
		t.Fatal("a stale change applied")
	}
	follow()
	if v := seen["a"]; v.State != store.JobRunning || v.Version != 2 {
		t.Errorf("after apply, a: %+v", v)
	}
	if v := seen["b"]; v.Version != 1 || v.State != store.JobPending {
		t.Errorf("b after a failed apply: %+v", v)
	}

	// Concurrent writers: every job, at its last version, is seen by a
	// reader following all along.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				follow()
			}
		}
	}()
	const writers, each = 4, 25
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := string(rune('c'+w)) + "-" + string(rune('a'+i))
				mustSubmit(t, s, newJob(id, "acme", 1))
				j := mustJob(t, s, id)
				j.State = store.JobCancelled
				if err := s.Apply(ctx, store.Changes{Jobs: []store.Job{j}}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-done
	follow()
	for w := range writers {
		for i := range each {
			id := string(rune('c'+w)) + "-" + string(rune('a'+i))
			if v := seen[id]; v.State != store.JobCancelled || v.Version != 2 {
				t.Errorf("%s: %+v", id, v)
			}
		}
	}
}

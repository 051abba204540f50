package enginesched_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"stargate/engine"
	"stargate/store"
)

// A large queue does not hold a high-priority job back: with 20,000 jobs
// ahead of it and the fleet full, it starts within two passes of a node
// coming free; each pass writes a bounded number of wait reasons, and in
// turn every waiting job gets one.
func TestHighPriorityPlacedWithinTwoPassesBehindALargeQueue(t *testing.T) {
	const queued = 20_000
	e := setup(t, engine.Config{})
	e.register(t, rack1+"1", rack1+"2")
	ctx := context.Background()
	now := e.clock.Now()
	var jobs []store.Job
	for i := range queued {
		jobs = append(jobs, store.Job{ID: fmt.Sprintf("q%06d", i), Tenant: "acme", State: store.JobPending, Version: 1,
			SubmittedAt: now.Add(time.Duration(i)), Spec: store.JobSpec{Accelerators: 8, DurationS: 3600}})
	}
	if _, err := e.st.SubmitJobs(ctx, jobs); err != nil {
		t.Fatal(err)
	}
	e.pass(t)
	running, err := e.st.Jobs(ctx, store.JobQuery{States: []store.JobState{store.JobRunning}})
	if err != nil {
		t.Fatal(err)
	}
	if len(running) != 2 {
		t.Fatalf("%d running, want 2 (two nodes of 8)", len(running))
	}
	reasoned := func() int {
		pending, err := e.st.Jobs(ctx, store.JobQuery{States: []store.JobState{store.JobPending}})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, j := range pending {
			if len(j.Reasons) > 0 {
				n++
			}
		}
		return n
	}
	if n := reasoned(); n == 0 || n > queued/2 {
		t.Errorf("the first pass wrote %d wait reasons of %d waiting jobs, want some, and a bounded number", n, queued-2)
	}
	e.pass(t)

	e.register(t, rack1+"3") // a node comes free
	high := e.submit(t, `{"accelerators":8,"priority":1000}`)
	placedIn := 0
	for n := 1; n <= 2 && placedIn == 0; n++ {
		e.pass(t)
		if e.job(t, high).State == store.JobRunning {
			placedIn = n
		}
	}
	if placedIn == 0 {
		t.Fatalf("a priority-1000 job behind %d queued jobs was not placed within two passes: %+v", queued, e.job(t, high))
	}
	for range 4 {
		e.pass(t)
	}
	if n := reasoned(); n != queued-2 {
		t.Errorf("after 8 passes %d of %d waiting jobs have a reason", n, queued-2)
	}
}

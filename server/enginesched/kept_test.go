package enginesched_test

import (
	"context"
	"testing"
	"time"

	"stargate/engine"
	"stargate/server"
	"stargate/store"
)

// Jobs the reconcile loop keeps whole (array elements, jobs with
// dependencies, jobs of tenants with model or power quotas) that the
// engine preempts go back to the engine's own queue: a hold or a cancel
// afterwards must take them out of it.

// advance moves the clock by d in steps of 10 s, the nodes heartbeating.
func (e *env) advance(t *testing.T, d time.Duration, nodes ...string) {
	t.Helper()
	for ; d > 0; d -= 10 * time.Second {
		e.clock.Advance(10 * time.Second)
		for _, n := range nodes {
			if _, err := e.agent.Heartbeat(context.Background(), n, server.Heartbeat{}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// preemptKept runs an array element on a node, then has a
// priority-1000 job preempt it.
func preemptKept(t *testing.T, e *env) (elem string) {
	t.Helper()
	ctx := context.Background()
	n1 := rack1 + "1"
	e.register(t, n1)
	jobs, _, err := e.user.SubmitAll(ctx, []byte(`{"accelerators":8,"per_node":8,"priority":0,"preemptible":true,"checkpoint_s":600,"array":"0-0"}`), "", "")
	if err != nil {
		t.Fatal(err)
	}
	elem = jobs[0].ID
	e.pass(t)
	if st := e.job(t, elem).State; st != store.JobRunning {
		t.Fatalf("the element: %s", st)
	}
	e.advance(t, time.Minute, n1)
	e.submit(t, `{"accelerators":8,"per_node":8,"priority":1000}`)
	e.pass(t)
	evs, _ := e.st.Events(ctx, store.EventQuery{Job: elem, Limit: 10})
	preempted := false
	for _, ev := range evs {
		preempted = preempted || ev.Kind == "preempted"
	}
	if !preempted {
		t.Fatalf("the element was not preempted: %+v", evs)
	}
	return elem
}

func TestPreemptedKeptJobHeldIsNotPlaced(t *testing.T) {
	e := setup(t, engine.Config{Preemption: true})
	elem := preemptKept(t, e)
	if _, err := e.user.Hold(context.Background(), elem); err != nil {
		t.Fatal(err)
	}
	n1, n2 := rack1+"1", rack1+"2"
	e.pass(t)
	e.register(t, n2)
	for range 10 {
		e.advance(t, 10*time.Minute, n1, n2)
		e.pass(t)
	}
	if j := e.job(t, elem); j.State != store.JobPending || !j.Held {
		t.Fatalf("a held job was started: state %s, held %v, placement %v", j.State, j.Held, j.Placement)
	}
}

func TestPreemptedKeptJobCancelled(t *testing.T) {
	e := setup(t, engine.Config{Preemption: true})
	ctx := context.Background()
	elem := preemptKept(t, e)
	if _, err := e.user.Cancel(ctx, elem); err != nil {
		t.Fatal(err)
	}
	n1, n2 := rack1+"1", rack1+"2"
	e.register(t, n2)
	for i := range 10 {
		e.advance(t, 10*time.Minute, n1, n2)
		if err := e.srv.Reconcile(ctx); err != nil {
			t.Fatalf("pass %d after the cancel: %v", i, err)
		}
	}
}

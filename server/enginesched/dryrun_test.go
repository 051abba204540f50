package enginesched_test

import (
	"context"
	"strings"
	"testing"

	"stargate/engine"
	"stargate/store"
)

// A dry run answers as the next pass would decide, and stores nothing.
func TestDryRun(t *testing.T) {
	e := setup(t, engine.Config{Queue: "fifo"})
	e.register(t, rack1+"1", rack1+"2")
	ctx := context.Background()
	dry := func(spec string) (starts bool, where, why string, queued int) {
		t.Helper()
		d, err := e.user.DryRun(ctx, []byte(spec), "application/json")
		if err != nil {
			t.Fatal(err)
		}
		if d.Job.ID != "dry-run" {
			t.Errorf("the dry run's job: %q", d.Job.ID)
		}
		for _, a := range d.Placement {
			where += a.Node + " "
		}
		return d.Starts, where, strings.Join(d.Reasons, "; "), d.Queued
	}
	if starts, where, _, _ := dry(`{"accelerators":16,"topology":"rack"}`); !starts || strings.Count(where, rack1) != 2 {
		t.Errorf("an idle fleet: starts %v on %q", starts, where)
	}
	big := e.submit(t, `{"accelerators":16}`)
	e.pass(t)
	if starts, _, why, _ := dry(`{"accelerators":8}`); starts || why == "" {
		t.Errorf("a full fleet: starts %v, why %q", starts, why)
	}
	// fifo: a job waits behind the head of the queue, and says so
	head := e.submit(t, `{"accelerators":16}`)
	e.pass(t)
	if starts, _, why, queued := dry(`{"accelerators":1}`); starts || !strings.Contains(why, head) || queued != 1 {
		t.Errorf("behind the head: starts %v, why %q, queued %d", starts, why, queued)
	}
	// a dependency holds it back before the scheduler
	if starts, _, why, _ := dry(`{"accelerators":1,"depends_on":[{"job":"` + big + `","kind":"afterok"}]}`); starts || !strings.Contains(why, big) {
		t.Errorf("a dependency: starts %v, why %q", starts, why)
	}
	// nothing was stored
	all, err := e.st.Jobs(ctx, store.JobQuery{})
	if err != nil || len(all) != 2 {
		t.Errorf("jobs stored: %d %v", len(all), err)
	}
	// the scheduler's own state is untouched: the next pass decides as before
	if _, err := e.user.Cancel(ctx, big); err != nil {
		t.Fatal(err)
	}
	e.pass(t)
	if j := e.job(t, head); j.State != store.JobRunning {
		t.Errorf("the head after the blocker ended: %s %v", j.State, j.Reasons)
	}
	// a spec the fleet can never hold is refused as a submit would be
	if _, err := e.user.DryRun(ctx, []byte(`{"accelerators":100000}`), "application/json"); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("an impossible spec: %v", err)
	}
}

package server

import (
	"context"
	"strings"
	"testing"

	"stargate/store"
)

func TestHoldAndRelease(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Scheduler = placeFirst{} })
	h.register(node1)
	ctx := context.Background()
	held := h.submit("acme", `{"accelerators":1,"hold":true}`)
	later := h.submit("acme", `{"accelerators":1}`)
	if !held.Held {
		t.Fatalf("submitted with hold: %+v", held)
	}
	// a held job is not the scheduler's: it waits with its reason
	if r := h.do("acme", "POST", "/v1/jobs/"+later.ID+"/hold", ""); r.status != 200 {
		t.Fatalf("hold: %d %s", r.status, r.body)
	}
	if err := h.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{held.ID, later.ID} {
		j, _ := h.st.Job(ctx, id)
		if j.State != store.JobPending || !j.Held || len(j.Reasons) != 1 || j.Reasons[0] != heldReason {
			t.Errorf("held job %s after a pass: %s held=%v %v", id, j.State, j.Held, j.Reasons)
		}
	}
	// released, it starts at the next pass
	if r := h.do("acme", "POST", "/v1/jobs/"+held.ID+"/release", ""); r.status != 200 || strings.Contains(string(r.body), `"held":true`) {
		t.Fatalf("release: %d %s", r.status, r.body)
	}
	if err := h.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if j, _ := h.st.Job(ctx, held.ID); j.State != store.JobRunning {
		t.Errorf("released job: %s %v", j.State, j.Reasons)
	}
	if j, _ := h.st.Job(ctx, later.ID); j.State != store.JobPending || !j.Held {
		t.Errorf("the job still held: %s held=%v", j.State, j.Held)
	}
	// only pending jobs; only one's own tenant; holding twice is a no-op
	if r := h.do("acme", "POST", "/v1/jobs/"+held.ID+"/hold", ""); r.status != 409 {
		t.Errorf("hold a running job: %d", r.status)
	}
	if r := h.do("blue", "POST", "/v1/jobs/"+later.ID+"/release", ""); r.status != 404 {
		t.Errorf("another tenant releases: %d", r.status)
	}
	if r := h.do("acme", "POST", "/v1/jobs/"+later.ID+"/hold", ""); r.status != 200 {
		t.Errorf("hold a held job: %d", r.status)
	}
	var evs EventList
	h.do("admin", "GET", "/v1/events", "").decode(t, &evs)
	var kinds []string
	for _, e := range evs.Events {
		if e.Kind == "held" || e.Kind == "released" {
			kinds = append(kinds, e.Kind+":"+e.Job)
		}
	}
	if got, want := strings.Join(kinds, ","), "held:"+later.ID+",released:"+held.ID; got != want {
		t.Errorf("journal: %s, want %s", got, want)
	}
}

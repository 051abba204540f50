package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"stargate/store"
)

// Dependencies with Slurm's kinds: a job waits, saying for what, until
// the jobs it depends on ended as it asks, and is cancelled when one
// ended otherwise.
func TestDependencies(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Scheduler = placeFirst{} })
	h.register(node1)
	ctx := context.Background()
	pass := func() {
		t.Helper()
		if err := h.srv.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
	}
	state := func(id string) store.Job {
		t.Helper()
		j, err := h.st.Job(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	a := h.submit("acme", `{"accelerators":1}`)
	b := h.submit("acme", `{"accelerators":1}`)
	ok := h.submit("acme", `{"accelerators":1,"depends_on":[{"job":"`+a.ID+`","kind":"afterok"}]}`)
	notok := h.submit("acme", `{"accelerators":1,"depends_on":[{"job":"`+a.ID+`","kind":"afternotok"}]}`)
	both := h.submit("acme", `{"accelerators":1,"depends_on":[{"job":"`+a.ID+`","kind":"afterok"},{"job":"`+b.ID+`","kind":"afterany"}]}`)
	onB := h.submit("acme", `{"accelerators":1,"depends_on":[{"job":"`+b.ID+`","kind":"afterok"}]}`)
	pass()
	for _, id := range []string{ok.ID, notok.ID, both.ID, onB.ID} {
		if j := state(id); j.State != store.JobPending || len(j.Reasons) != 1 || !strings.HasPrefix(j.Reasons[0], "waiting for job") {
			t.Errorf("%s while its dependencies run: %s %v", id, j.State, j.Reasons)
		}
	}
	if state(a.ID).State != store.JobRunning || state(b.ID).State != store.JobRunning {
		t.Fatal("the jobs depended on did not start")
	}
	h.report(node1, JobOutcome{Job: a.ID, Attempt: 1, State: store.JobSucceeded})
	h.report(node1, JobOutcome{Job: b.ID, Attempt: 1, State: store.JobFailed, Message: "exit code 1"})
	pass()
	if j := state(ok.ID); j.State != store.JobRunning {
		t.Errorf("afterok of a success: %s %v, want running", j.State, j.Reasons)
	}
	if j := state(both.ID); j.State != store.JobRunning {
		t.Errorf("afterok of a success and afterany of a failure: %s %v, want running", j.State, j.Reasons)
	}
	for id, why := range map[string]string{notok.ID: "ended succeeded (afternotok)", onB.ID: "ended failed (afterok)"} {
		if j := state(id); j.State != store.JobCancelled || !strings.Contains(j.Reasons[0], why) {
			t.Errorf("%s: %s %v, want cancelled: %s", id, j.State, j.Reasons, why)
		}
	}

	// Only jobs the submitter may see, and known kinds.
	for spec, field := range map[string]string{
		`{"accelerators":1,"depends_on":[{"job":"jnosuch","kind":"afterok"}]}`:    "depends_on[0].job",
		`{"accelerators":1,"depends_on":[{"job":"` + a.ID + `","kind":"after"}]}`: "depends_on[0].kind",
	} {
		if r := h.do("acme", "POST", "/v1/jobs", spec); r.status != http.StatusBadRequest || !strings.Contains(string(r.body), field) {
			t.Errorf("%s: %d %s, want 400 on %s", spec, r.status, r.body, field)
		}
	}
	if r := h.do("blue", "POST", "/v1/jobs", `{"accelerators":1,"depends_on":[{"job":"`+a.ID+`","kind":"afterany"}]}`); r.status != http.StatusBadRequest {
		t.Errorf("another tenant's job as a dependency: %d %s", r.status, r.body)
	}
}

package server

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"stargate/store"
)

// runOn puts a pending job running on nodes, 8 accelerators each, as a
// pass would.
func (h *harness) runOn(id string, nodes ...string) store.Job {
	h.t.Helper()
	ctx := context.Background()
	j, err := h.st.Job(ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	j.State, j.Attempts, j.Placement = store.JobRunning, j.Attempts+1, nil
	for _, n := range nodes {
		j.Placement = append(j.Placement, store.Allocation{Node: n, Accelerators: []int{0, 1, 2, 3, 4, 5, 6, 7}})
	}
	if err := h.st.Apply(ctx, store.Changes{Jobs: []store.Job{j}}); err != nil {
		h.t.Fatal(err)
	}
	j.Version++
	return j
}

func (h *harness) report(node string, o JobOutcome) HeartbeatReply {
	h.t.Helper()
	r := h.do(node, "POST", NodePath(node)+"/heartbeat",
		fmt.Sprintf(`{"finished":[{"job":%q,"attempt":%d,"state":%q,"message":%q}]}`, o.Job, o.Attempt, o.State, o.Message))
	if r.status != 200 {
		h.t.Fatalf("heartbeat %s: %d %s", node, r.status, r.body)
	}
	var hb HeartbeatReply
	r.decode(h.t, &hb)
	return hb
}

// A gang succeeds only once every node reports success; one node's
// failure fails it at once, or requeues it while restarts are left; a
// report of an earlier attempt changes nothing.
func TestGangOutcomes(t *testing.T) {
	h := newHarness(t, nil)
	h.register(node1)
	h.register(node2)
	ctx := context.Background()

	ok := h.submit("acme", `{"accelerators":16,"per_node":8}`)
	h.runOn(ok.ID, node1, node2)
	h.report(node1, JobOutcome{Job: ok.ID, Attempt: 1, State: store.JobSucceeded})
	j, _ := h.st.Job(ctx, ok.ID)
	if j.State != store.JobRunning || !j.Placement[0].Done || j.Placement[1].Done {
		t.Fatalf("after one node of two: %s %+v, want running with node1 done", j.State, j.Placement)
	}
	if hb := h.beat(node2); len(hb.Jobs) != 1 || hb.Jobs[0].ID != ok.ID {
		t.Fatalf("node2 no longer told to run its share: %+v", hb)
	}
	h.report(node2, JobOutcome{Job: ok.ID, Attempt: 1, State: store.JobSucceeded})
	if j, _ = h.st.Job(ctx, ok.ID); j.State != store.JobSucceeded {
		t.Fatalf("after both nodes: %s", j.State)
	}

	bad := h.submit("acme", `{"accelerators":16,"per_node":8}`)
	h.runOn(bad.ID, node1, node2)
	h.report(node2, JobOutcome{Job: bad.ID, Attempt: 1, State: store.JobFailed, Message: "exit code 3"})
	j, _ = h.st.Job(ctx, bad.ID)
	if j.State != store.JobFailed || len(j.Reasons) != 1 || !strings.Contains(j.Reasons[0], node2) || !strings.Contains(j.Reasons[0], "exit code 3") {
		t.Fatalf("after a node failed: %s %v", j.State, j.Reasons)
	}
	if hb := h.beat(node1); len(hb.Jobs) != 0 {
		t.Fatalf("node1 still told to run a failed gang: %+v", hb.Jobs)
	}

	slow := h.submit("acme", `{"accelerators":16,"per_node":8,"time_limit_s":60,"max_restarts":3}`)
	h.runOn(slow.ID, node1, node2)
	h.report(node1, JobOutcome{Job: slow.ID, Attempt: 1, State: store.JobTimeout, Message: "time limit of 60 s reached"})
	if j, _ = h.st.Job(ctx, slow.ID); j.State != store.JobTimeout || !strings.Contains(j.Reasons[0], "time limit") {
		t.Fatalf("after a node timed out: %s %v, want timeout (no restart)", j.State, j.Reasons)
	}

	retry := h.submit("acme", `{"accelerators":8,"max_restarts":1}`)
	h.runOn(retry.ID, node1)
	h.report(node1, JobOutcome{Job: retry.ID, Attempt: 1, State: store.JobFailed, Message: "exit code 1"})
	if j, _ = h.st.Job(ctx, retry.ID); j.State != store.JobPending || j.Failures != 1 {
		t.Fatalf("a failure within max_restarts: %s, failures %d; want pending, 1", j.State, j.Failures)
	}
	h.runOn(retry.ID, node1)
	h.report(node1, JobOutcome{Job: retry.ID, Attempt: 1, State: store.JobFailed, Message: "late news of attempt 1"})
	if j, _ = h.st.Job(ctx, retry.ID); j.State != store.JobRunning {
		t.Fatalf("a report of an earlier attempt ended attempt 2: %s %v", j.State, j.Reasons)
	}
	h.report(node1, JobOutcome{Job: retry.ID, Attempt: 2, State: store.JobFailed, Message: "exit code 1"})
	if j, _ = h.st.Job(ctx, retry.ID); j.State != store.JobFailed || j.Failures != 2 {
		t.Fatalf("a failure past max_restarts: %s, failures %d; want failed, 2", j.State, j.Failures)
	}
}

// A node whose agent reports a failed device is unhealthy: it takes no
// new work until a heartbeat says it is healthy again.
func TestUnhealthyNodeTakesNoWork(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Scheduler = placeFirst{} })
	h.register(node1)
	ctx := context.Background()
	r := h.do(node1, "POST", NodePath(node1)+"/heartbeat", `{"unhealthy":"accelerator 3: fatal XID 79"}`)
	var hb HeartbeatReply
	r.decode(t, &hb)
	if r.status != 200 || hb.Node.State != store.NodeUnhealthy {
		t.Fatalf("an unhealthy report: %d %s", r.status, r.body)
	}
	job := h.submit("acme", `{"accelerators":1}`)
	if err := h.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if j, _ := h.st.Job(ctx, job.ID); j.State != store.JobPending {
		t.Fatalf("an unhealthy node took work: %+v", j)
	}
	if hb := h.beat(node1); hb.Node.State != store.NodeReady {
		t.Fatalf("a healthy heartbeat: %s, want ready", hb.Node.State)
	}
	if err := h.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if j, _ := h.st.Job(ctx, job.ID); j.State != store.JobRunning {
		t.Fatalf("a healthy node again: job %s", j.State)
	}
	evs, _ := h.st.Events(ctx, store.EventQuery{})
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, e.Kind)
	}
	if s := strings.Join(kinds, " "); !strings.Contains(s, "node-unhealthy") || !strings.Contains(s, "node-healthy") {
		t.Errorf("events %s lack node-unhealthy and node-healthy", s)
	}
}

// A node stores output only for attempts it ran: the running one by its
// placement, an ended one by the job's placed events. Others' pieces are
// refused one by one, without holding back the rest.
func TestLogsOnlyFromTheNodesThatRanTheJob(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Scheduler = placeFirst{} })
	h.register(node1)
	h.register(node2)
	ctx := context.Background()
	h.do("admin", "POST", NodePath(node2)+"/drain", "")
	job := h.submit("acme", `{"accelerators":1}`)
	if err := h.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if j, _ := h.st.Job(ctx, job.ID); j.State != store.JobRunning || j.Placement[0].Node != node1 {
		t.Fatalf("placed %+v, want on %s", j, node1)
	}
	upload := func(node, body string) LogStored {
		t.Helper()
		r := h.do(node, "POST", NodePath(node)+"/logs", body)
		if r.status != 200 {
			t.Fatalf("upload as %s: %d %s", node, r.status, r.body)
		}
		var out LogStored
		r.decode(t, &out)
		return out
	}
	piece := func(attempt int, off int64, text string) string {
		return fmt.Sprintf(`{"job":%q,"attempt":%d,"offset":%d,"data":%q}`, job.ID, attempt, off,
			base64.StdEncoding.EncodeToString([]byte(text)))
	}
	if out := upload(node2, `{"chunks":[`+piece(1, 0, "forged")+`]}`); out.Stored != 0 || len(out.Refused) != 1 {
		t.Errorf("another node's output: %+v, want refused", out)
	}
	if out := upload(node1, `{"chunks":[`+piece(1, 0, "real ")+`,`+piece(2, 0, "no such attempt")+`]}`); out.Stored != 1 || len(out.Refused) != 1 {
		t.Errorf("a good and a bad piece: %+v, want one stored, one refused", out)
	}
	// The job ends; its last output still comes from the node that ran it.
	h.report(node1, JobOutcome{Job: job.ID, Attempt: 1, State: store.JobSucceeded})
	if out := upload(node1, `{"chunks":[`+piece(1, 5, "end")+`]}`); out.Stored != 1 {
		t.Errorf("output after the end: %+v", out)
	}
	if out := upload(node2, `{"chunks":[`+piece(1, 8, "forged")+`]}`); out.Stored != 0 {
		t.Errorf("another node after the end: %+v", out)
	}
	r := h.do("acme", "GET", JobPath(job.ID)+"/logs", "")
	var logs JobLogs
	r.decode(t, &logs)
	var all []byte
	for _, c := range logs.Chunks {
		all = append(all, c.Data...)
	}
	if string(all) != "real end" {
		t.Errorf("the job's output: %q, want %q", all, "real end")
	}
}

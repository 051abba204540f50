package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"stargate/store"
	"strings"
	"testing"
	"time"
)

// A job's text is bounded as a whole, so that a queue of jobs stays
// small: 128 variables of 4 KiB each are refused, naming the bound.
func TestJobTextIsBoundedInAll(t *testing.T) {
	h := newHarness(t, nil)
	env := map[string]string{}
	for i := range 128 {
		env[fmt.Sprintf("V%03d", i)] = strings.Repeat("x", 4<<10)
	}
	spec, _ := json.Marshal(map[string]any{"accelerators": 1, "env": env})
	r := h.do("acme", "POST", "/v1/jobs", string(spec))
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), fmt.Sprint(maxSpecText)) {
		t.Errorf("a 512 KiB spec: %d %.200s, want 400 naming %d", r.status, r.body, maxSpecText)
	}
	env = map[string]string{"A": strings.Repeat("x", 4<<10)}
	spec, _ = json.Marshal(map[string]any{"accelerators": 1, "env": env, "command": []string{strings.Repeat("y", 50<<10)}})
	if r := h.do("acme", "POST", "/v1/jobs", string(spec)); r.status != http.StatusCreated {
		t.Errorf("a 54 KiB spec: %d %.200s, want 201", r.status, r.body)
	}
}

// A node's labels and address are bounded: 900 KB of labels are refused.
func TestNodeTextIsBounded(t *testing.T) {
	h := newHarness(t, nil)
	labels := map[string]string{}
	for i := range 200 {
		labels[fmt.Sprintf("k%d", i)] = strings.Repeat("v", 4500)
	}
	for what, reg := range map[string]map[string]any{
		"900 KB of labels": {"name": node1, "labels": labels},
		"a long address":   {"name": node1, "address": strings.Repeat("a", 300)},
		"a long label key": {"name": node1, "labels": map[string]string{strings.Repeat("k", 64): "v"}},
	} {
		body, _ := json.Marshal(reg)
		if r := h.do("agent", "POST", "/v1/nodes", string(body)); r.status != http.StatusBadRequest {
			t.Errorf("%s: %d %.200s, want 400", what, r.status, r.body)
		}
	}
	body, _ := json.Marshal(map[string]any{"name": node1, "address": "10.0.0.7", "labels": map[string]string{"rack-pos": "u12"}})
	if r := h.do("agent", "POST", "/v1/nodes", string(body)); r.status != http.StatusOK {
		t.Errorf("a plain registration: %d %s", r.status, r.body)
	}
}

// changeDuring is a scheduler that changes one job behind the pass's
// back (as a user's DELETE racing the pass does), then places every
// pending job as placeFirst would.
type changeDuring struct {
	st     store.Store
	job    string
	change func(j *store.Job, now time.Time)
}

func (c *changeDuring) Schedule(ctx context.Context, in ScheduleInput) ([]Decision, error) {
	if c.st == nil {
		return nil, nil // the leader's first pass, before the test sets it up
	}
	j, err := c.st.Job(ctx, c.job)
	if err != nil {
		return nil, err
	}
	c.change(&j, in.Now)
	if err := c.st.Apply(ctx, store.Changes{Jobs: []store.Job{j}}); err != nil {
		return nil, err
	}
	return placeFirst{}.Schedule(ctx, in)
}

// A decision about a job cancelled during the pass is dropped; the pass
// commits the others instead of failing whole.
func TestPassSkipsAJobCancelledMeanwhile(t *testing.T) {
	sched := changeDuring{change: func(j *store.Job, now time.Time) { j.State, j.EndedAt = store.JobCancelled, now }}
	h := newHarness(t, func(c *Config) { c.Scheduler = &sched })
	h.register(node1)
	ctx := context.Background()
	a := h.submit("acme", `{"accelerators":1}`)
	b := h.submit("acme", `{"accelerators":1}`)
	sched.st, sched.job = h.st, a.ID
	gen := h.srv.generation.Load()
	if err := h.srv.Reconcile(ctx); err != nil {
		t.Fatalf("the pass failed whole: %v", err)
	}
	if j, _ := h.st.Job(ctx, a.ID); j.State != store.JobCancelled {
		t.Errorf("the cancelled job: %s", j.State)
	}
	if j, _ := h.st.Job(ctx, b.ID); j.State != store.JobRunning {
		t.Errorf("the other job: %s, want running", j.State)
	}
	if h.srv.generation.Load() != gen {
		t.Errorf("a conflict about an ended job forced the scheduler to rebuild")
	}
}

// A wait decision about a job that changed meanwhile but stays pending is
// dropped, and the pass commits the placement of the others.
func TestPassSkipsAWaitOnAJobChangedMeanwhile(t *testing.T) {
	sched := changeDuring{change: func(j *store.Job, now time.Time) { j.Reasons = []string{"touched meanwhile"} }}
	h := newHarness(t, func(c *Config) { c.Scheduler = &sched })
	h.register(node1)
	ctx := context.Background()
	a := h.submit("acme", `{"accelerators":8}`)
	b := h.submit("acme", `{"accelerators":8}`) // waits: node1 has 8
	c := h.submit("acme", `{"accelerators":8}`) // waits too, unchanged
	sched.st, sched.job = h.st, b.ID
	gen := h.srv.generation.Load()
	if err := h.srv.Reconcile(ctx); err != nil {
		t.Fatalf("the pass failed whole: %v", err)
	}
	if j, _ := h.st.Job(ctx, a.ID); j.State != store.JobRunning {
		t.Errorf("the placed job: %s, want running", j.State)
	}
	if j, _ := h.st.Job(ctx, b.ID); j.State != store.JobPending || len(j.Reasons) != 1 || j.Reasons[0] != "touched meanwhile" {
		t.Errorf("the changed job: %s %v", j.State, j.Reasons)
	}
	if j, _ := h.st.Job(ctx, c.ID); j.State != store.JobPending || len(j.Reasons) == 0 {
		t.Errorf("the other waiting job was not told why: %s %v", j.State, j.Reasons)
	}
	if h.srv.generation.Load() != gen {
		t.Errorf("a conflict about a wait forced the scheduler to rebuild")
	}
}

// Text no store keeps faithfully is refused with a 400, not stored
// altered or failing with a 500: invalid UTF-8 in a body, a key given
// twice, NUL or invalid UTF-8 in a path or a query value.
func TestTextRefusedBeforeTheStore(t *testing.T) {
	h := newHarness(t, nil)
	for what, body := range map[string]string{
		"invalid UTF-8 in a name": "{\"accelerators\":1,\"name\":\"a\xffb\"}",
		"a key given twice":       `{"accelerators":1,"accelerators":2}`,
		"a nested key twice":      `{"accelerators":1,"env":{"A":"1","A":"2"}}`,
	} {
		r := h.do("acme", "POST", "/v1/jobs", body)
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", what, r.status, r.body)
		}
		if what == "a nested key twice" && !strings.Contains(string(r.body), "env.A") {
			t.Errorf("%s: %s does not name env.A", what, r.body)
		}
	}
	for _, path := range []string{"/v1/jobs/j%00x", "/v1/jobs/j%ffx", "/v1/jobs?tenant=a%00b", "/v1/jobs?after=%ff", "/v1/jobs/j1/logs?node=a%00b"} {
		if r := h.do("admin", "GET", path, ""); r.status != http.StatusBadRequest {
			t.Errorf("GET %s: %d %s, want 400", path, r.status, r.body)
		}
	}
	// The same key in two objects is fine.
	h.submit("acme", `{"accelerators":1,"env":{"name":"x"},"name":"y"}`)
}

// Pages of jobs are read in batches and bounded in bytes: paging with
// any limit returns every job once, in order, and a page of large specs
// ends early with a cursor.
func TestJobPagesAreBounded(t *testing.T) {
	h := newHarness(t, nil)
	big := strings.Repeat("x", 60<<10)
	var want []string
	for i := range 150 {
		spec := `{"accelerators":1}`
		if i >= 70 { // small ones first: a page reads more than one batch
			spec = `{"accelerators":1,"command":["` + big + `"]}`
		}
		want = append(want, h.submit("acme", spec).ID)
	}
	for _, limit := range []int{1, 7, 60, 100, 1000} {
		var got []string
		pages, after := 0, ""
		for {
			r := h.do("acme", "GET", fmt.Sprintf("/v1/jobs?limit=%d&after=%s", limit, after), "")
			if r.status != 200 {
				t.Fatalf("limit %d: %d %.200s", limit, r.status, r.body)
			}
			if len(r.body) > maxListBytes+100<<10 {
				t.Errorf("limit %d: a page of %d bytes", limit, len(r.body))
			}
			var page JobList
			r.decode(t, &page)
			if len(page.Jobs) > limit {
				t.Fatalf("limit %d: a page of %d jobs", limit, len(page.Jobs))
			}
			for _, j := range page.Jobs {
				got = append(got, j.ID)
			}
			pages++
			if page.Next == "" {
				break
			}
			after = page.Next
		}
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: %d jobs in %d pages, want the %d submitted in order", limit, len(got), pages, len(want))
		}
		if limit == 1000 && pages < 2 {
			t.Errorf("limit 1000: 4.8 MB of specs came in one page")
		}
	}
}

// A conflict on a job still active fails the pass whole: the pass's
// other decisions may rest on the one that cannot be committed.
func TestPassFailsOnAConflictWithAnActiveJob(t *testing.T) {
	sched := changeDuring{change: func(j *store.Job, _ time.Time) { j.Reasons = []string{"touched"} }}
	h := newHarness(t, func(c *Config) { c.Scheduler = &sched })
	h.register(node1)
	ctx := context.Background()
	a := h.submit("acme", `{"accelerators":1}`)
	b := h.submit("acme", `{"accelerators":1}`)
	sched.st, sched.job = h.st, a.ID
	if err := h.srv.Reconcile(ctx); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("the pass: %v, want a version conflict", err)
	}
	if j, _ := h.st.Job(ctx, b.ID); j.State != store.JobPending {
		t.Errorf("a decision of a failed pass was committed: %s", j.State)
	}
}

// A heartbeat's or a registration's text that no store keeps (a NUL) is
// a 400: it would fail the write of an event or a node record.
func TestNodeTextWithNULRefused(t *testing.T) {
	h := newHarness(t, nil)
	h.register(node1)
	for what, r := range map[string]resp{
		"a finished message":  h.do(node1, "POST", NodePath(node1)+"/heartbeat", `{"finished":[{"job":"j","state":"failed","message":"a\u0000b"}]}`),
		"an unhealthy reason": h.do(node1, "POST", NodePath(node1)+"/heartbeat", `{"unhealthy":"x\u0000"}`),
		"an address":          h.do("agent", "POST", "/v1/nodes", `{"name":"`+node1+`","address":"10.0.0.1\u0000"}`),
	} {
		if r.status != http.StatusBadRequest {
			t.Errorf("%s with a NUL: %d %s, want 400", what, r.status, r.body)
		}
	}
}

// countingBody counts what a handler reads of a request body.
type countingBody struct{ read int64 }

func (c *countingBody) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	c.read += int64(len(p))
	return len(p), nil
}

func (c *countingBody) Close() error { return nil }

// A body whose declared length is over the bound is refused unread, and
// its connection closed: a sender of gigabytes costs only its headers.
func TestDeclaredLengthRefusedUnread(t *testing.T) {
	h := newHarness(t, nil)
	body := &countingBody{}
	req := httptest.NewRequest("POST", "/v1/jobs", nil)
	req.Body, req.ContentLength = body, 1<<30
	req.Header.Set("Authorization", "Bearer "+h.tokens["acme"])
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge || body.read != 0 || rec.Header().Get("Connection") != "close" {
		t.Errorf("a declared gigabyte: %d, %d bytes read, Connection %q; want 413, none read, close", rec.Code, body.read, rec.Header().Get("Connection"))
	}
}

package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"stargate/examples"
	"stargate/fleet"
	"stargate/store"
	"stargate/store/sqlite"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func smallFleet(t testing.TB) *fleet.Fleet {
	f, err := examples.Fleet("small")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// harness is a server on a fresh SQLite store, served by httptest, with a
// token for every role.
type harness struct {
	t      *testing.T
	srv    *Server
	st     store.Store
	clock  *fakeClock
	url    string
	tokens map[string]string // admin, operator, acme, blue (users), agent
}

func newHarness(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() }) // after the server stops: cleanups run last first
	clock := &fakeClock{t: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
	h, _ := startOn(t, st, clock, func(c *Config) {
		c.ID = "test"
		if mod != nil {
			mod(c)
		}
	})
	return h
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// do sends a request as a token holder ("" for none).
func (h *harness) do(who, method, path, body string, headers ...string) resp {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.url+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if who != "" {
		req.Header.Set("Authorization", "Bearer "+h.tokens[who])
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

func (h *harness) submit(who, spec string) store.Job {
	h.t.Helper()
	r := h.do(who, "POST", "/v1/jobs", spec)
	if r.status != http.StatusCreated {
		h.t.Fatalf("submit %s as %s: %d %s", spec, who, r.status, r.body)
	}
	var j store.Job
	r.decode(h.t, &j)
	return j
}

const (
	node1 = "lab/hall-a/row-1/rack-1/n1"
	node2 = "lab/hall-a/row-1/rack-1/n2"
)

func (h *harness) register(name string) {
	h.t.Helper()
	h.registerAs(name, "dgx-h100", 8)
}

// registerAs registers a node of a model.
func (h *harness) registerAs(name, model string, accelerators int) {
	h.t.Helper()
	r := h.do("agent", "POST", "/v1/nodes", fmt.Sprintf(`{"name":%q,"model":%q,"accelerators":%d}`, name, model, accelerators))
	if r.status != http.StatusOK {
		h.t.Fatalf("register %s: %d %s", name, r.status, r.body)
	}
	var reg NodeRegistered
	r.decode(h.t, &reg)
	if reg.Credential == "" || reg.Node.Name != name {
		h.t.Fatalf("register %s: no credential: %s", name, r.body)
	}
	h.tokens[name] = reg.Credential // the node's own credential speaks for it
}

func TestSubmitAndGet(t *testing.T) {
	h := newHarness(t, nil)
	j := h.submit("acme", `{"name":"llama","accelerators":16,"model":"h100","topology":"rack","priority":5}`)
	if j.Tenant != "acme" || j.State != store.JobPending || j.Spec.Model != "h100-sxm" || j.Spec.Kind != "training" {
		t.Errorf("submitted job = %+v", j)
	}
	r := h.do("acme", "GET", "/v1/jobs/"+j.ID, "")
	var got store.Job
	r.decode(t, &got)
	if r.status != 200 || got.ID != j.ID || got.Spec.Accelerators != 16 {
		t.Errorf("get = %d %s", r.status, r.body)
	}
	// YAML is accepted too.
	r = h.do("acme", "POST", "/v1/jobs", "name: from-yaml\naccelerators: 8\ncommand: [python, train.py]\n", "Content-Type", "application/yaml")
	if r.status != http.StatusCreated || !strings.Contains(string(r.body), "from-yaml") {
		t.Errorf("YAML submit: %d %s", r.status, r.body)
	}
	// Listing, filters and pagination.
	for i := 0; i < 3; i++ {
		h.submit("blue", `{"accelerators":1}`)
	}
	var page JobList
	h.do("admin", "GET", "/v1/jobs?limit=2", "").decode(t, &page)
	if len(page.Jobs) != 2 || page.Next == "" {
		t.Fatalf("first page: %+v", page)
	}
	var rest JobList
	h.do("admin", "GET", "/v1/jobs?limit=10&after="+page.Next, "").decode(t, &rest)
	if len(rest.Jobs) != 3 || rest.Next != "" {
		t.Errorf("second page: %d jobs, next %q", len(rest.Jobs), rest.Next)
	}
	var blue JobList
	h.do("admin", "GET", "/v1/jobs?tenant=blue&state=pending", "").decode(t, &blue)
	if len(blue.Jobs) != 3 {
		t.Errorf("blue's pending jobs: %d", len(blue.Jobs))
	}
	var mine JobList
	h.do("acme", "GET", "/v1/jobs", "").decode(t, &mine)
	if len(mine.Jobs) != 2 {
		t.Errorf("acme sees %d jobs, want its 2", len(mine.Jobs))
	}
}

func TestSubmitListsEveryProblem(t *testing.T) {
	h := newHarness(t, nil)
	r := h.do("acme", "POST", "/v1/jobs", `{"accelerators":"eight","priority":1.5,"gpus":8,"colour":"red","power":2}`)
	if r.status != http.StatusBadRequest {
		t.Fatalf("status %d %s", r.status, r.body)
	}
	var body ErrorBody
	r.decode(t, &body)
	fields := map[string]bool{}
	for _, p := range body.Problems {
		fields[p.Field] = true
	}
	for _, f := range []string{"accelerators", "priority", "gpus", "colour"} {
		if !fields[f] {
			t.Errorf("no problem reported for %s: %s", f, r.body)
		}
	}
	// Values are checked too, except those of fields that did not decode.
	r = h.do("acme", "POST", "/v1/jobs", `{"accelerators":"x","gpus":1,"topology":"galaxy"}`)
	r.decode(t, &body)
	if len(body.Problems) != 3 {
		t.Errorf("want 3 problems (accelerators, gpus, topology): %s", r.body)
	}
	r = h.do("acme", "POST", "/v1/jobs", `{"accelerators":0,"model":"tpu","topology":"galaxy","topology_required":false,"power":2,"site":"mars","per_node":99,"kind":"fun"}`)
	r.decode(t, &body)
	fields = map[string]bool{}
	for _, p := range body.Problems {
		fields[p.Field] = true
	}
	for _, f := range []string{"accelerators", "model", "topology", "power", "site", "kind", "per_node"} {
		if !fields[f] {
			t.Errorf("no problem reported for %s: %s", f, r.body)
		}
	}
	for _, bad := range []string{``, `[]`, `{`, `null`} {
		if r := h.do("acme", "POST", "/v1/jobs", bad); r.status != http.StatusBadRequest {
			t.Errorf("body %q: status %d", bad, r.status)
		}
	}
	if r := h.do("acme", "POST", "/v1/jobs", `accelerators,1`, "Content-Type", "text/csv"); r.status != http.StatusUnsupportedMediaType {
		t.Errorf("text/csv: status %d", r.status)
	}
	big := `{"name":"` + strings.Repeat("x", DefaultMaxBody) + `","accelerators":1}`
	if r := h.do("acme", "POST", "/v1/jobs", big); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("big body: status %d", r.status)
	}
	if r := h.do("admin", "POST", "/v1/jobs", `{"accelerators":1}`); r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "tenant") {
		t.Errorf("admin without tenant: %d %s", r.status, r.body)
	}
	var all JobList
	h.do("admin", "GET", "/v1/jobs", "").decode(t, &all)
	if len(all.Jobs) != 0 {
		t.Errorf("bad requests stored %d jobs", len(all.Jobs))
	}
}

func TestIdempotencyKey(t *testing.T) {
	h := newHarness(t, nil)
	spec := `{"accelerators":8,"name":"once"}`
	a := h.do("acme", "POST", "/v1/jobs", spec, IdempotencyHeader, "k-1")
	b := h.do("acme", "POST", "/v1/jobs", spec, IdempotencyHeader, "k-1")
	var ja, jb store.Job
	a.decode(t, &ja)
	b.decode(t, &jb)
	if a.status != 201 || b.status != 201 || ja.ID != jb.ID || b.header.Get(ReplayedHeader) != "true" || a.header.Get(ReplayedHeader) != "" {
		t.Errorf("replay: %d %s / %d %s (%v)", a.status, ja.ID, b.status, jb.ID, b.header)
	}
	c := h.do("acme", "POST", "/v1/jobs", `{"accelerators":4}`, IdempotencyHeader, "k-1")
	if c.status != http.StatusConflict {
		t.Errorf("key reused for another job: %d %s", c.status, c.body)
	}
	d := h.do("blue", "POST", "/v1/jobs", spec, IdempotencyHeader, "k-1")
	var jd store.Job
	d.decode(t, &jd)
	if d.status != 201 || jd.ID == ja.ID {
		t.Errorf("same key in another tenant: %d %s", d.status, d.body)
	}
}

func TestCancel(t *testing.T) {
	h := newHarness(t, nil)
	j := h.submit("acme", `{"accelerators":8}`)
	r := h.do("acme", "DELETE", "/v1/jobs/"+j.ID, "")
	var got store.Job
	r.decode(t, &got)
	if r.status != 200 || got.State != store.JobCancelled || got.EndedAt.IsZero() {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	if r := h.do("acme", "DELETE", "/v1/jobs/"+j.ID, ""); r.status != 200 {
		t.Errorf("cancel twice: %d", r.status)
	}
	var evs struct{ Events []store.Event }
	h.do("acme", "GET", "/v1/jobs/"+j.ID+"/events", "").decode(t, &evs)
	if len(evs.Events) != 1 || evs.Events[0].Kind != "cancelled" {
		t.Errorf("events: %+v", evs)
	}
}

func TestNodesDrainHeartbeatPower(t *testing.T) {
	h := newHarness(t, nil)
	h.register(node1)
	if r := h.do("agent", "POST", "/v1/nodes", `{"name":"lab/hall-a/row-9/rack-1/n1","model":"b200"}`); r.status != 400 {
		t.Errorf("unknown node: %d %s", r.status, r.body)
	}
	if r := h.do("agent", "POST", "/v1/nodes", `{"name":"`+node1+`","model":"b200","accelerators":4}`); r.status != 400 ||
		!strings.Contains(string(r.body), "model") || !strings.Contains(string(r.body), "accelerators") {
		t.Errorf("wrong model: %d %s", r.status, r.body)
	}
	esc := NodePath(node1)
	r := h.do(node1, "POST", esc+"/heartbeat", `{"draw_w":6000}`)
	var hb HeartbeatReply
	r.decode(t, &hb)
	if r.status != 200 || hb.Node.DrawW != 6000 || len(hb.Jobs) != 0 {
		t.Errorf("heartbeat: %d %s", r.status, r.body)
	}
	if r := h.do("admin", "POST", NodePath("lab/x")+"/heartbeat", ``); r.status != 404 {
		t.Errorf("heartbeat of unregistered node: %d", r.status)
	}
	r = h.do("operator", "POST", esc+"/drain", "")
	var n store.Node
	r.decode(t, &n)
	if r.status != 200 || n.State != store.NodeDraining {
		t.Errorf("drain: %d %s", r.status, r.body)
	}
	var nl NodeList
	h.do("acme", "GET", "/v1/nodes", "").decode(t, &nl)
	if len(nl.Nodes) != 1 || nl.Nodes[0].Rack != "lab/hall-a/row-1/rack-1" || nl.Nodes[0].State != store.NodeDraining {
		t.Errorf("nodes: %+v", nl)
	}
	var pw PowerReport
	h.do("acme", "GET", "/v1/power?depth=rack", "").decode(t, &pw)
	site := pw.Sites[0]
	rack := site.Children[0].Children[0].Children[0]
	if site.DrawW != 6000 || rack.DrawW != 6000 || rack.LimitW != 42000 || rack.HeadroomW != 36000 || site.ITLimitW != 1538461 {
		t.Errorf("power: site %+v rack %+v", site, rack)
	}
	if r := h.do("acme", "GET", "/v1/power?depth=moon", ""); r.status != 400 {
		t.Errorf("bad depth: %d", r.status)
	}
}

// placeFirst is a test scheduler: it places each pending job on the first
// ready node with room, one node per job.
type placeFirst struct{}

func (placeFirst) Schedule(_ context.Context, in ScheduleInput) ([]Decision, error) {
	used := map[string]int{}
	for _, j := range in.Running {
		for _, a := range j.Placement {
			used[a.Node] += len(a.Accelerators)
		}
	}
	var out []Decision
	for _, j := range in.Pending {
		placed := false
		for _, n := range in.Nodes {
			if n.State == store.NodeReady && n.Accelerators-used[n.Name] >= j.Spec.Accelerators {
				var acc []int
				for k := 0; k < j.Spec.Accelerators; k++ {
					acc = append(acc, used[n.Name]+k)
				}
				used[n.Name] += j.Spec.Accelerators
				out = append(out, Decision{Action: ActPlace, Job: j.ID, Placement: []store.Allocation{{Node: n.Name, Accelerators: acc}}})
				placed = true
				break
			}
		}
		if !placed {
			out = append(out, Decision{Action: ActWait, Job: j.ID, Reasons: []string{"no-node-with-room"}})
		}
	}
	return out, nil
}

func TestReconcilePlacesAndRequeuesFromLostNodes(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Scheduler = placeFirst{}; c.HeartbeatTimeout = 30 * time.Second })
	h.register(node1)
	a := h.submit("acme", `{"accelerators":8}`)
	b := h.submit("acme", `{"accelerators":4}`)
	ctx := context.Background()
	if err := h.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	ja, _ := h.st.Job(ctx, a.ID)
	jb, _ := h.st.Job(ctx, b.ID)
	if ja.State != store.JobRunning || ja.Placement[0].Node != node1 || ja.Attempts != 1 {
		t.Errorf("a = %+v", ja)
	}
	if jb.State != store.JobPending || len(jb.Reasons) != 1 || jb.Reasons[0] != "no-node-with-room" {
		t.Errorf("b = %+v", jb)
	}
	var got store.Job
	h.do("acme", "GET", "/v1/jobs/"+b.ID, "").decode(t, &got)
	if len(got.Reasons) == 0 {
		t.Errorf("GET does not say why b waits: %+v", got)
	}
	r := h.do(node1, "POST", NodePath(node1)+"/heartbeat", "")
	var hb HeartbeatReply
	r.decode(t, &hb)
	if len(hb.Jobs) != 1 || hb.Jobs[0].ID != a.ID {
		t.Errorf("heartbeat reply jobs: %s", r.body)
	}
	var pw PowerReport
	h.do("acme", "GET", "/v1/power", "").decode(t, &pw)
	if want := 8*700.0 + 4600; pw.Sites[0].DrawW != want {
		t.Errorf("expected draw of a full DGX H100 at nameplate: %v, want %v", pw.Sites[0].DrawW, want)
	}

	// Another node runs b to completion and reports it.
	h.register(node2)
	if err := h.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	r = h.do(node2, "POST", NodePath(node2)+"/heartbeat", `{"finished":[{"job":"`+b.ID+`","state":"succeeded"},{"job":"`+a.ID+`","state":"failed"}]}`)
	if r.status != 200 {
		t.Fatalf("heartbeat with finished jobs: %d %s", r.status, r.body)
	}
	if jb, _ = h.st.Job(ctx, b.ID); jb.State != store.JobSucceeded || len(jb.Placement) != 0 || jb.EndedAt.IsZero() {
		t.Errorf("b after its node reported it done: %+v", jb)
	}
	if ja, _ = h.st.Job(ctx, a.ID); ja.State != store.JobRunning {
		t.Errorf("a node ended a job it does not run: %+v", ja)
	}
	if r := h.do(node2, "POST", NodePath(node2)+"/heartbeat", `{"finished":[{"job":"x","state":"running"}]}`); r.status != 400 {
		t.Errorf("bad outcome: %d", r.status)
	}
	h.clock.Advance(29 * time.Second)
	h.do(node2, "POST", NodePath(node2)+"/heartbeat", ``)

	// The node falls silent: it is lost and its job goes back to the queue.
	h.clock.Advance(2 * time.Second)
	if err := h.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	ja, _ = h.st.Job(ctx, a.ID)
	n, _ := h.st.Node(ctx, node1)
	if n.State != store.NodeLost || ja.State != store.JobRunning || ja.Placement[0].Node != node2 || ja.Attempts != 2 {
		t.Errorf("after silence: node %s, job %+v (requeued and placed on the live node)", n.State, ja)
	}
	evs, _ := h.st.Events(ctx, store.EventQuery{Job: a.ID})
	if len(evs) != 3 || evs[0].Kind != "placed" || evs[1].Kind != "requeued" || evs[2].Kind != "placed" {
		t.Errorf("events of a: %+v", evs)
	}
	// The lost node comes back ready.
	h.register(node1)
	if n, _ := h.st.Node(ctx, node1); n.State != store.NodeReady {
		t.Errorf("after return: %s", n.State)
	}
}

func TestMetrics(t *testing.T) {
	h := newHarness(t, nil)
	h.register(node1)
	h.submit("acme", `{"accelerators":8}`)
	if r := h.do("acme", "GET", "/metrics", ""); r.status != http.StatusForbidden {
		t.Errorf("metrics as a user: %d", r.status)
	}
	r := h.do("operator", "GET", "/metrics", "")
	for _, want := range []string{
		`stargate_queue_depth{tenant="acme"} 1`,
		`stargate_running_jobs 0`,
		`stargate_accelerators_allocated 0`,
		`stargate_power_limit_watts{domain="lab/hall-a/row-1",level="row"} 450000`,
		`stargate_power_draw_watts{domain="lab",level="site"}`,
		`stargate_nodes{state="ready"} 1`,
		`stargate_nodes{state="lost"} 0`,
		`stargate_api_request_duration_seconds_bucket{code="201",route="POST /v1/jobs"`,
		`stargate_schedule_pass_duration_seconds_bucket`,
		`stargate_leader 1`,
		`stargate_build_info{go_version="go`,
	} {
		if !bytes.Contains(r.body, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
	pub := newHarness(t, func(c *Config) { c.MetricsPublic = true })
	if r := pub.do("", "GET", "/metrics", ""); r.status != 200 {
		t.Errorf("public metrics: %d", r.status)
	}
}

func TestOpenAPI(t *testing.T) {
	h := newHarness(t, nil)
	r := h.do("acme", "GET", "/v1/openapi.json", "")
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	r.decode(t, &doc)
	if doc.OpenAPI == "" || doc.Paths["/v1/jobs/{id}"]["delete"] == nil || doc.Paths["/v1/nodes/{name}/drain"]["post"] == nil {
		t.Errorf("openapi: %s", r.body[:min(len(r.body), 400)])
	}
	// the console's stream and session are documented
	stream, _ := json.Marshal(doc.Paths["/v1/stream"]["get"])
	if !strings.Contains(string(stream), "text/event-stream") || !strings.Contains(string(stream), "journal") {
		t.Errorf("the stream's document: %s", stream)
	}
	if doc.Paths["/v1/session"]["post"] == nil || doc.Paths["/v1/session"]["delete"] == nil {
		t.Errorf("the session is not documented: %v", doc.Paths["/v1/session"])
	}
}

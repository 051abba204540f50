package server

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestAuthorizationMatrix sends every endpoint as every role, with no
// token and with a bad one, and checks the status. Jobs belong to tenant
// acme; blue is a user of another tenant.
func TestAuthorizationMatrix(t *testing.T) {
	h := newHarness(t, nil)
	h.register(node1)
	h.tokens["bogus"] = "sgt_nope_nope"
	job := h.submit("acme", `{"accelerators":1}`)
	_, spare, err := h.srv.MintToken(t.Context(), "user", "green", "spare")
	if err != nil {
		t.Fatal(err)
	}
	node := NodePath(node1)
	h.register(node2) // node2's credential may not speak for node1
	who := []string{"", "bogus", "admin", "operator", "acme", "blue", "agent", node1, node2}
	const (
		ok, created, bad, unauth, forbid, missing, conflict = 200, 201, 400, 401, 403, 404, 409
	)
	matrix := []struct {
		method, path, body string
		want               []int // in the order of who
	}{
		{"GET", "/healthz", "", []int{ok, ok, ok, ok, ok, ok, ok, ok, ok}},
		{"POST", "/v1/jobs", `{"accelerators":1,"tenant":"acme"}`, []int{unauth, unauth, created, created, created, forbid, forbid, forbid, forbid}},
		{"GET", "/v1/jobs", "", []int{unauth, unauth, ok, ok, ok, ok, forbid, forbid, forbid}},
		{"GET", "/v1/jobs?tenant=acme", "", []int{unauth, unauth, ok, ok, ok, forbid, forbid, forbid, forbid}},
		{"GET", "/v1/jobs/" + job.ID, "", []int{unauth, unauth, ok, ok, ok, missing, forbid, forbid, forbid}},
		{"GET", "/v1/jobs/" + job.ID + "/events", "", []int{unauth, unauth, ok, ok, ok, missing, forbid, forbid, forbid}},
		{"DELETE", "/v1/jobs/" + job.ID, "", []int{unauth, unauth, ok, ok, ok, missing, forbid, forbid, forbid}},
		// the job is cancelled by now: people get as far as the conflict
		{"POST", "/v1/jobs/" + job.ID + "/hold", "", []int{unauth, unauth, conflict, conflict, conflict, missing, forbid, forbid, forbid}},
		{"POST", "/v1/jobs/" + job.ID + "/release", "", []int{unauth, unauth, conflict, conflict, conflict, missing, forbid, forbid, forbid}},
		{"POST", "/v1/jobs/" + job.ID + "/requeue", "", []int{unauth, unauth, conflict, conflict, conflict, missing, forbid, forbid, forbid}},
		{"GET", "/v1/events", "", []int{unauth, unauth, ok, ok, forbid, forbid, forbid, forbid, forbid}},
		{"GET", "/v1/accounting", "", []int{unauth, unauth, ok, ok, ok, ok, forbid, forbid, forbid}},
		{"POST", "/v1/grid-events", `{"scope":"lab","target_fraction":0.5,"duration_s":60}`, []int{unauth, unauth, created, created, forbid, forbid, forbid, forbid, forbid}},
		{"GET", "/v1/grid-events", "", []int{unauth, unauth, ok, ok, forbid, forbid, forbid, forbid, forbid}},
		{"GET", "/v1/grid-events/gnone", "", []int{unauth, unauth, missing, missing, forbid, forbid, forbid, forbid, forbid}},
		{"DELETE", "/v1/grid-events/gnone", "", []int{unauth, unauth, missing, missing, forbid, forbid, forbid, forbid, forbid}},
		{"POST", "/v1/nodes", `{"name":"lab/hall-a/row-2/rack-1/n1"}`, []int{unauth, unauth, ok, ok, forbid, forbid, ok, forbid, forbid}},
		{"GET", "/v1/nodes", "", []int{unauth, unauth, ok, ok, ok, ok, forbid, forbid, forbid}},
		{"POST", node + "/heartbeat", `{"draw_w":100}`, []int{unauth, unauth, ok, forbid, forbid, forbid, forbid, ok, forbid}},
		{"GET", node, "", []int{unauth, unauth, ok, ok, ok, ok, forbid, forbid, forbid}},
		{"POST", node + "/logs", `{"chunks":[]}`, []int{unauth, unauth, ok, forbid, forbid, forbid, forbid, ok, forbid}},
		{"GET", "/v1/jobs/" + job.ID + "/logs", "", []int{unauth, unauth, ok, ok, ok, missing, forbid, forbid, forbid}},
		{"POST", node + "/drain", "", []int{unauth, unauth, ok, ok, forbid, forbid, forbid, forbid, forbid}},
		{"POST", node + "/undrain", "", []int{unauth, unauth, ok, ok, forbid, forbid, forbid, forbid, forbid}},
		{"GET", "/v1/power", "", []int{unauth, unauth, ok, ok, ok, ok, forbid, forbid, forbid}},
		{"GET", "/v1/fleet", "", []int{unauth, unauth, ok, ok, ok, ok, forbid, forbid, forbid}},
		{"GET", "/v1/tenants", "", []int{unauth, unauth, ok, ok, ok, ok, forbid, forbid, forbid}},
		{"POST", "/v1/tenants", `{"name":"green"}`, []int{unauth, unauth, created, forbid, forbid, forbid, forbid, forbid, forbid}},
		{"PUT", "/v1/tenants/green", `{"weight":2}`, []int{unauth, unauth, ok, forbid, forbid, forbid, forbid, forbid, forbid}},
		{"DELETE", "/v1/tenants/green", "", []int{unauth, unauth, 204, forbid, forbid, forbid, forbid, forbid, forbid}},
		// a stream never ends: a bad parameter shows who passes authorization
		{"GET", "/v1/stream?x=1", "", []int{unauth, unauth, bad, bad, bad, bad, forbid, forbid, forbid}},
		{"POST", "/v1/tokens", `{"role":"user","tenant":"green"}`, []int{unauth, unauth, created, forbid, forbid, forbid, forbid, forbid, forbid}},
		{"GET", "/v1/tokens", "", []int{unauth, unauth, ok, forbid, forbid, forbid, forbid, forbid, forbid}},
		{"DELETE", "/v1/tokens/" + spare.ID, "", []int{unauth, unauth, ok, forbid, forbid, forbid, forbid, forbid, forbid}},
		{"GET", "/v1/status", "", []int{unauth, unauth, ok, ok, ok, ok, ok, ok, ok}},
		{"GET", "/v1/openapi.json", "", []int{unauth, unauth, ok, ok, ok, ok, ok, ok, ok}},
		{"GET", "/metrics", "", []int{unauth, unauth, ok, ok, forbid, forbid, forbid, forbid, forbid}},
	}
	covered := map[string]bool{}
	for _, m := range matrix {
		path, _, _ := strings.Cut(m.path, "?")
		path = strings.Replace(path, job.ID, "{id}", 1)
		if path == node {
			path = "/v1/nodes/{name}"
		}
		path = strings.Replace(path, node+"/", "/v1/nodes/{name}/", 1)
		path = strings.Replace(path, "/v1/tokens/"+spare.ID, "/v1/tokens/{id}", 1)
		path = strings.Replace(path, "/v1/tenants/green", "/v1/tenants/{name}", 1)
		path = strings.Replace(path, "/v1/grid-events/gnone", "/v1/grid-events/{id}", 1)
		covered[m.method+" "+path] = true
		for i, w := range who {
			r := h.do(w, m.method, m.path, m.body)
			if r.status != m.want[i] {
				t.Errorf("%s %s as %q: %d, want %d (%s)", m.method, m.path, w, r.status, m.want[i], strings.TrimSpace(string(r.body)))
			}
			if r.status == unauth && r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s as %q: 401 without WWW-Authenticate", m.method, m.path, w)
			}
		}
	}
	for _, rt := range h.srv.table() {
		if !covered[rt.method+" "+rt.path] {
			t.Errorf("route %s %s is missing from the matrix", rt.method, rt.path)
		}
	}
	if testing.Verbose() {
		fmt.Println("authorization matrix: every route by", strings.Join(who[2:], ", "), "plus no and bogus token")
	}
	_ = http.MethodGet
}

package server

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"stargate/store"
)

// served is the document as GET /v1/openapi.json serves it.
func served(t *testing.T, h *harness) docCheck {
	t.Helper()
	r := h.do("", "GET", "/v1/openapi.json", "")
	if r.status != http.StatusUnauthorized {
		t.Errorf("the document without a token: %d, want 401", r.status)
	}
	r = h.do("agent", "GET", "/v1/openapi.json", "")
	if r.status != 200 {
		t.Fatalf("GET /v1/openapi.json: %d %s", r.status, r.body)
	}
	v, err := decodeJSON(r.body)
	if err != nil {
		t.Fatal(err)
	}
	return docCheck{doc: v.(map[string]any)}
}

// operations lists the document's operations as "METHOD path".
func (c docCheck) operations() map[string]map[string]any {
	out := map[string]map[string]any{}
	for path, item := range c.doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			out[strings.ToUpper(method)+" "+path] = op.(map[string]any)
		}
	}
	return out
}

// TestOpenAPIRoutesMatchDocument: every route of the tables is in the
// document and every operation of the document is a route, with the
// method and path the server serves; and every operation is complete.
func TestOpenAPIRoutesMatchDocument(t *testing.T) {
	h := newHarness(t, nil)
	c := served(t, h)
	if c.doc["openapi"] != "3.1.0" {
		t.Errorf("openapi: %v", c.doc["openapi"])
	}
	ops := c.operations()
	routes := map[string]route{}
	for _, rt := range append(h.srv.public(), h.srv.table()...) {
		key := rt.method + " " + rt.path
		if _, dup := routes[key]; dup {
			t.Errorf("%s is in the tables twice", key)
		}
		routes[key] = rt
		if ops[key] == nil {
			t.Errorf("%s is a route but not in the document", key)
		}
	}
	ids := map[string]string{}
	camel := regexp.MustCompile(`^[a-z][a-zA-Z]+$`)
	for _, key := range sortedKeys(ops) {
		op := ops[key]
		rt, ok := routes[key]
		if !ok {
			t.Errorf("%s is in the document but not a route", key)
			continue
		}
		id, _ := op["operationId"].(string)
		if !camel.MatchString(id) {
			t.Errorf("%s: operationId %q is not camelCase", key, id)
		}
		if other, dup := ids[id]; dup {
			t.Errorf("%s and %s share the operationId %s", key, other, id)
		}
		ids[id] = key
		if s, _ := op["summary"].(string); s == "" || len(s) > 80 {
			t.Errorf("%s: summary %q (want a short one)", key, s)
		}
		checkRoles(t, key, rt, op)
		checkParams(t, c, key, op)
		checkSuccess(t, c, key, rt, op)
		if rb, ok := op["requestBody"].(map[string]any); ok {
			for media, m := range rb["content"].(map[string]any) {
				if s := c.deref(m.(map[string]any)["schema"].(map[string]any)); s["additionalProperties"] != false {
					t.Errorf("%s: request body %s: the server refuses unknown fields, the schema does not say so", key, media)
				}
			}
		}
	}
	// Each role is refused where the document says it may not, and only
	// there.
	h.register(node1)
	who := map[string]string{"admin": "admin", "operator": "operator", "user": "acme", "agent": "agent", "node": node1}
	for _, key := range sortedKeys(ops) {
		if routes[key].raw != nil {
			continue
		}
		method, path, _ := strings.Cut(key, " ")
		path = strings.NewReplacer("{id}", "x", "{name}", url.PathEscape(node1)).Replace(path) + "?probe=1"
		allowed := fmt.Sprint(ops[key]["x-stargate-roles"])
		for _, role := range sortedKeys(who) {
			r := h.do(who[role], method, path, "")
			refused := r.status == http.StatusForbidden && strings.Contains(string(r.body), "role "+role+" may not")
			if refused == strings.Contains(allowed, role) {
				t.Errorf("%s as %s: %d %s; the document allows %s", key, role, r.status, r.body, allowed)
			}
		}
	}

	// What the document lists, the server serves (and not through the
	// catch-all's 404 or 405).
	for _, key := range sortedKeys(ops) {
		method, path, _ := strings.Cut(key, " ")
		path = strings.NewReplacer("{id}", "x", "{name}", "lab%2Fnone").Replace(path) + "?probe=1"
		r := h.do("admin", method, path, "")
		if r.status == http.StatusMethodNotAllowed || strings.Contains(string(r.body), "no such endpoint") {
			t.Errorf("%s is documented but not served: %d %s", key, r.status, r.body)
		}
	}
}

func checkRoles(t *testing.T, key string, rt route, op map[string]any) {
	t.Helper()
	var want []string
	for _, r := range rt.allowed {
		want = append(want, string(r))
	}
	got := fmt.Sprint(op["x-stargate-roles"])
	if got != fmt.Sprint(toAny(want)) {
		t.Errorf("%s: x-stargate-roles %s, want %v", key, got, want)
	}
	desc, _ := op["description"].(string)
	sec, _ := op["security"].([]any)
	if rt.raw == nil && (len(sec) != 2 || !strings.Contains(desc, "Roles: "+strings.Join(want, ", ")+".")) {
		t.Errorf("%s: security %v, description %q: want bearer or session, and the roles", key, sec, desc)
	}
	if rt.raw != nil && (sec == nil || len(sec) != 0 || len(want) > 0) {
		t.Errorf("%s: a public route needs no token: security %v", key, op["security"])
	}
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// checkParams: every parameter is typed, and the path's are the path's.
func checkParams(t *testing.T, c docCheck, key string, op map[string]any) {
	t.Helper()
	ps, _ := op["parameters"].([]any)
	var inPath []string
	for _, p := range ps {
		p := p.(map[string]any)
		schema := c.deref(p["schema"].(map[string]any))
		if schema["type"] == nil {
			t.Errorf("%s: parameter %v has no type", key, p["name"])
		}
		if schema["type"] == "array" && c.deref(schema["items"].(map[string]any))["type"] == nil {
			t.Errorf("%s: parameter %v: items have no type", key, p["name"])
		}
		if d, _ := p["description"].(string); d == "" {
			t.Errorf("%s: parameter %v has no description", key, p["name"])
		}
		if p["in"] == "path" {
			inPath = append(inPath, p["name"].(string))
		}
	}
	var want []string
	for _, m := range pathParam.FindAllStringSubmatch(key, -1) {
		want = append(want, m[1])
	}
	if fmt.Sprint(inPath) != fmt.Sprint(want) {
		t.Errorf("%s: path parameters %v, want %v", key, inPath, want)
	}
}

// checkSuccess: a success answer, with a schema wherever the handler
// writes JSON, and errors with the Error schema.
func checkSuccess(t *testing.T, c docCheck, key string, rt route, op map[string]any) {
	t.Helper()
	resps := op["responses"].(map[string]any)
	success := 0
	for status, r := range resps {
		r := c.deref(r.(map[string]any))
		if d, _ := r["description"].(string); d == "" {
			t.Errorf("%s: answer %s has no description", key, status)
		}
		content, _ := r["content"].(map[string]any)
		if status == "default" || status >= "400" {
			js, _ := content["application/json"].(map[string]any)
			if js == nil || fmt.Sprint(js["schema"]) != "map[$ref:#/components/schemas/ErrorBody]" {
				t.Errorf("%s: error %s without the Error schema: %v", key, status, r)
			}
			continue
		}
		success++
		if status < "200" || status >= "300" {
			t.Errorf("%s: answer %s", key, status)
		}
		for media, m := range content {
			if m.(map[string]any)["schema"] == nil {
				t.Errorf("%s: answer %s %s has no schema", key, status, media)
			}
		}
	}
	if success == 0 {
		t.Errorf("%s: no success answer", key)
	}
	for _, a := range rt.out {
		r, _ := resps[strconv.Itoa(a.status)].(map[string]any)
		content, _ := r["content"].(map[string]any)
		if a.body != nil && content["application/json"] == nil {
			t.Errorf("%s: answer %d writes JSON, but the document has no JSON schema for it", key, a.status)
		}
		if a.body == nil && a.media == "" && content != nil {
			t.Errorf("%s: answer %d has no body, but the document gives it one", key, a.status)
		}
	}
	if _, ok := resps["default"]; !ok {
		t.Errorf("%s: no default (error) answer", key)
	}
}

// TestOpenAPIParams sends every documented query parameter to its
// handler: its example is taken, its bad value is a 400 that names it,
// and where the handler refuses unknown parameters, the ones it knows are
// the ones the document lists.
func TestOpenAPIParams(t *testing.T) {
	h := newHarness(t, nil)
	c := served(t, h)
	job := h.submit("acme", `{"accelerators":1}`)
	spec := `{"tenant":"acme","accelerators":1}`
	for _, rt := range h.srv.table() {
		path := strings.NewReplacer("{id}", job.ID).Replace(rt.path)
		if strings.Contains(path, "{") {
			continue // routes on nodes, tenants and tokens read no query
		}
		body := ""
		if rt.in != nil {
			body = spec
		}
		documented := map[string]bool{}
		for _, p := range rt.params {
			if p.in == "header" {
				if r := h.do("admin", rt.method, path, body, p.name, p.example); r.status >= 400 && r.status != 501 {
					t.Errorf("%s %s with %s: %s: %d %s", rt.method, rt.path, p.name, p.example, r.status, r.body)
				}
				continue
			}
			documented[p.name] = true
			checkExample(t, c, rt, p)
			for _, v := range paramEnum(c, rt, p) {
				if r := h.do("admin", rt.method, path+"?"+p.name+"="+url.QueryEscape(v), body); r.status == http.StatusBadRequest {
					t.Errorf("%s %s?%s=%s (a value the document lists): %d %s", rt.method, rt.path, p.name, v, r.status, r.body)
				}
			}
			r := h.do("admin", rt.method, path+"?"+p.name+"="+url.QueryEscape(p.example), body)
			if r.status == http.StatusBadRequest || r.status >= 500 && r.status != 501 {
				t.Errorf("%s %s?%s=%s (the example): %d %s", rt.method, rt.path, p.name, p.example, r.status, r.body)
			}
			if p.bad == "" {
				continue
			}
			r = h.do("admin", rt.method, path+"?"+p.name+"="+url.QueryEscape(p.bad), body)
			if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), `"field":"`+p.name+`"`) {
				t.Errorf("%s %s?%s=%s (a bad value): %d %s, want a 400 naming %s", rt.method, rt.path, p.name, p.bad, r.status, r.body, p.name)
			}
		}
		r := h.do("admin", rt.method, path+"?zz=1", body)
		if r.status != http.StatusBadRequest {
			continue // the handler does not check for unknown parameters
		}
		var eb ErrorBody
		r.decode(t, &eb)
		known := map[string]bool{}
		for _, p := range eb.Problems {
			if p.Field == "zz" {
				list := strings.TrimSuffix(strings.TrimPrefix(p.Message, "unknown parameter (known: "), ")")
				for _, k := range strings.Split(list, ", ") {
					if k != "" {
						known[k] = true
					}
				}
			}
		}
		if fmt.Sprint(sortedKeys(known)) != fmt.Sprint(sortedKeys(documented)) {
			t.Errorf("%s %s: the handler knows the parameters %v, the document lists %v", rt.method, rt.path, sortedKeys(known), sortedKeys(documented))
		}
	}
}

// docParam is a parameter of a route as the document has it.
func docParam(c docCheck, rt route, name string) map[string]any {
	op := c.operations()[rt.method+" "+rt.path]
	for _, p := range op["parameters"].([]any) {
		if p := p.(map[string]any); p["name"] == name {
			return p
		}
	}
	return nil
}

// checkExample: a parameter's example is a value of its schema.
func checkExample(t *testing.T, c docCheck, rt route, p param) {
	t.Helper()
	dp := docParam(c, rt, p.name)
	for _, problem := range c.validate(dp["schema"].(map[string]any), dp["example"], rt.path+"?"+p.name) {
		t.Errorf("example: %s", problem)
	}
}

// paramEnum lists the values the document allows a parameter, if it
// lists them.
func paramEnum(c docCheck, rt route, p param) []string {
	s := c.deref(docParam(c, rt, p.name)["schema"].(map[string]any))
	if items, ok := s["items"].(map[string]any); ok {
		s = c.deref(items)
	}
	var out []string
	vs, _ := s["enum"].([]any)
	for _, v := range vs {
		out = append(out, v.(string))
	}
	return out
}

// whatIfFirst is placeFirst, answering dry runs too.
type whatIfFirst struct{ placeFirst }

func (w whatIfFirst) WhatIf(ctx context.Context, in ScheduleInput) ([]Decision, error) {
	return w.Schedule(ctx, in)
}

// answers checks every answer of a server against the document: its
// status is one the operation documents, and its body matches the
// status's schema. It records the success statuses seen.
type answers struct {
	t    *testing.T
	h    *harness
	c    docCheck
	ops  map[string]map[string]any
	seen map[string]bool // "operationId status"
}

// do sends a request, checks its answer against the document, and
// checks its status is want.
func (a *answers) do(want int, who, method, path, body string, headers ...string) resp {
	a.t.Helper()
	r := a.h.do(who, method, path, body, headers...)
	if r.status != want {
		a.t.Errorf("%s %s as %s: %d %s, want %d", method, path, who, r.status, r.body, want)
	}
	a.check(method, path, r.status, r.header.Get("Content-Type"), r.body)
	return r
}

// check validates one answer.
func (a *answers) check(method, path string, status int, ctype string, body []byte) {
	a.t.Helper()
	key, op := a.operation(method, path)
	if op == nil {
		a.t.Errorf("%s %s: no operation of the document matches", method, path)
		return
	}
	r, ok := op["responses"].(map[string]any)[strconv.Itoa(status)].(map[string]any)
	if !ok {
		a.t.Errorf("%s (%s %s) answered %d, which the document does not list: %s", key, method, path, status, body)
		return
	}
	r = a.c.deref(r)
	if status < 300 {
		a.seen[op["operationId"].(string)+" "+strconv.Itoa(status)] = true
	}
	content, _ := r["content"].(map[string]any)
	if content == nil {
		if len(body) > 0 {
			a.t.Errorf("%s answered %d with a body the document does not have: %s", key, status, body)
		}
		return
	}
	media, _, _ := strings.Cut(ctype, ";")
	m, ok := content[media].(map[string]any)
	if !ok {
		a.t.Errorf("%s answered %d as %q, which the document does not list", key, status, ctype)
		return
	}
	if media != "application/json" {
		return // the event stream: see stream
	}
	v, err := decodeJSON(body)
	if err != nil {
		a.t.Errorf("%s answered %d with invalid JSON: %v", key, status, err)
		return
	}
	for _, p := range a.c.validate(m["schema"].(map[string]any), v, "body") {
		a.t.Errorf("%s %d: %s", key, status, p)
	}
}

// operation finds the operation that serves a request.
func (a *answers) operation(method, path string) (string, map[string]any) {
	path, _, _ = strings.Cut(path, "?")
	for key, op := range a.ops {
		m, tmpl, _ := strings.Cut(key, " ")
		re := "^" + strings.ReplaceAll(regexp.QuoteMeta(pathParam.ReplaceAllString(tmpl, "\x00")), "\x00", "[^/]+") + "$"
		if m == method && regexp.MustCompile(re).MatchString(path) {
			return key, op
		}
	}
	return "", nil
}

// TestOpenAPIAnswers drives every operation of the API on a real server,
// from a fresh store (where every list is empty) to jobs that run, end
// and are accounted, and checks every answer, success or error, against
// the document; every success answer the document lists must be seen.
func TestOpenAPIAnswers(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Scheduler = whatIfFirst{} })
	c := served(t, h)
	a := &answers{t: t, h: h, c: c, ops: c.operations(), seen: map[string]bool{}}
	ctx := context.Background()

	// A fresh server: every list is empty.
	for _, who := range []string{"admin", "acme"} {
		for _, p := range []string{"/v1/jobs", "/v1/accounting", "/v1/accounting?by=tenant", "/v1/nodes", "/v1/fleet", "/v1/tenants", "/v1/power", "/v1/status", "/v1/openapi.json"} {
			a.do(200, who, "GET", p, "")
		}
	}
	a.do(200, "operator", "GET", "/v1/events", "")
	a.do(200, "admin", "GET", "/v1/tokens", "")
	a.do(200, "", "GET", "/healthz", "")

	// Tokens and tenants.
	var minted TokenCreated
	a.do(201, "admin", "POST", "/v1/tokens", `{"role":"user","tenant":"acme","name":"alice"}`).decode(t, &minted)
	a.do(201, "admin", "POST", "/v1/tokens", `{"role":"agent","node_prefix":"lab/"}`)
	a.do(200, "admin", "GET", "/v1/tokens", "")
	a.do(200, "admin", "DELETE", "/v1/tokens/"+minted.ID, "")
	a.do(404, "admin", "DELETE", "/v1/tokens/"+minted.ID, "")
	a.do(201, "admin", "POST", "/v1/tenants", `{"name":"acme","weight":2}`)
	a.do(409, "admin", "POST", "/v1/tenants", `{"name":"acme"}`)
	a.do(200, "admin", "PUT", "/v1/tenants/acme", `{"quota":64}`)
	a.do(200, "acme", "GET", "/v1/tenants", "")
	a.do(204, "admin", "DELETE", "/v1/tenants/acme", "")
	a.do(404, "admin", "DELETE", "/v1/tenants/acme", "")

	// Grid events.
	var ge store.GridEvent
	a.do(201, "operator", "POST", "/v1/grid-events", `{"scope":"lab","target_fraction":0.75,"duration_s":3600,"notice_s":600}`).decode(t, &ge)
	a.do(400, "operator", "POST", "/v1/grid-events", `{"scope":"moon","target_mw":1,"duration_s":60}`)
	a.do(200, "operator", "GET", "/v1/grid-events?state=scheduled", "")
	a.do(200, "operator", "GET", "/v1/grid-events/"+ge.ID, "")
	a.do(404, "operator", "GET", "/v1/grid-events/gnope", "")
	a.do(200, "operator", "DELETE", "/v1/grid-events/"+ge.ID, "")

	// A node joins and reports.
	var reg NodeRegistered
	a.do(200, "agent", "POST", "/v1/nodes", `{"name":"`+node1+`","model":"dgx-h100","accelerators":8,"labels":{"pool":"a"}}`).decode(t, &reg)
	h.tokens[node1] = reg.Credential
	beat := NodePath(node1) + "/heartbeat"
	a.do(200, node1, "POST", beat, "")
	a.do(200, node1, "POST", beat, `{"draw_w":5000,"accelerators":[{"index":0,"power_w":650,"util":0.9,"mem_used_mib":1024,"temp_c":61}],"caps":[]}`)
	a.do(200, "acme", "GET", NodePath(node1), "")
	a.do(404, "acme", "GET", NodePath("lab/none"), "")

	// Jobs: submitted, replayed, arrays, dry runs, refused.
	var job, held store.Job
	a.do(201, "acme", "POST", "/v1/jobs", `{"name":"train","accelerators":4,"command":["true"]}`, IdempotencyHeader, "k1").decode(t, &job)
	a.do(201, "acme", "POST", "/v1/jobs", `{"name":"train","accelerators":4,"command":["true"]}`, IdempotencyHeader, "k1")
	a.do(409, "acme", "POST", "/v1/jobs", `{"name":"other","accelerators":4}`, IdempotencyHeader, "k1")
	a.do(201, "acme", "POST", "/v1/jobs", `{"accelerators":1,"array":"0-2"}`)
	a.do(201, "acme", "POST", "/v1/jobs", `{"accelerators":1,"hold":true}`).decode(t, &held)
	a.do(201, "acme", "POST", "/v1/jobs", "name: yaml\naccelerators: 64\n", "Content-Type", "application/yaml")
	a.do(200, "acme", "POST", "/v1/jobs?dry_run=true", `{"accelerators":2}`)
	a.do(400, "acme", "POST", "/v1/jobs", `{"accelerators":"eight","colour":"red"}`)
	a.do(403, "acme", "POST", "/v1/jobs", `{"tenant":"blue","accelerators":1}`)
	a.do(401, "", "POST", "/v1/jobs", `{"accelerators":1}`)
	a.do(415, "acme", "POST", "/v1/jobs", `accelerators=1`, "Content-Type", "text/csv")
	a.do(413, "acme", "POST", "/v1/jobs", `{"name":"`+strings.Repeat("x", DefaultMaxBody)+`"}`)
	a.do(403, "acme", "GET", "/v1/events", "")
	a.do(400, "acme", "GET", "/v1/jobs?state=sleeping", "")

	// The pass places the first job; its node runs it and ships output.
	if err := h.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	a.do(200, "acme", "GET", "/v1/jobs/"+job.ID, "")
	a.do(200, node1, "POST", beat, "")
	a.do(200, node1, "POST", NodePath(node1)+"/logs", `{"chunks":[{"job":"`+job.ID+`","attempt":1,"offset":0,"data":"aGVsbG8K"},{"job":"nope","attempt":1,"offset":0,"data":""}]}`)
	a.do(200, "acme", "GET", "/v1/jobs/"+job.ID+"/logs", "")
	a.do(200, "acme", "GET", "/v1/jobs?state=running,pending&tenant=acme&order=newest&limit=2", "")
	a.do(200, "acme", "GET", "/v1/fleet", "")
	a.do(200, "acme", "GET", "/v1/power?depth=rack", "")
	a.do(200, "acme", "GET", "/v1/nodes", "")
	a.do(200, "admin", "GET", NodePath(node1), "")
	a.do(200, "acme", "POST", "/v1/jobs/"+job.ID+"/requeue", "")
	a.do(409, "acme", "POST", "/v1/jobs/"+job.ID+"/requeue", "")
	a.do(200, "acme", "POST", "/v1/jobs/"+held.ID+"/release", "")
	a.do(200, "acme", "POST", "/v1/jobs/"+held.ID+"/hold", "")
	if err := h.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	a.do(200, node1, "POST", beat, `{"finished":[{"job":"`+job.ID+`","state":"succeeded"}]}`)
	a.do(200, "acme", "DELETE", "/v1/jobs/"+held.ID, "")
	a.do(200, "acme", "DELETE", "/v1/jobs/"+held.ID, "")
	a.do(409, "acme", "POST", "/v1/jobs/"+held.ID+"/hold", "")
	a.do(404, "blue", "GET", "/v1/jobs/"+held.ID, "")
	a.do(200, "acme", "GET", "/v1/jobs/"+job.ID+"/events", "")
	a.do(200, "operator", "GET", "/v1/events?last=5", "")
	a.do(200, "acme", "GET", "/v1/accounting", "")
	a.do(200, "acme", "GET", "/v1/accounting?by=day&state=succeeded,cancelled", "")
	a.do(200, "operator", "POST", NodePath(node1)+"/drain", "")
	a.do(200, "operator", "POST", NodePath(node1)+"/undrain", "")
	a.do(403, "acme", "POST", NodePath(node1)+"/drain", "")
	a.do(403, "agent", "POST", beat, "")

	// The console's session.
	a.do(200, "", "POST", "/v1/session", `{"token":"`+h.tokens["admin"]+`"}`)
	a.do(401, "", "POST", "/v1/session", `{"token":"nope"}`)
	a.do(403, "", "POST", "/v1/session", `{"token":"`+h.tokens["agent"]+`"}`)
	a.do(204, "", "DELETE", "/v1/session", "")

	// The event stream: its first tick's data is a StreamTick.
	a.stream("acme")

	var missing []string
	for _, key := range sortedKeys(a.ops) {
		op := a.ops[key]
		for status := range op["responses"].(map[string]any) {
			if strings.HasPrefix(status, "2") && !a.seen[op["operationId"].(string)+" "+status] {
				missing = append(missing, op["operationId"].(string)+" "+status)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("success answers the document lists but the test never saw: %v", missing)
	}
}

// stream reads GET /v1/stream up to its first tick and checks the tick's
// data against the schema x-stargate-events gives it.
func (a *answers) stream(who string) {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", a.h.url+"/v1/stream", nil)
	req.Header.Set("Authorization", "Bearer "+a.h.tokens[who])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	a.check("GET", "/v1/stream", res.StatusCode, res.Header.Get("Content-Type"), nil)
	_, op := a.operation("GET", "/v1/stream")
	events := op["responses"].(map[string]any)["200"].(map[string]any)["x-stargate-events"].(map[string]any)
	sc := bufio.NewScanner(res.Body)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		if e, ok := strings.CutPrefix(line, "event: "); ok {
			event = e
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			schema, ok := events[event].(map[string]any)
			if !ok {
				a.t.Errorf("stream: event %q is not in x-stargate-events", event)
				return
			}
			v, err := decodeJSON([]byte(data))
			if err != nil {
				a.t.Errorf("stream: %s", err)
			}
			for _, p := range a.c.validate(schema, v, "tick") {
				a.t.Errorf("stream: %s", p)
			}
			return
		}
	}
	a.t.Errorf("stream ended without a tick: %v", sc.Err())
}

// TestOpenAPIExamples: every request example matches its schema.
func TestOpenAPIExamples(t *testing.T) {
	h := newHarness(t, nil)
	c := served(t, h)
	n := 0
	for key, op := range c.operations() {
		rb, _ := op["requestBody"].(map[string]any)
		if rb == nil {
			continue
		}
		js := rb["content"].(map[string]any)["application/json"].(map[string]any)
		exs, _ := js["examples"].(map[string]any)
		for name, ex := range exs {
			n++
			for _, p := range c.validate(js["schema"].(map[string]any), ex.(map[string]any)["value"], key+" example "+name) {
				t.Error(p)
			}
		}
	}
	if n < 5 {
		t.Errorf("%d request examples", n)
	}
}

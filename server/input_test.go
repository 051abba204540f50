package server

import (
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Input that no store can keep as text is refused with a 400 naming the
// field, before it reaches a batch where it could fail others' submits.
func TestSubmitRefusesUnstorableText(t *testing.T) {
	h := newHarness(t, nil)
	r := h.do("acme", "POST", "/v1/jobs", `{"accelerators":8}`, IdempotencyHeader, "k\xff")
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), IdempotencyHeader) {
		t.Errorf("invalid UTF-8 key: %d %s", r.status, r.body)
	}
	r = h.do("acme", "POST", "/v1/jobs", `{"accelerators":8,"name":"a\u0000b"}`)
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), `"name"`) {
		t.Errorf("NUL in name: %d %s", r.status, r.body)
	}
}

// The same job asked with or without a field's default is the same
// request: a retry with the same key replays it instead of a 409.
func TestIdempotencyAfterDefaults(t *testing.T) {
	h := newHarness(t, nil)
	a := h.do("acme", "POST", "/v1/jobs", `{"accelerators":8}`, IdempotencyHeader, "same")
	b := h.do("acme", "POST", "/v1/jobs", `{"accelerators":8,"tenant":"acme"}`, IdempotencyHeader, "same")
	if a.status != http.StatusCreated || b.status != http.StatusCreated || b.header.Get(ReplayedHeader) != "true" {
		t.Errorf("first %d, second %d (replayed %q): %s", a.status, b.status, b.header.Get(ReplayedHeader), b.body)
	}
	c := h.do("acme", "POST", "/v1/jobs", `{"accelerators":16}`, IdempotencyHeader, "same")
	if c.status != http.StatusConflict {
		t.Errorf("a different request with the same key: %d, want 409", c.status)
	}
}

func TestYAMLOneDocument(t *testing.T) {
	h := newHarness(t, nil)
	r := h.do("acme", "POST", "/v1/jobs", "accelerators: 8\n---\naccelerators: 9\n", "Content-Type", "application/yaml")
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "one YAML document") {
		t.Errorf("two documents: %d %s", r.status, r.body)
	}
	r = h.do("acme", "POST", "/v1/jobs", "accelerators: 8\n", "Content-Type", "application/yaml")
	if r.status != http.StatusCreated {
		t.Errorf("one document: %d %s", r.status, r.body)
	}
}

// An answer that cannot be encoded is a 500 with a message, never a 200
// with an empty body.
func TestWriteJSONUnencodable(t *testing.T) {
	w := httptest.NewRecorder()
	writeJSON(w, http.StatusOK, map[string]float64{"draw": math.Inf(1)})
	if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), "cannot encode") {
		t.Errorf("%d %q", w.Code, w.Body.String())
	}
}

func TestSpecTextIsBounded(t *testing.T) {
	h := newHarness(t, nil)
	env := make([]string, 200)
	for i := range env {
		env[i] = `"V` + strings.Repeat("x", i%10) + string(rune('a'+i%26)) + strings.Repeat("y", i/26) + `":"1"`
	}
	r := h.do("acme", "POST", "/v1/jobs", `{"accelerators":8,"env":{`+strings.Join(env, ",")+`}}`)
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "at most 128 variables") {
		t.Errorf("200 variables: %d %s", r.status, r.body)
	}
	big := strings.Repeat("a", 5000)
	r = h.do("acme", "POST", "/v1/jobs", `{"accelerators":8,"env":{"X":"`+big+`"}}`)
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "env.X") {
		t.Errorf("5,000-byte value: %d %s", r.status, r.body)
	}
}

func TestAuthSchemeCaseAndForbiddenMessage(t *testing.T) {
	h := newHarness(t, nil)
	r := h.do("", "GET", "/v1/jobs", "", "Authorization", "bearer "+h.tokens["acme"])
	if r.status != http.StatusOK {
		t.Errorf("lower-case scheme: %d %s", r.status, r.body)
	}
	r = h.do("acme", "GET", "/v1/events", "")
	if r.status != http.StatusForbidden || strings.Contains(string(r.body), "GET GET") || !strings.Contains(string(r.body), "GET /v1/events") {
		t.Errorf("forbidden: %d %s", r.status, r.body)
	}
}

func TestWrongMethodIs405(t *testing.T) {
	h := newHarness(t, nil)
	r := h.do("admin", "PUT", "/v1/jobs", `{}`)
	if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "POST, GET" {
		t.Errorf("PUT /v1/jobs: %d, Allow %q: %s", r.status, r.header.Get("Allow"), r.body)
	}
	r = h.do("admin", "PATCH", "/v1/jobs/j1", `{}`)
	if r.status != http.StatusMethodNotAllowed || !strings.Contains(r.header.Get("Allow"), "DELETE") {
		t.Errorf("PATCH /v1/jobs/j1: %d, Allow %q", r.status, r.header.Get("Allow"))
	}
	if r := h.do("admin", "GET", "/v1/nope", ""); r.status != http.StatusNotFound {
		t.Errorf("GET /v1/nope: %d", r.status)
	}
}

// Field names are exact: encoding/json would take "Accelerators" for
// "accelerators", the strict API does not.
func TestFieldNamesAreExact(t *testing.T) {
	h := newHarness(t, nil)
	r := h.do("acme", "POST", "/v1/jobs", `{"Accelerators":8}`)
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), `"Accelerators"`) {
		t.Errorf("%d %s", r.status, r.body)
	}
}

func TestUnknownQueryParameters(t *testing.T) {
	h := newHarness(t, nil)
	for _, path := range []string{"/v1/jobs?colour=red", "/v1/events?colour=red", "/v1/power?colour=red"} {
		r := h.do("admin", "GET", path, "")
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "colour") {
			t.Errorf("%s: %d %s", path, r.status, r.body)
		}
	}
}

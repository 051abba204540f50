package server

import (
	"net/http"
	"strings"
	"testing"
)

func TestPendingLimitPerTenant(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxPendingPerTenant = 3 })
	var first string
	for i := range 3 {
		j := h.submit("acme", `{"accelerators":1}`)
		if i == 0 {
			first = j.ID
		}
	}
	r := h.do("acme", "POST", "/v1/jobs", `{"accelerators":1}`)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" ||
		!strings.Contains(string(r.body), "max-pending-per-tenant") || !strings.Contains(string(r.body), "acme") {
		t.Fatalf("the 4th pending job of acme: %d %q %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	// another tenant is not held back
	h.submit("blue", `{"accelerators":1}`)
	// a refused or replayed submit takes no room
	if r := h.do("acme", "POST", "/v1/jobs", `{"accelerators":0}`); r.status != 400 {
		t.Fatalf("a bad spec: %d", r.status)
	}
	// room comes back when a job leaves the queue, once the gate counts again
	if r := h.do("acme", "DELETE", "/v1/jobs/"+first, ""); r.status != 200 {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	if r := h.do("acme", "POST", "/v1/jobs", `{"accelerators":1}`); r.status != http.StatusTooManyRequests {
		t.Errorf("before the recount: %d", r.status)
	}
	h.clock.Advance(pendingRecount)
	h.submit("acme", `{"accelerators":1}`)
	if r := h.do("acme", "POST", "/v1/jobs", `{"accelerators":1}`); r.status != http.StatusTooManyRequests {
		t.Errorf("after refilling: %d", r.status)
	}
}

func TestPendingLimitKeyedReplay(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxPendingPerTenant = 2 })
	h.do("acme", "POST", "/v1/jobs", `{"accelerators":1}`, IdempotencyHeader, "k1")
	// a replay is not a new job: it must not use up the tenant's room
	for range 3 {
		if r := h.do("acme", "POST", "/v1/jobs", `{"accelerators":1}`, IdempotencyHeader, "k1"); r.status != http.StatusCreated {
			t.Fatalf("replay: %d %s", r.status, r.body)
		}
	}
	h.submit("acme", `{"accelerators":1}`)
	if r := h.do("acme", "POST", "/v1/jobs", `{"accelerators":1}`); r.status != http.StatusTooManyRequests {
		t.Errorf("the 3rd job: %d", r.status)
	}
}

func TestPendingLimitOff(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxPendingPerTenant = -1 })
	for range 5 {
		h.submit("acme", `{"accelerators":1}`)
	}
}

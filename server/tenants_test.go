package server

import (
	"strings"
	"testing"

	"stargate/store"
)

func TestTenantsAPI(t *testing.T) {
	h := newHarness(t, nil)
	for _, bad := range []string{`{"name":"Bad Name"}`, `{"name":"ok","weight":0}`, `{"name":"ok","weight":-2}`,
		`{"name":"ok","weight":2e6}`, `{"name":"ok","quota":-1}`, `{"name":"ok","extra":1}`, `{"weight":1}`} {
		if r := h.do("admin", "POST", "/v1/tenants", bad); r.status != 400 {
			t.Errorf("create %s: %d %s", bad, r.status, r.body)
		}
	}
	r := h.do("admin", "POST", "/v1/tenants", `{"name":"acme","weight":2.5,"quota":64}`)
	var got store.Tenant
	r.decode(t, &got)
	if r.status != 201 || got.Name != "acme" || got.Weight != 2.5 || got.Quota != 64 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	if r := h.do("admin", "POST", "/v1/tenants", `{"name":"acme"}`); r.status != 409 {
		t.Errorf("create twice: %d", r.status)
	}
	// a set changes only what it names
	var set store.Tenant
	h.do("admin", "PUT", "/v1/tenants/acme", `{"quota":0}`).decode(t, &set)
	if set.Weight != 2.5 || set.Quota != 0 {
		t.Errorf("set quota 0: %+v", set)
	}
	if r := h.do("admin", "PUT", "/v1/tenants/acme", `{"name":"other"}`); r.status != 400 {
		t.Errorf("rename: %d", r.status)
	}
	if r := h.do("admin", "PUT", "/v1/tenants/ghost", `{"weight":1}`); r.status != 404 {
		t.Errorf("set a missing tenant: %d", r.status)
	}
	var list TenantList
	h.do("acme", "GET", "/v1/tenants", "").decode(t, &list)
	if len(list.Tenants) != 1 || !list.Tenants[0].Configured || list.Tenants[0].Weight != 2.5 {
		t.Errorf("list: %+v", list)
	}
	if r := h.do("admin", "DELETE", "/v1/tenants/acme", ""); r.status != 204 {
		t.Errorf("delete: %d", r.status)
	}
	if r := h.do("admin", "DELETE", "/v1/tenants/acme", ""); r.status != 404 {
		t.Errorf("delete twice: %d", r.status)
	}
	var evs EventList
	h.do("admin", "GET", "/v1/events", "").decode(t, &evs)
	var kinds []string
	for _, e := range evs.Events {
		kinds = append(kinds, e.Kind)
	}
	if got := strings.Join(kinds, ","); got != "tenant-created,tenant-set,tenant-deleted" {
		t.Errorf("journal: %s", got)
	}
}

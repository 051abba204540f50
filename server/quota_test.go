package server

import (
	"context"
	"strings"
	"testing"

	"stargate/store"
)

func TestQuotasByModelAndPower(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Scheduler = placeFirst{} })
	for _, n := range []string{node1, node2, "lab/hall-a/row-1/rack-1/n3", "lab/hall-a/row-1/rack-1/n4"} {
		h.register(n)
	}
	ctx := context.Background()
	for _, bad := range []string{`{"name":"x","model_quotas":{"zz9":1}}`, `{"name":"x","model_quotas":{"h100":-1}}`, `{"name":"x","power_quota_kw":-1}`} {
		if r := h.do("admin", "POST", "/v1/tenants", bad); r.status != 400 {
			t.Errorf("%s: %d %s", bad, r.status, r.body)
		}
	}
	// acme: 8 H100 at once; blue: 15 kW of rated power (a DGX H100's 8
	// accelerators are rated 10.2 kW)
	if r := h.do("admin", "POST", "/v1/tenants", `{"name":"acme","model_quotas":{"H100":8}}`); r.status != 201 {
		t.Fatalf("acme: %d %s", r.status, r.body)
	}
	if r := h.do("admin", "POST", "/v1/tenants", `{"name":"blue","power_quota_kw":15}`); r.status != 201 {
		t.Fatalf("blue: %d %s", r.status, r.body)
	}
	a1 := h.submit("acme", `{"accelerators":8}`)
	a2 := h.submit("acme", `{"accelerators":8,"model":"h100"}`)
	b1 := h.submit("blue", `{"accelerators":8}`)
	b2 := h.submit("blue", `{"accelerators":8}`)
	if err := h.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	state := func(id string) store.Job { j, _ := h.st.Job(ctx, id); return j }
	if state(a1.ID).State != store.JobRunning || state(b1.ID).State != store.JobRunning {
		t.Fatalf("the first jobs: %s %s", state(a1.ID).State, state(b1.ID).State)
	}
	if j := state(a2.ID); j.State != store.JobPending || !strings.Contains(strings.Join(j.Reasons, ""), "quota: tenant acme holds 8 of its 8 h100-sxm") {
		t.Errorf("acme's second: %s %v", j.State, j.Reasons)
	}
	if j := state(b2.ID); j.State != store.JobPending || !strings.Contains(strings.Join(j.Reasons, ""), "power quota: tenant blue holds 10.2 of its 15.0 kW") {
		t.Errorf("blue's second: %s %v", j.State, j.Reasons)
	}
	// the quotas show, and lifting them lets the jobs start
	var list TenantList
	h.do("admin", "GET", "/v1/tenants", "").decode(t, &list)
	if len(list.Tenants) != 2 || list.Tenants[0].ModelQuotas["h100-sxm"] != 8 || list.Tenants[1].PowerQuotaKW != 15 {
		t.Errorf("tenants: %+v", list.Tenants)
	}
	h.do("admin", "PUT", "/v1/tenants/acme", `{"model_quotas":{"h100":0}}`)
	h.do("admin", "PUT", "/v1/tenants/blue", `{"power_quota_kw":25}`)
	if err := h.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if state(a2.ID).State != store.JobRunning || state(b2.ID).State != store.JobRunning {
		t.Errorf("after lifting the quotas: %s %s", state(a2.ID).State, state(b2.ID).State)
	}
}

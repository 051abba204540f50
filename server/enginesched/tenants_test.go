package enginesched_test

import (
	"context"
	"testing"

	"stargate/engine"
	"stargate/server"
	"stargate/store"
)

// Tenants managed at run time: a quota set through the API holds the
// tenant's jobs back at the next pass, and raising it lets them start.
func TestTenantQuotaAtRunTime(t *testing.T) {
	e := setup(t, engine.Config{Queue: "fair"})
	e.register(t, rack1+"1", rack1+"2", rack1+"3")
	ctx := context.Background()
	eight := 8
	if _, err := e.agent.CreateTenant(ctx, server.TenantRequest{Name: "acme", Quota: &eight}); err != nil {
		t.Fatal(err)
	}
	a := e.submit(t, `{"accelerators":8}`)
	b := e.submit(t, `{"accelerators":8}`)
	e.pass(t)
	if ja, jb := e.job(t, a), e.job(t, b); ja.State != store.JobRunning || jb.State != store.JobPending {
		t.Fatalf("quota 8: a %s, b %s %v", ja.State, jb.State, jb.Reasons)
	}
	sixteen := 16
	if _, err := e.agent.SetTenant(ctx, "acme", server.TenantRequest{Quota: &sixteen}); err != nil {
		t.Fatal(err)
	}
	e.pass(t)
	if jb := e.job(t, b); jb.State != store.JobRunning {
		t.Fatalf("quota 16: b %s %v", jb.State, jb.Reasons)
	}
	c := e.submit(t, `{"accelerators":8}`)
	e.pass(t)
	if jc := e.job(t, c); jc.State != store.JobPending {
		t.Fatalf("a third job within quota 16: %s", jc.State)
	}
	// deleting the tenant lifts its quota
	if err := e.agent.DeleteTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	e.pass(t)
	if jc := e.job(t, c); jc.State != store.JobRunning {
		t.Fatalf("no tenant record, no quota: c %s %v", jc.State, jc.Reasons)
	}
	list, err := e.user.Tenants(ctx)
	if err != nil || len(list.Tenants) != 1 || list.Tenants[0].Configured || list.Tenants[0].Running != 24 {
		t.Errorf("tenants as acme sees them: %+v %v", list, err)
	}
}

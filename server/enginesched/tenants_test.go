package enginesched_test

import (
	"context"
	"testing"

	"stargate/engine"
	"stargate/examples"
	"stargate/server"
	"stargate/server/enginesched"
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

// A caller that gives the whole queue each call and keeps its generation
// when only the tenants change still has the new quota honoured: the
// engine is built again for it.
func TestTenantsChangeWithinAGeneration(t *testing.T) {
	e := setup(t, engine.Config{Queue: "fair"})
	e.register(t, rack1+"1", rack1+"2")
	a := e.submit(t, `{"accelerators":8}`)
	b := e.submit(t, `{"accelerators":8}`)
	ctx := context.Background()
	nodes, _ := e.st.Nodes(ctx)
	pending, _ := e.st.Jobs(ctx, store.JobQuery{States: []store.JobState{store.JobPending}})
	fl, _ := examples.Fleet("small")
	s, _ := enginesched.New(fl, engine.Config{Queue: "fair"}, enginesched.Options{})
	in := server.ScheduleInput{Now: e.clock.Now(), Fleet: fl, Nodes: nodes, Pending: pending, Generation: 1,
		Tenants: map[string]server.TenantConfig{"acme": {Weight: 1, Quota: 8}}}
	ds, err := s.Schedule(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	placed := map[string]bool{}
	for _, d := range ds {
		placed[d.Job] = placed[d.Job] || d.Action == server.ActPlace
	}
	if !placed[a] || placed[b] {
		t.Fatalf("quota 8: %+v", ds)
	}
	// the state the decisions implied: a runs, b waits
	for _, d := range ds {
		if d.Job == a {
			ja := pending[0]
			ja.State, ja.Placement = store.JobRunning, d.Placement
			in.Running, in.Pending = []store.Job{ja}, pending[1:]
		}
	}
	in.Tenants = map[string]server.TenantConfig{"acme": {Weight: 1, Quota: 16}}
	ds, err = s.Schedule(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	placed = map[string]bool{}
	for _, d := range ds {
		placed[d.Job] = placed[d.Job] || d.Action == server.ActPlace
	}
	if !placed[b] {
		t.Errorf("quota 16 in the same generation: %+v", ds)
	}
}

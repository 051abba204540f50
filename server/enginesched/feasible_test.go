package enginesched_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"pgregory.net/rapid"

	"stargate/client"
	"stargate/engine"
	"stargate/examples"
	"stargate/server"
	"stargate/server/enginesched"
	"stargate/store"
	"stargate/store/sqlite"
)

// A spec the server accepts is one the fleet can hold: on an empty fleet,
// every node up, one pass places it. The fleet mixes six vendors, racks,
// NVL72 racks, supernodes and pods with slice shapes.
func TestAcceptedSpecStartsOnAnEmptyFleet(t *testing.T) {
	f, err := examples.Fleet("sovereign")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	var nodes []store.Node
	for i := range f.Nodes {
		m := f.NodeModel(i)
		nodes = append(nodes, store.Node{Name: f.NodeName(i), Model: m.Name, Accelerators: m.Accelerators, RegisteredAt: now, HeartbeatAt: now, DrawW: -1})
	}
	if err := st.RegisterNodes(ctx, nodes); err != nil {
		t.Fatal(err)
	}
	sched, err := enginesched.New(f, engine.Config{}, enginesched.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ck := &clock{t: now}
	srv, err := server.New(server.Config{Store: st, Fleet: f, Clock: ck, Scheduler: sched, ID: "t", ReconcileEvery: time.Hour, LeaderTTL: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { srv.Run(rctx); close(done) }()
	hs := httptest.NewServer(srv.Handler())
	defer func() { hs.Close(); cancel(); <-done }()
	for !srv.IsLeader() {
		time.Sleep(time.Millisecond)
	}
	admin, _, _ := srv.MintToken(ctx, store.RoleAdmin, "", "")
	c := client.New(hs.URL, admin)
	models := []string{"", "gb300", "mi355x", "ascend-910c", "kunlun-p800", "tpu-v5p", "tpu-v6e", "trainium2"}
	topos := []string{"", "node", "nvlink", "rack", "row", "hall", "site"}
	accepted := 0
	rapid.Check(t, func(rt *rapid.T) {
		spec := store.JobSpec{Tenant: "acme", Accelerators: rapid.SampledFrom([]int{1, 2, 4, 8, 16, 32, 64, 72, 128, 256, 384, 512, 1024, 4096}).Draw(rt, "accelerators"),
			Model: rapid.SampledFrom(models).Draw(rt, "model"), Topology: rapid.SampledFrom(topos).Draw(rt, "topology"),
			TopologyRequired: rapid.Bool().Draw(rt, "required")}
		body, _ := json.Marshal(spec)
		j, _, err := c.Submit(ctx, body, "application/json", "")
		if err != nil {
			return // refused as infeasible: nothing to place
		}
		accepted++
		if err := srv.Reconcile(ctx); err != nil {
			rt.Fatal(err)
		}
		got, err := c.Job(ctx, j.ID)
		if err != nil {
			rt.Fatal(err)
		}
		if got.State != store.JobRunning {
			rt.Fatalf("accepted %+v, but an empty fleet did not start it: %s %v", spec, got.State, got.Reasons)
		}
		if _, err := c.Cancel(ctx, j.ID); err != nil {
			rt.Fatal(err)
		}
		if err := srv.Reconcile(ctx); err != nil { // the fleet is empty again
			rt.Fatal(err)
		}
	})
	t.Logf("%d specs accepted and placed", accepted)
	if accepted < 20 {
		t.Errorf("only %d drawn specs were accepted: the property was barely tried", accepted)
	}
}

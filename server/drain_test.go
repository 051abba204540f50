package server

import (
	"context"
	"testing"
	"time"

	"stargate/store"
)

// TestDrainOutlivesLossAndUndrain: a node drained for maintenance goes
// silent, is lost, and comes back (registering, or just heartbeating)
// still drained: it takes no work until an operator undrains it.
func TestDrainOutlivesLossAndUndrain(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Scheduler = placeFirst{}; c.HeartbeatTimeout = 10 * time.Second })
	ctx := context.Background()
	h.register(node1)
	path := NodePath(node1)
	var n store.Node
	r := h.do("operator", "POST", path+"/drain", "")
	r.decode(t, &n)
	if r.status != 200 || n.State != store.NodeDraining || !n.Drained {
		t.Fatalf("drain: %d %s", r.status, r.body)
	}

	// Maintenance: the node is silent and lost.
	h.clock.Advance(11 * time.Second)
	if err := h.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ = h.st.Node(ctx, node1); n.State != store.NodeLost || !n.Drained {
		t.Fatalf("silent drained node: %+v", n)
	}
	// It registers again: still draining, and takes no work.
	h.register(node1)
	if n, _ = h.st.Node(ctx, node1); n.State != store.NodeDraining {
		t.Fatalf("a drained node registering after being lost: %s, want draining", n.State)
	}
	job := h.submit("acme", `{"accelerators":8}`)
	if err := h.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if j, _ := h.st.Job(ctx, job.ID); j.State != store.JobPending {
		t.Fatalf("a drained node took work: %+v", j)
	}
	// Lost again, it comes back by heartbeat: still draining.
	h.clock.Advance(11 * time.Second)
	if err := h.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if hb := h.beat(node1); hb.Node.State != store.NodeDraining {
		t.Fatalf("a drained lost node heartbeating: %s, want draining", hb.Node.State)
	}

	// Undrain returns it to service.
	r = h.do("operator", "POST", path+"/undrain", "")
	r.decode(t, &n)
	if r.status != 200 || n.State != store.NodeReady || n.Drained {
		t.Fatalf("undrain: %d %s", r.status, r.body)
	}
	if again := h.do("admin", "POST", path+"/undrain", ""); again.status != 200 {
		t.Errorf("undrain twice: %d %s", again.status, again.body)
	}
	if err := h.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if j, _ := h.st.Job(ctx, job.ID); j.State != store.JobRunning {
		t.Errorf("the job after undrain: %+v", j)
	}
	evs, _ := h.st.Events(ctx, store.EventQuery{})
	var kinds []string
	for _, e := range evs {
		if e.Node == node1 && (e.Kind == "drain" || e.Kind == "undrain") {
			kinds = append(kinds, e.Kind)
		}
	}
	if len(kinds) != 2 || kinds[0] != "drain" || kinds[1] != "undrain" {
		t.Errorf("drain events: %v", kinds)
	}
	if r := h.do("operator", "POST", NodePath("lab/x")+"/undrain", ""); r.status != 404 {
		t.Errorf("undrain of an unknown node: %d", r.status)
	}
}

// TestUndrainLostNode: undraining a lost node leaves it lost; it comes
// back ready.
func TestUndrainLostNode(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.HeartbeatTimeout = 10 * time.Second })
	ctx := context.Background()
	h.register(node1)
	path := NodePath(node1)
	h.do("operator", "POST", path+"/drain", "")
	h.clock.Advance(11 * time.Second)
	if err := h.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	var n store.Node
	h.do("operator", "POST", path+"/undrain", "").decode(t, &n)
	if n.State != store.NodeLost || n.Drained {
		t.Fatalf("undrained while lost: %+v", n)
	}
	h.register(node1)
	if n, _ = h.st.Node(ctx, node1); n.State != store.NodeReady {
		t.Errorf("back after undrain: %s", n.State)
	}
}

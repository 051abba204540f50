package server

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"stargate/store"
)

// TestPowerViewKeptByHeartbeats: the power tree served from memory moves
// with every heartbeat this replica records, and stays equal to a fresh
// computation from the store; a write it did not see (another replica's)
// shows once the view is powerMaxAge old, not before.
func TestPowerViewKeptByHeartbeats(t *testing.T) {
	h := newHarness(t, nil)
	h.register(node1)
	h.register(node2)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(when string) {
		t.Helper()
		got, err := h.srv.powerNow(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want, err := h.srv.measurePower(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got.site, got.hall, got.row, got.rack, got.nodes) != fmt.Sprint(want.site, want.hall, want.row, want.rack, want.nodes) {
			t.Fatalf("%s: kept view %v %v, the store says %v %v", when, got.site, got.rack, want.site, want.rack)
		}
	}
	check("first read")
	for i := range 20 {
		n := []string{node1, node2}[rng.IntN(2)]
		draw := float64(rng.IntN(10000))
		if r := h.do(n, "POST", NodePath(n)+"/heartbeat", fmt.Sprintf(`{"draw_w":%g}`, draw)); r.status != 200 {
			t.Fatalf("heartbeat: %d %s", r.status, r.body)
		}
		check(fmt.Sprintf("after heartbeat %d", i))
	}
	// Another replica's heartbeat: straight into the store.
	before, _ := h.srv.powerNow(ctx)
	if err := h.st.Heartbeat(ctx, node1, h.clock.Now(), 123); err != nil {
		t.Fatal(err)
	}
	if now, _ := h.srv.powerNow(ctx); now.site[0] != before.site[0] {
		t.Fatalf("a write this replica did not see changed its view at once: %v -> %v", before.site[0], now.site[0])
	}
	h.clock.Advance(powerMaxAge)
	check("after powerMaxAge")
	if now, _ := h.srv.powerNow(ctx); now.site[0] == before.site[0] {
		t.Fatalf("the view still misses another replica's write after %v", powerMaxAge)
	}
}

// TestJobCountsKept: /metrics counts jobs from memory, current with this
// replica's submits; another replica's submit shows once the counts are
// powerMaxAge old.
func TestJobCountsKept(t *testing.T) {
	h := newHarness(t, nil)
	pending := func() string {
		t.Helper()
		r := h.do("operator", "GET", "/metrics", "")
		for _, l := range strings.Split(string(r.body), "\n") {
			if strings.HasPrefix(l, `stargate_queue_depth{tenant="acme"}`) {
				return strings.Fields(l)[1]
			}
		}
		return "0"
	}
	if got := pending(); got != "0" {
		t.Fatalf("pending before any submit: %s", got)
	}
	if r := h.do("acme", "POST", "/v1/jobs", `{"accelerators":128}`); r.status != 201 {
		t.Fatalf("submit: %d %s", r.status, r.body)
	}
	if got := pending(); got != "1" {
		t.Fatalf("pending after this replica's submit: %s, want 1", got)
	}
	other := store.Job{ID: "j-other", Tenant: "acme", State: store.JobPending, Version: 1, SubmittedAt: h.clock.Now(),
		Spec: store.JobSpec{Kind: store.KindTraining, Accelerators: 128}}
	if _, err := h.st.SubmitJobs(context.Background(), []store.Job{other}); err != nil {
		t.Fatal(err)
	}
	if got := pending(); got != "1" {
		t.Fatalf("another replica's submit showed at once: %s", got)
	}
	h.clock.Advance(powerMaxAge)
	if got := pending(); got != "2" {
		t.Fatalf("pending %s after %v, want 2", got, powerMaxAge)
	}
}

// gatedStore holds a computation of the power view after it read the
// nodes, until released.
type gatedStore struct {
	store.Store
	mu      sync.Mutex
	armed   bool
	reached chan struct{}
	release chan struct{}
}

func (g *gatedStore) Nodes(ctx context.Context) ([]store.Node, error) {
	n, err := g.Store.Nodes(ctx)
	g.mu.Lock()
	armed := g.armed
	g.armed = false
	g.mu.Unlock()
	if armed {
		close(g.reached)
		<-g.release
	}
	return n, err
}

// TestPowerViewBeatDuringCompute: a heartbeat recorded while the view is
// being computed, after the computation read the nodes, is not lost: the
// stale result is not kept.
func TestPowerViewBeatDuringCompute(t *testing.T) {
	var g *gatedStore
	h := newHarness(t, func(c *Config) {
		g = &gatedStore{Store: c.Store, reached: make(chan struct{}), release: make(chan struct{})}
		c.Store = g
	})
	h.register(node1)
	ctx := context.Background()
	if err := h.srv.store.Heartbeat(ctx, node1, h.clock.Now(), 1000); err != nil {
		t.Fatal(err)
	}
	h.srv.powerView.drop()
	g.mu.Lock()
	g.armed = true
	g.mu.Unlock()
	done := make(chan struct{})
	go func() { h.srv.powerNow(ctx); close(done) }()
	<-g.reached
	if err := h.srv.store.Heartbeat(ctx, node1, h.clock.Now(), 5000); err != nil {
		t.Fatal(err)
	}
	close(g.release)
	<-done
	got, _ := h.srv.powerNow(ctx)
	want, _ := h.srv.measurePower(ctx)
	if got.site[0] != want.site[0] {
		t.Fatalf("kept view %v W, the store says %v W", got.site[0], want.site[0])
	}
}

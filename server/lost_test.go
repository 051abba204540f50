package server

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"stargate/store"
	"stargate/store/sqlite"
)

// startOn starts a server on an existing store and clock, as a restarted
// process would, and returns its harness and what stops it the way kill
// -9 does: the lease is not released.
func startOn(t *testing.T, st store.Store, clock *fakeClock, mod func(*Config)) (*harness, func()) {
	t.Helper()
	cfg := Config{Store: st, Fleet: smallFleet(t), Clock: clock, ReconcileEvery: time.Hour, LeaderTTL: 24 * time.Hour}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	hs := httptest.NewServer(srv.Handler())
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			hs.Close()
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	h := &harness{t: t, srv: srv, st: st, clock: clock, url: hs.URL, tokens: map[string]string{}}
	for name, rt := range map[string][2]string{
		"admin": {"admin", ""}, "operator": {"operator", ""}, "acme": {"user", "acme"}, "blue": {"user", "blue"}, "agent": {"agent", ""},
	} {
		secret, _, err := srv.MintToken(ctx, store.Role(rt[0]), rt[1], name)
		if err != nil {
			t.Fatal(err)
		}
		h.tokens[name] = secret
	}
	waitLeader(t, srv) // so that Reconcile may run
	return h, stop
}

func waitLeader(t *testing.T, srv *Server) {
	t.Helper()
	for i := 0; !srv.IsLeader(); i++ {
		if i > 2000 {
			t.Fatal("never became leader")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (h *harness) beat(name string) HeartbeatReply {
	h.t.Helper()
	r := h.do(name, "POST", NodePath(name)+"/heartbeat", "")
	if r.status != 200 {
		h.t.Fatalf("heartbeat %s: %d %s", name, r.status, r.body)
	}
	var hb HeartbeatReply
	r.decode(h.t, &hb)
	return hb
}

// TestRestartAfterOutageKeepsRunningJobs: a server is killed and comes
// back after longer than the heartbeat timeout. The node kept running its
// job (it could not reach the server); the new leader gives it the
// heartbeat timeout to be heard from before declaring it lost.
func TestRestartAfterOutageKeepsRunningJobs(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	clock := &fakeClock{t: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
	const timeout = 5 * time.Second
	h1, kill := startOn(t, st, clock, func(c *Config) {
		c.ID, c.Scheduler, c.HeartbeatTimeout, c.LeaderTTL = "first", placeFirst{}, timeout, 3*time.Second
	})
	h1.register(node1)
	job := h1.submit("operator", `{"accelerators":8,"tenant":"acme"}`)
	if err := h1.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	if hb := h1.beat(node1); len(hb.Jobs) != 1 || hb.Jobs[0].ID != job.ID {
		t.Fatalf("the node does not run the job: %+v", hb)
	}

	kill()
	clock.Advance(7 * time.Second) // the outage: longer than the heartbeat timeout
	h2, _ := startOn(t, st, clock, func(c *Config) {
		c.ID, c.Scheduler, c.HeartbeatTimeout = "second", placeFirst{}, timeout
	})
	h2.tokens[node1] = h1.tokens[node1] // the node's credential outlives the server
	if err := h2.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	n, _ := st.Node(ctx, node1)
	j, _ := st.Job(ctx, job.ID)
	if n.State != store.NodeReady || j.State != store.JobRunning || j.Attempts != 1 {
		t.Fatalf("first pass after the restart: node %s, job %s (attempt %d); want ready and still running", n.State, j.State, j.Attempts)
	}
	// The node, heartbeating again, is never lost.
	for range 8 {
		clock.Advance(time.Second)
		h2.beat(node1)
		if err := h2.srv.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ = st.Node(ctx, node1); n.State != store.NodeReady {
		t.Fatalf("a heartbeating node after the grace: %s", n.State)
	}

	// Silence after the grace, heard by this leader, is loss.
	clock.Advance(timeout + time.Second)
	if err := h2.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	n, _ = st.Node(ctx, node1)
	j, _ = st.Job(ctx, job.ID)
	if n.State != store.NodeLost || j.State != store.JobPending {
		t.Fatalf("after silence: node %s, job %s; want lost and pending", n.State, j.State)
	}
	// A heartbeat brings the node back; its job stays requeued.
	hb := h2.beat(node1)
	if hb.Node.State != store.NodeReady || len(hb.Jobs) != 0 {
		t.Errorf("heartbeat of the lost node: node %s, jobs %+v; want ready with no jobs", hb.Node.State, hb.Jobs)
	}
	if j, _ = st.Job(ctx, job.ID); j.State != store.JobPending {
		t.Errorf("the requeued job after the node came back: %s", j.State)
	}
	// The leader sees it back and places work on it again.
	if err := h2.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if j, _ = st.Job(ctx, job.ID); j.State != store.JobRunning || j.Attempts != 2 {
		t.Errorf("the job after the node came back and a pass: %s, attempt %d", j.State, j.Attempts)
	}
}

// TestLeaderJudgesSilenceAfterGrace: a replica that just took the lease
// does not count silence from before it led, but does once it has led for
// the heartbeat timeout.
func TestLeaderJudgesSilenceAfterGrace(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.HeartbeatTimeout = 10 * time.Second })
	ctx := context.Background()
	h.register(node1)
	clock := h.clock
	clock.Advance(9 * time.Second)
	if err := h.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := h.st.Node(ctx, node1); n.State != store.NodeReady {
		t.Errorf("within the grace: %s", n.State)
	}
	clock.Advance(2 * time.Second)
	if err := h.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := h.st.Node(ctx, node1); n.State != store.NodeLost {
		t.Errorf("silent for longer than the timeout after the grace: %s", n.State)
	}
}

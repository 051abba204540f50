package enginesched_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"stargate/client"
	"stargate/engine"
	"stargate/examples"
	"stargate/server"
	"stargate/server/enginesched"
	"stargate/store"
	"stargate/store/sqlite"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	srv   *server.Server
	st    store.Store
	clock *clock
	user  *client.Client
	agent *client.Client
}

func setup(t *testing.T, cfg engine.Config) *env {
	t.Helper()
	fl, err := examples.Fleet("small")
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	sched, err := enginesched.New(fl, cfg, enginesched.Options{Settle: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ck := &clock{t: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
	srv, err := server.New(server.Config{Store: st, Fleet: fl, Clock: ck, Scheduler: sched, ID: "t",
		ReconcileEvery: time.Hour, LeaderTTL: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hs.Close(); cancel(); <-done; st.Close() })
	for !srv.IsLeader() {
		time.Sleep(time.Millisecond)
	}
	user, _, _ := srv.MintToken(ctx, store.RoleUser, "acme", "")
	// An admin may register nodes and speak for any of them, as these
	// tests do; agents use a join token and each node's own credential.
	agent, _, _ := srv.MintToken(ctx, store.RoleAdmin, "", "")
	return &env{srv: srv, st: st, clock: ck, user: client.New(hs.URL, user), agent: client.New(hs.URL, agent)}
}

func (e *env) register(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := e.agent.Register(context.Background(), server.NodeRegistration{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *env) submit(t *testing.T, spec string) string {
	t.Helper()
	j, _, err := e.user.Submit(context.Background(), []byte(spec), "", "")
	if err != nil {
		t.Fatal(err)
	}
	return j.ID
}

func (e *env) pass(t *testing.T) {
	t.Helper()
	if err := e.srv.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (e *env) job(t *testing.T, id string) store.Job {
	t.Helper()
	j, err := e.st.Job(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

const rack1 = "lab/hall-a/row-1/rack-1/n"

func TestPlacesGangsOnRegisteredNodesOnly(t *testing.T) {
	e := setup(t, engine.Config{})
	e.register(t, rack1+"1", rack1+"2")
	gang := e.submit(t, `{"accelerators":16,"topology":"rack"}`)
	big := e.submit(t, `{"accelerators":24}`)
	e.pass(t)
	g := e.job(t, gang)
	if g.State != store.JobRunning || len(g.Placement) != 2 || len(g.Placement[0].Accelerators) != 8 {
		t.Fatalf("gang: %+v", g)
	}
	for _, a := range g.Placement {
		if !strings.HasPrefix(a.Node, rack1) {
			t.Errorf("placed on unregistered node %s", a.Node)
		}
	}
	b := e.job(t, big)
	if b.State != store.JobPending || len(b.Reasons) != 1 || b.Reasons[0] == "" {
		t.Errorf("big job should wait with a reason: %+v", b)
	}
	// Cancel the gang: its accelerators come back, and after registering
	// a third node the 24-accelerator job fits.
	if _, err := e.user.Cancel(context.Background(), gang); err != nil {
		t.Fatal(err)
	}
	e.register(t, rack1+"3")
	e.pass(t)
	if b := e.job(t, big); b.State != store.JobRunning || len(b.Placement) != 3 {
		t.Errorf("after cancel: %+v", b)
	}
}

func TestDrainedAndLostNodes(t *testing.T) {
	e := setup(t, engine.Config{})
	e.register(t, rack1+"1", rack1+"2")
	if _, _, err := e.user.Submit(context.Background(), []byte(`{"accelerators":8}`), "", ""); err != nil {
		t.Fatal(err)
	}
	e.pass(t)
	running, _ := e.st.Jobs(context.Background(), store.JobQuery{States: []store.JobState{store.JobRunning}})
	if len(running) != 1 {
		t.Fatalf("running: %+v", running)
	}
	first := running[0]
	// Keep the other node alive, let the job's node fall silent.
	other := rack1 + "1"
	if first.Placement[0].Node == other {
		other = rack1 + "2"
	}
	e.clock.Advance(20 * time.Second)
	if _, err := e.agent.Heartbeat(context.Background(), other, server.Heartbeat{}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(15 * time.Second)
	e.pass(t) // the job's node is lost: requeued, and it waits out its backoff
	j := e.job(t, first.ID)
	if j.State != store.JobPending || !slices.Contains(j.Reasons, "backoff") {
		t.Fatalf("after node loss: %s %v, want pending in backoff", j.State, j.Reasons)
	}
	// Once the backoff (a minute by default) is over, it runs on the other node.
	for range 7 {
		e.clock.Advance(10 * time.Second)
		if _, err := e.agent.Heartbeat(context.Background(), other, server.Heartbeat{}); err != nil {
			t.Fatal(err)
		}
		e.pass(t)
	}
	j = e.job(t, first.ID)
	if j.State != store.JobRunning || j.Placement[0].Node != other || j.Attempts != 2 {
		t.Errorf("after the backoff: %+v", j)
	}
}

func TestRebuildFromTheStore(t *testing.T) {
	e := setup(t, engine.Config{})
	e.register(t, rack1+"1")
	a := e.submit(t, `{"accelerators":8}`)
	e.pass(t)
	b := e.submit(t, `{"accelerators":4}`)
	// A fresh scheduler (a new leader, a restart) rebuilds from the store:
	// the running job keeps its accelerators, so b must wait.
	ctx := context.Background()
	nodes, _ := e.st.Nodes(ctx)
	pending, _ := e.st.Jobs(ctx, store.JobQuery{States: []store.JobState{store.JobPending}})
	running, _ := e.st.Jobs(ctx, store.JobQuery{States: []store.JobState{store.JobRunning}})
	fl, _ := examples.Fleet("small")
	fresh, _ := enginesched.New(fl, engine.Config{}, enginesched.Options{})
	ds, err := fresh.Schedule(ctx, server.ScheduleInput{Now: e.clock.Now(), Fleet: fl, Nodes: nodes, Pending: pending, Running: running, Generation: 7})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Job != b || ds[0].Action != server.ActWait || len(ds[0].Reasons) != 1 {
		t.Fatalf("decisions after rebuild: %+v (a is %s)", ds, a)
	}
	t.Logf("b waits: %s", ds[0].Reasons[0])
}

// The power controller caps the lowest-priority job when a rack's
// measured draw crosses its upper threshold, and lifts the cap when the
// draw falls under the lower one.
func TestPowerCapping(t *testing.T) {
	e := setup(t, engine.Config{})
	ctx := context.Background()
	nodes := rack1Nodes(4)
	e.register(t, nodes...)
	var jobs []string
	for p := 1; p <= 4; p++ {
		jobs = append(jobs, e.submit(t, `{"accelerators":8,"per_node":8,"priority":`+string(rune('0'+p))+`}`))
	}
	e.pass(t)
	for _, id := range jobs {
		if j := e.job(t, id); j.State != store.JobRunning {
			t.Fatalf("job %s: %+v", id, j)
		}
	}
	report := func(w float64) {
		for _, n := range nodes {
			if _, err := e.agent.Heartbeat(ctx, n, server.Heartbeat{DrawW: &w}); err != nil {
				t.Fatal(err)
			}
		}
	}
	report(10500) // 42 kW measured on a 42 kW rack
	e.clock.Advance(5 * time.Second)
	e.pass(t)
	lowest := e.job(t, jobs[0])
	if lowest.CapW <= 0 {
		t.Fatalf("the lowest-priority job was not capped: %+v", lowest)
	}
	// The same reading, seen again before the nodes report anew, caps
	// nothing more.
	e.pass(t)
	for _, id := range jobs[1:] {
		if j := e.job(t, id); j.CapW != 0 {
			t.Errorf("capped twice for one excess: %+v", j)
		}
	}
	if top := e.job(t, jobs[3]); top.CapW != 0 {
		t.Errorf("the highest-priority job was capped before the lowest: %+v", top)
	}
	evs, _ := e.st.Events(ctx, store.EventQuery{Job: jobs[0]})
	if last := evs[len(evs)-1]; last.Kind != "cap" || !strings.Contains(last.Message, "over-limit") {
		t.Errorf("cap event: %+v", last)
	}
	hb, err := e.agent.Heartbeat(ctx, lowest.Placement[0].Node, server.Heartbeat{})
	if err != nil || len(hb.Jobs) != 1 || hb.Jobs[0].CapW != lowest.CapW {
		t.Errorf("the node is not told its job's cap: %+v %v", hb, err)
	}
	report(6000) // 24 kW: room again
	e.clock.Advance(5 * time.Second)
	e.pass(t)
	if j := e.job(t, jobs[0]); j.CapW == 0 {
		t.Errorf("cap lifted before the controller settled: %+v", j)
	}
	e.clock.Advance(5 * time.Second)
	report(6000)
	e.pass(t)
	if j := e.job(t, jobs[0]); j.CapW != 0 {
		t.Errorf("cap not lifted: %+v", j)
	}
}

package agent

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"stargate/client"
	"stargate/fleet"
	"stargate/server"
	"stargate/store"
)

// spread places each pending job on the ready node with the most free
// accelerators, its lowest free ones, and never caps: the tests put caps
// themselves.
type spread struct{}

func (spread) Schedule(_ context.Context, in server.ScheduleInput) ([]server.Decision, error) {
	used := map[string]map[int]bool{}
	for _, j := range in.Running {
		for _, a := range j.Placement {
			if used[a.Node] == nil {
				used[a.Node] = map[int]bool{}
			}
			for _, d := range a.Accelerators {
				used[a.Node][d] = true
			}
		}
	}
	var out []server.Decision
	for _, j := range in.Pending {
		best, free := -1, 0
		for i, n := range in.Nodes {
			if f := n.Accelerators - len(used[n.Name]); n.State == store.NodeReady && f > free {
				best, free = i, f
			}
		}
		if best < 0 || free < j.Spec.Accelerators {
			break
		}
		n := in.Nodes[best]
		if used[n.Name] == nil {
			used[n.Name] = map[int]bool{}
		}
		var devs []int
		for d := 0; d < n.Accelerators && len(devs) < j.Spec.Accelerators; d++ {
			if !used[n.Name][d] {
				devs = append(devs, d)
				used[n.Name][d] = true
			}
		}
		out = append(out, server.Decision{Action: server.ActPlace, Job: j.ID,
			Placement: []store.Allocation{{Node: n.Name, Accelerators: devs}}})
	}
	return out, nil
}

// simCluster is an in-process server on SQLite and simulated nodes of
// the small fleet.
type simCluster struct {
	st    store.Store
	fl    *fleet.Fleet
	admin *client.Client
	sim   *Simulator
	mu    sync.Mutex
	seen  map[string]int // job ID -> starts seen
}

func newSimCluster(t *testing.T, nodes int) *simCluster {
	t.Helper()
	ctx := context.Background()
	ts := startTestServer(t, spread{})
	fl := ts.fl
	c := &simCluster{st: ts.st, fl: fl, admin: ts.admin, seen: map[string]int{}}
	names := make([]string, nodes)
	for i := range names {
		names[i] = fl.NodeName(i)
	}
	var err error
	c.sim, err = NewSimulator(SimConfig{Server: ts.url, JoinToken: ts.join, Nodes: names, Heartbeat: 100 * time.Millisecond,
		OnStart: func(_ string, j store.Job, _ time.Time) {
			c.mu.Lock()
			c.seen[j.ID]++
			c.mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	simCtx, stopSim := context.WithCancel(ctx)
	simDone := make(chan error, 1)
	go func() { simDone <- c.sim.Run(simCtx) }()
	t.Cleanup(func() {
		stopSim()
		if err := <-simDone; err != nil {
			t.Errorf("simulator: %v", err)
		}
		ts.stop()
	})
	return c
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// Simulated nodes register, report their fake devices' telemetry and the
// fleet model's draw, run a job for its duration to success, apply a cap
// and report a draw under it, and drop a cancelled job.
func TestSimulatedNodes(t *testing.T) {
	const nodes = 4
	c := newSimCluster(t, nodes)
	ctx := context.Background()
	m, acc := c.fl.NodeModel(0), c.fl.NodeAccelerator(0)
	idle := m.DrawW(acc, 0)

	// Every node registers and reports its idle draw, as the fleet model
	// has it, with one reading per accelerator.
	waitFor(t, "every node registered and reporting", func() bool {
		for i := range nodes {
			n, err := c.admin.Node(ctx, c.fl.NodeName(i))
			if err != nil || n.Telemetry == nil || len(n.Telemetry.Accelerators) != m.Accelerators || n.DrawW < 0 {
				return false
			}
			if n.Labels["simulated"] != "true" {
				t.Fatalf("node %s: labels %v", n.Name, n.Labels)
			}
		}
		return true
	})
	for i := range nodes {
		n, _ := c.admin.Node(ctx, c.fl.NodeName(i))
		if d := n.DrawW - idle; d < -0.01 || d > 0.01 {
			t.Errorf("node %s draws %.2f W idle; the fleet model says %.2f W", n.Name, n.DrawW, idle)
		}
	}

	// A one-second job runs to success.
	short, err := c.admin.SubmitSpec(ctx, store.JobSpec{Tenant: "acme", Accelerators: 2, DurationS: 1}, "")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the short job to succeed", func() bool {
		j, err := c.admin.Job(ctx, short.ID)
		return err == nil && j.State == store.JobSucceeded
	})
	j, _ := c.admin.Job(ctx, short.ID)
	if ran := j.EndedAt.Sub(j.StartedAt); ran < time.Second || ran > 5*time.Second {
		t.Errorf("the 1 s job ran %v (placed %v, ended %v)", ran, j.StartedAt, j.EndedAt)
	}

	// A long job at full power draws the fleet model's full load on its
	// node, until it is capped.
	long, err := c.admin.SubmitSpec(ctx, store.JobSpec{Tenant: "acme", Accelerators: m.Accelerators, DurationS: 600, Power: 1}, "")
	if err != nil {
		t.Fatal(err)
	}
	var node string
	waitFor(t, "the long job to run", func() bool {
		j, err := c.admin.Job(ctx, long.ID)
		if err != nil || j.State != store.JobRunning {
			return false
		}
		node = j.Placement[0].Node
		return true
	})
	full := m.DrawW(acc, 1)
	var n server.NodeDetail
	waitFor(t, "full draw on the long job's node", func() bool {
		n, err = c.admin.Node(ctx, node)
		return err == nil && n.DrawW > full-0.01
	})
	if n.DrawW > full+0.01 {
		t.Errorf("node %s draws %.2f W at full load; the fleet model says %.2f W", node, n.DrawW, full)
	}

	const capW = 400
	setCap := func(w float64) {
		t.Helper()
		for {
			cur, err := c.st.Job(ctx, long.ID)
			if err != nil {
				t.Fatal(err)
			}
			cur.CapW = w
			if err := c.st.Apply(ctx, store.Changes{Jobs: []store.Job{cur}}); err == nil {
				return
			} else if !errors.Is(err, store.ErrConflict) {
				t.Fatal(err)
			}
		}
	}
	setCap(capW)
	capped := float64(m.Accelerators)*capW + m.OverheadW // the devices at the cap, the node's overhead at full load
	waitFor(t, "the cap applied, acknowledged and drawn under", func() bool {
		n, err = c.admin.Node(ctx, node)
		if err != nil || n.Telemetry == nil || len(n.Telemetry.Caps) != 1 {
			return false
		}
		ack := n.Telemetry.Caps[0]
		return ack.Job == long.ID && ack.WantW == capW && ack.AppliedW == capW && ack.Error == "" && n.DrawW <= capped+0.01
	})
	for _, a := range n.Telemetry.Accelerators {
		if a.PowerW > capW+0.001 || a.CapW != capW {
			t.Errorf("accelerator %d draws %.1f W with cap %.0f W; want at most %d W", a.Index, a.PowerW, a.CapW, capW)
		}
	}

	// Cancelled, the job is dropped: its node goes back to idle.
	if _, err := c.admin.Cancel(ctx, long.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the node idle again", func() bool {
		n, err = c.admin.Node(ctx, node)
		return err == nil && n.DrawW < idle+0.01 && n.Telemetry != nil && len(n.Telemetry.Caps) == 0
	})

	c.mu.Lock()
	defer c.mu.Unlock()
	for id, k := range c.seen {
		if k != 1 {
			t.Errorf("job %s started %d times", id, k)
		}
	}
	if c.seen[short.ID] != 1 || c.seen[long.ID] != 1 {
		t.Errorf("starts seen: %v", c.seen)
	}
	st := c.sim.Stats()
	if st.Registered != nodes || st.Refused != 0 || st.Started != 2 || st.Finished != 1 || st.Running != 0 || st.Beats == 0 {
		t.Errorf("stats: %+v", st)
	}
}

// A node whose credential the server forgot registers again and beats on.
func TestSimulatedNodeRejoins(t *testing.T) {
	c := newSimCluster(t, 1)
	ctx := context.Background()
	name := c.fl.NodeName(0)
	waitFor(t, "the node to beat", func() bool { return c.sim.Stats().Beats > 0 })
	toks, err := c.admin.Tokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	revoked := false
	for _, tok := range toks {
		if tok.Role == store.RoleNode && tok.Node == name {
			if err := c.admin.RevokeToken(ctx, tok.ID); err != nil {
				t.Fatal(err)
			}
			revoked = true
		}
	}
	if !revoked {
		t.Fatalf("no credential of %s among %d tokens", name, len(toks))
	}
	waitFor(t, "a refused heartbeat", func() bool { return c.sim.Stats().BeatErrors > 0 })
	after := c.sim.Stats().Beats
	waitFor(t, "heartbeats again", func() bool { return c.sim.Stats().Beats > after+2 })
}

// The node's logic, without a server: an attempt starts once however
// often the reply lists it, a new attempt of the job starts anew, an
// attempt is reported succeeded once its run time is over, and a job the
// reply no longer lists is dropped.
func TestSimNodeStateMachine(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := fakeClock{&now}
	n := newSimNode("s/h/r/k/n1", time.Minute, slog.New(slog.DiscardHandler))
	hw := server.NodeHardware{Model: "dgx-h100", Accelerator: "h100-sxm", Vendor: "nvidia", Accelerators: 8, TDPW: 700, IdleW: 70,
		MemoryGB: 80, OverheadW: 2000, OverheadIdleW: 800}
	if err := n.connect(hw, clock); err != nil {
		t.Fatal(err)
	}
	job := store.Job{ID: "j1", State: store.JobRunning, Attempts: 1, Spec: store.JobSpec{Accelerators: 2, DurationS: 30, Power: 0.5},
		Placement: []store.Allocation{{Node: "s/h/r/k/n1", Accelerators: []int{2, 3}}}}
	reply := server.HeartbeatReply{Jobs: []store.Job{job}}
	if s := n.apply(reply, now); len(s) != 1 || s[0].ID != "j1" {
		t.Fatalf("first reply started %v", s)
	}
	if s := n.apply(reply, now.Add(time.Second)); len(s) != 0 {
		t.Fatalf("the same attempt started again: %v", s)
	}
	hb, keys := n.report(now.Add(10 * time.Second))
	if len(hb.Finished) != 0 || len(keys) != 0 {
		t.Fatalf("finished early: %+v", hb.Finished)
	}
	// Draw: two devices at half load, six idle, the overhead at their mean.
	want := 2*(70+0.5*630) + 6*70 + 800 + (1.0/8)*(2000-800)
	if hb.DrawW == nil || *hb.DrawW < want-0.01 || *hb.DrawW > want+0.01 {
		t.Errorf("draw %v, want %.2f", hb.DrawW, want)
	}
	hb, keys = n.report(now.Add(30 * time.Second))
	if len(hb.Finished) != 1 || hb.Finished[0] != (server.JobOutcome{Job: "j1", Attempt: 1, State: store.JobSucceeded}) {
		t.Fatalf("finished: %+v", hb.Finished)
	}
	if *hb.DrawW != 8*70+800 {
		t.Errorf("draw after the end %v, want idle %d", *hb.DrawW, 8*70+800)
	}
	n.reported(keys)
	if hb, _ = n.report(now.Add(31 * time.Second)); len(hb.Finished) != 0 {
		t.Errorf("reported twice: %+v", hb.Finished)
	}
	// The server still lists it (a gang's other node runs on): no restart.
	if s := n.apply(reply, now.Add(32*time.Second)); len(s) != 0 {
		t.Fatalf("an ended attempt started again: %v", s)
	}
	job.Attempts = 2
	if s := n.apply(server.HeartbeatReply{Jobs: []store.Job{job}}, now.Add(40*time.Second)); len(s) != 1 {
		t.Fatalf("the second attempt did not start: %v", s)
	}
	if n.running() != 1 || len(n.attempts) != 1 {
		t.Errorf("running %d, known %d; want the second attempt alone", n.running(), len(n.attempts))
	}
	n.apply(server.HeartbeatReply{}, now.Add(41*time.Second))
	if len(n.attempts) != 0 {
		t.Errorf("a job the reply no longer lists is kept: %v", n.attempts)
	}

	// A gang's share that ended well here (a process before this one ran
	// it) is not run again.
	gang := store.Job{ID: "g", State: store.JobRunning, Attempts: 1, Spec: store.JobSpec{Accelerators: 16},
		Placement: []store.Allocation{{Node: "other", Accelerators: []int{0, 1, 2, 3, 4, 5, 6, 7}},
			{Node: "s/h/r/k/n1", Accelerators: []int{0, 1, 2, 3, 4, 5, 6, 7}, Done: true}}}
	if s := n.apply(server.HeartbeatReply{Jobs: []store.Job{gang}}, now.Add(50*time.Second)); len(s) != 0 {
		t.Errorf("a share already done started: %v", s)
	}
	// A job without a power fraction runs its devices at DefaultLoad.
	gang.Placement[1].Done = false
	if s := n.apply(server.HeartbeatReply{Jobs: []store.Job{gang}}, now.Add(51*time.Second)); len(s) != 1 {
		t.Fatalf("the gang's share did not start: %v", s)
	}
	hb, _ = n.report(now.Add(52 * time.Second))
	want = 8*(70+DefaultLoad*630) + 800 + DefaultLoad*(2000-800)
	if *hb.DrawW < want-0.01 || *hb.DrawW > want+0.01 {
		t.Errorf("draw at the default load %.2f, want %.2f", *hb.DrawW, want)
	}
}

type fakeClock struct{ t *time.Time }

func (c fakeClock) Now() time.Time { return *c.t }

// A simulated job whose time limit is shorter than its duration ends at
// the limit, reported as a timeout.
func TestSimNodeTimeLimit(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n := newSimNode("s/h/r/k/n1", time.Minute, slog.New(slog.DiscardHandler))
	hw := server.NodeHardware{Model: "dgx-h100", Accelerator: "h100-sxm", Vendor: "nvidia", Accelerators: 8, TDPW: 700, IdleW: 70}
	if err := n.connect(hw, fakeClock{&now}); err != nil {
		t.Fatal(err)
	}
	job := store.Job{ID: "jl", State: store.JobRunning, Attempts: 1, Spec: store.JobSpec{Accelerators: 1, DurationS: 300, TimeLimitS: 60},
		Placement: []store.Allocation{{Node: "s/h/r/k/n1", Accelerators: []int{0}}}}
	n.apply(server.HeartbeatReply{Jobs: []store.Job{job}}, now)
	if hb, _ := n.report(now.Add(59 * time.Second)); len(hb.Finished) != 0 {
		t.Fatalf("ended before its limit: %+v", hb.Finished)
	}
	hb, _ := n.report(now.Add(60 * time.Second))
	if len(hb.Finished) != 1 || hb.Finished[0].State != store.JobTimeout {
		t.Errorf("at its limit: %+v, want a timeout", hb.Finished)
	}
}

// With a failure rate, about that fraction of job attempts fail part-way
// through with exit code 1, on one node of a gang only; the draw is the
// attempt's (the same for every node and every run of a seed), and a new
// attempt of the job draws anew.
func TestSimNodeFailures(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	hw := server.NodeHardware{Model: "dgx-h100", Accelerator: "h100-sxm", Vendor: "nvidia", Accelerators: 8, TDPW: 700, IdleW: 70}
	const nodes, rate, seed = 4, 0.2, 7
	sims := make([]*simNode, nodes)
	names := make([]string, nodes)
	for i := range sims {
		names[i] = "s/h/r/k/n" + string(rune('1'+i))
		sims[i] = newSimNode(names[i], time.Minute, slog.New(slog.DiscardHandler))
		sims[i].failRate, sims[i].seed = rate, seed
		if err := sims[i].connect(hw, fakeClock{&now}); err != nil {
			t.Fatal(err)
		}
	}
	// outcomes runs one attempt of a gang over all nodes to its end and
	// returns, by node, what each reported and when.
	outcomes := func(id string, attempt int) (states []store.JobState, ends []time.Duration, msgs []string) {
		job := store.Job{ID: id, State: store.JobRunning, Attempts: attempt, Spec: store.JobSpec{Accelerators: 8 * nodes, DurationS: 100}}
		for _, name := range names {
			job.Placement = append(job.Placement, store.Allocation{Node: name, Accelerators: []int{0, 1, 2, 3, 4, 5, 6, 7}})
		}
		states, ends, msgs = make([]store.JobState, nodes), make([]time.Duration, nodes), make([]string, nodes)
		for i, n := range sims {
			n.apply(server.HeartbeatReply{Jobs: []store.Job{job}}, now)
			for s := time.Duration(0); s <= 100*time.Second && states[i] == ""; s += time.Second {
				hb, keys := n.report(now.Add(s))
				if len(hb.Finished) > 0 {
					states[i], ends[i], msgs[i] = hb.Finished[0].State, s, hb.Finished[0].Message
					n.reported(keys)
				}
			}
			n.apply(server.HeartbeatReply{}, now) // the server drops it
		}
		return states, ends, msgs
	}
	const attempts = 1000
	failedAttempts := 0
	for a := range attempts {
		id := "job-" + strconv.Itoa(a)
		states, ends, msgs := outcomes(id, 1)
		failedNodes := 0
		for i, st := range states {
			switch {
			case st == store.JobFailed:
				failedNodes++
				if ends[i] < 10*time.Second || ends[i] > 90*time.Second || msgs[i] != "exit code 1" {
					t.Fatalf("%s failed on node %d after %v (%q); want 10%%-90%% into its 100 s, exit code 1", id, i, ends[i], msgs[i])
				}
			case st != store.JobSucceeded || ends[i] != 100*time.Second:
				t.Fatalf("%s on node %d: %s after %v, want succeeded after 100s", id, i, st, ends[i])
			}
		}
		if failedNodes > 1 {
			t.Fatalf("%s failed on %d nodes of its gang; one process fails, the server stops the rest", id, failedNodes)
		}
		failedAttempts += failedNodes
		// The same attempt draws the same; the next draws anew.
		if again, _, _ := outcomes(id, 1); !slices.Equal(again, states) {
			t.Fatalf("%s drew %v, then %v", id, states, again)
		}
	}
	// 1000 attempts at 0.2: 200 expected, standard deviation about 13.
	if failedAttempts < 150 || failedAttempts > 250 {
		t.Errorf("%d of %d attempts failed at a rate of %g", failedAttempts, attempts, rate)
	}
	differ := 0
	for a := range 100 {
		s1, _, _ := outcomes("job-"+strconv.Itoa(a), 1)
		s2, _, _ := outcomes("job-"+strconv.Itoa(a), 2)
		if !slices.Equal(s1, s2) {
			differ++
		}
	}
	if differ == 0 {
		t.Error("a job's second attempt always draws what its first did")
	}

	// Without a rate, nothing fails; a rate out of range is refused.
	for i := range sims {
		sims[i].failRate = 0
	}
	for a := range 100 {
		if states, _, _ := outcomes("job-"+strconv.Itoa(a), 1); slices.Contains(states, store.JobFailed) {
			t.Fatalf("job-%d failed without a failure rate", a)
		}
	}
	for _, r := range []float64{-0.1, 1.5} {
		if _, err := NewSimulator(SimConfig{Server: "http://127.0.0.1:1", JoinToken: "x", Nodes: names, FailureRate: r}); err == nil {
			t.Errorf("failure rate %g accepted", r)
		}
	}
}

// A time limit shorter than the failure point ends the attempt as a
// timeout, not a failure.
func TestSimNodeFailureAfterTimeLimit(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	hw := server.NodeHardware{Model: "dgx-h100", Accelerator: "h100-sxm", Vendor: "nvidia", Accelerators: 8, TDPW: 700, IdleW: 70}
	n := newSimNode("s/h/r/k/n1", time.Minute, slog.New(slog.DiscardHandler))
	n.failRate, n.seed = 1, 3
	if err := n.connect(hw, fakeClock{&now}); err != nil {
		t.Fatal(err)
	}
	job := store.Job{ID: "jt", State: store.JobRunning, Attempts: 1, Spec: store.JobSpec{Accelerators: 1, DurationS: 1000, TimeLimitS: 50},
		Placement: []store.Allocation{{Node: "s/h/r/k/n1", Accelerators: []int{0}}}}
	n.apply(server.HeartbeatReply{Jobs: []store.Job{job}}, now)
	hb, _ := n.report(now.Add(50 * time.Second))
	if len(hb.Finished) != 1 || hb.Finished[0].State != store.JobTimeout {
		t.Errorf("at its 50 s limit, failing at 100 s or later: %+v, want a timeout", hb.Finished)
	}
}

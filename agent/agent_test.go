package agent

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"stargate/client"
	"stargate/server"
	"stargate/store"
)

// TestMain lets the agent under test start this test binary as a job's
// supervisor: with STARGATE_TEST_SHIM set, it is one.
func TestMain(m *testing.M) {
	if os.Getenv("STARGATE_TEST_SHIM") == "1" {
		if err := RunShim(os.Args[len(os.Args)-1]); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// firstFree places each pending job on one node's lowest free
// accelerators, and never caps: the tests put caps themselves.
type firstFree struct{ node string }

func (f firstFree) Schedule(_ context.Context, in server.ScheduleInput) ([]server.Decision, error) {
	used := map[int]bool{}
	for _, j := range in.Running {
		for _, a := range j.Placement {
			for _, d := range a.Accelerators {
				used[d] = true
			}
		}
	}
	var out []server.Decision
	for _, j := range in.Pending {
		var devs []int
		for d := 0; d < 8 && len(devs) < j.Spec.Accelerators; d++ {
			if !used[d] {
				devs = append(devs, d)
			}
		}
		if len(devs) < j.Spec.Accelerators {
			break
		}
		for _, d := range devs {
			used[d] = true
		}
		out = append(out, server.Decision{Action: server.ActPlace, Job: j.ID,
			Placement: []store.Allocation{{Node: f.node, Accelerators: devs}}})
	}
	return out, nil
}

// cluster is an in-process server on SQLite with the engine, and an
// agent running node n1 of the small fleet with fake devices.
type cluster struct {
	st    store.Store
	srv   *server.Server
	admin *client.Client
	node  string
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	t.Setenv("STARGATE_TEST_SHIM", "1") // the supervisors inherit it
	ctx := context.Background()
	dir := t.TempDir()
	ts := startTestServer(t, firstFree{node: "lab/hall-a/row-1/rack-1/n1"})
	c := &cluster{st: ts.st, admin: ts.admin, node: "lab/hall-a/row-1/rack-1/n1"}
	a, err := New(Config{Server: ts.url, JoinToken: ts.join, Node: c.node, Address: "127.0.0.1", DataDir: filepath.Join(dir, "agent"),
		Devices: "fake", Heartbeat: 50 * time.Millisecond, Shim: []string{os.Args[0]}})
	if err != nil {
		t.Fatal(err)
	}
	actx, stopAgent := context.WithCancel(ctx)
	agentDone := make(chan error, 1)
	go func() { agentDone <- a.Run(actx) }()
	t.Cleanup(func() {
		// Stop what runs: cancel every job, let the agent stop them.
		if l, err := c.admin.Jobs(ctx, client.JobQuery{States: []string{"running", "pending"}}); err == nil {
			for _, j := range l.Jobs {
				c.admin.Cancel(ctx, j.ID)
			}
		}
		time.Sleep(300 * time.Millisecond)
		stopAgent()
		<-agentDone
		ts.stop()
	})
	return c
}

func (c *cluster) wait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// A cap the server puts on a running job reaches the node's fake devices
// within a heartbeat: their reported draw falls to the cap, the agent
// acknowledges it, and lifting it restores the draw.
func TestCapLowersFakeDraw(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	j, err := c.admin.SubmitSpec(ctx, store.JobSpec{Tenant: "acme", Accelerators: 4, Power: 1,
		Command: []string{"sleep", "30"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	var n server.NodeDetail
	busy := func() bool {
		n, err = c.admin.Node(ctx, c.node)
		if err != nil || n.Telemetry == nil {
			return false
		}
		hot := 0
		for _, a := range n.Telemetry.Accelerators {
			if a.PowerW > 650 {
				hot++
			}
		}
		return hot == 4
	}
	c.wait(t, "four accelerators drawing near TDP", busy)
	before := n.DrawW

	// The power controller's decision, as the reconcile loop commits it.
	const capW = 400
	setCap := func(w float64) {
		t.Helper()
		for {
			cur, err := c.st.Job(ctx, j.ID)
			if err != nil {
				t.Fatal(err)
			}
			cur.CapW = w
			err = c.st.Apply(ctx, store.Changes{Jobs: []store.Job{cur}})
			if err == nil {
				return
			}
		}
	}
	setCap(capW)
	c.wait(t, "the cap applied and acknowledged", func() bool {
		n, err = c.admin.Node(ctx, c.node)
		if err != nil || n.Telemetry == nil || len(n.Telemetry.Caps) != 1 {
			return false
		}
		ack := n.Telemetry.Caps[0]
		capped := 0
		for _, a := range n.Telemetry.Accelerators {
			if a.CapW == capW && a.PowerW <= capW {
				capped++
			}
		}
		return ack.Job == j.ID && ack.WantW == capW && ack.AppliedW == capW && ack.Error == "" && capped == 4
	})
	for _, a := range n.Telemetry.Accelerators {
		if a.PowerW > capW+0.001 {
			t.Errorf("accelerator %d draws %.0f W over its %d W cap", a.Index, a.PowerW, capW)
		}
	}
	c.wait(t, "the node's draw to fall", func() bool {
		n, err = c.admin.Node(ctx, c.node)
		return err == nil && n.DrawW > 0 && n.DrawW <= before-4*(700-capW)+1
	})

	// An impossible cap is refused by the device, and said so.
	setCap(50)
	c.wait(t, "the refusal acknowledged", func() bool {
		n, err = c.admin.Node(ctx, c.node)
		return err == nil && n.Telemetry != nil && len(n.Telemetry.Caps) == 1 && n.Telemetry.Caps[0].WantW == 50 && n.Telemetry.Caps[0].Error != ""
	})

	setCap(0)
	c.wait(t, "the cap lifted", busy)

	// A cap ends with its job: the next job on the same devices, which the
	// server holds uncapped, draws as much as it asks.
	setCap(capW)
	c.wait(t, "capped again", func() bool {
		n, err = c.admin.Node(ctx, c.node)
		return err == nil && n.Telemetry != nil && len(n.Telemetry.Caps) == 1 && n.Telemetry.Caps[0].AppliedW == capW
	})
	if _, err := c.admin.Cancel(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	next, err := c.admin.SubmitSpec(ctx, store.JobSpec{Tenant: "blue", Accelerators: 4, Power: 1,
		Command: []string{"sleep", "30"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	c.wait(t, "the next job on the same devices, uncapped", func() bool {
		nj, err := c.admin.Job(ctx, next.ID)
		return err == nil && nj.State == store.JobRunning && busy()
	})
	for _, a := range n.Telemetry.Accelerators[:4] {
		if a.CapW != 0 {
			t.Errorf("accelerator %d kept a cap of %.0f W into the next job", a.Index, a.CapW)
		}
	}
}

package main

import (
	"context"
	"os"
	"stargate/internal/pgtest"
	"syscall"
	"testing"
	"time"

	"stargate/client"
	"stargate/server"
	"stargate/store"
)

// waitLeader polls a replica's /healthz until its leadership is want.
func waitLeader(t *testing.T, c *client.Client, want bool, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		leader, err := c.Healthz(context.Background())
		if err == nil && leader == want {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("%s: leader=%v not reached in %v (last: %v, %v)", c.Base, want, within, leader, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitRunning polls until a job runs.
func waitRunning(t *testing.T, c *client.Client, id string) {
	t.Helper()
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		j, err := c.Job(context.Background(), id)
		if err == nil && j.State == store.JobRunning {
			return
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("job %s not running after 10s: %+v %v", id, j, err)
		}
	}
}

// TestFailover runs two replicas on one PostgreSQL database, kills the
// leader with SIGKILL and checks that the other takes over within the
// lease's bound while both serve the API.
func TestFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	dsn := pgtest.Schema(t)
	const ttl = time.Second
	common := []string{"--store", dsn, "--leader-ttl", ttl.String(), "--reconcile-every", "100ms"}
	dirA, dirB := t.TempDir(), t.TempDir()
	a := startServer(t, append(common, "--data", dirA, "--id", "a")...)
	token := readToken(t, dirA)
	ca := client.New(a.url, token)
	waitLeader(t, ca, true, 5*time.Second)

	b := startServer(t, append(common, "--data", dirB, "--id", "b")...)
	if _, err := os.Stat(dirB + "/admin.token"); err == nil {
		t.Errorf("the second replica minted another admin token")
	}
	cb := client.New(b.url, token)
	if leader, err := cb.Healthz(context.Background()); err != nil || leader {
		t.Fatalf("b: leader=%v err=%v; want a follower", leader, err)
	}
	// Both serve the API on the same state, and the leader schedules.
	const node = "lab/hall-a/row-1/rack-1/n1"
	if _, err := cb.Register(context.Background(), server.NodeRegistration{Name: node}); err != nil {
		t.Fatal(err)
	}
	j, _, err := cb.Submit(context.Background(), []byte(`{"tenant":"acme","accelerators":4}`), "", "k1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Job(context.Background(), j.ID); err != nil {
		t.Fatalf("a does not see b's job: %v", err)
	}
	waitRunning(t, cb, j.ID)

	a.kill()
	bound := ttl + ttl/3 + time.Second // lease expiry + one renewal period + slack for a loaded machine
	took := waitLeader(t, cb, true, 3*bound)
	if took > bound {
		t.Errorf("takeover took %v, bound %v", took, bound)
	}
	t.Logf("takeover after kill -9 of the leader: %v (lease %v)", took.Round(time.Millisecond), ttl)
	st, err := cb.Status(context.Background())
	if err != nil || !st.Leader || st.Epoch < 2 {
		t.Errorf("b's status after takeover: %+v %v", st, err)
	}
	// The job that ran under the old leader runs on, once: not requeued,
	// not placed a second time.
	if got, err := cb.Job(context.Background(), j.ID); err != nil || got.State != store.JobRunning || got.Attempts != 1 {
		t.Errorf("after takeover, job %s: state %s, attempts %d, err %v; want running once", j.ID, got.State, got.Attempts, err)
	}

	// The new leader schedules.
	j2, _, err := cb.Submit(context.Background(), []byte(`{"tenant":"acme","accelerators":4}`), "", "k2")
	if err != nil {
		t.Fatal(err)
	}
	waitRunning(t, cb, j2.ID)

	// The old leader comes back as a follower.
	a2 := startServer(t, append(common, "--data", dirA, "--id", "a")...)
	ca2 := client.New(a2.url, token)
	// Exactly one leader, watched for two lease periods.
	for deadline := time.Now().Add(2 * ttl); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		la, _ := ca2.Healthz(context.Background())
		lb, _ := cb.Healthz(context.Background())
		if la || !lb {
			t.Fatalf("leaders: restarted a=%v, b=%v; want b alone", la, lb)
		}
	}

	// A leader that stops gracefully (SIGTERM) gives the lease up: the
	// follower takes over without waiting for it to expire.
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(15 * time.Second):
		t.Fatal("b did not stop on SIGTERM")
	}
	took = waitLeader(t, ca2, true, 3*bound)
	if took >= ttl {
		t.Errorf("takeover after a graceful stop took %v: the lease was not released", took)
	}
	t.Logf("takeover after a graceful stop: %v", took.Round(time.Millisecond))
}

package main

import (
	"context"
	"fmt"
	"stargate/internal/pgtest"
	"sync"
	"testing"
	"time"

	"stargate/client"
	"stargate/server"
	"stargate/store"
)

// TestCrashKeepsAcknowledgedJobs submits under load to a real server
// process that schedules onto registered nodes, kills it with SIGKILL
// mid-stream, restarts it on the same data directory and checks that
// every acknowledged job is there, that every allocation seen before the
// kill is intact, that scheduling resumes, and that retrying every submit
// with its idempotency key creates no duplicate.
func TestCrashKeepsAcknowledgedJobs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	t.Run("sqlite", func(t *testing.T) { crashAndRestart(t) })
	t.Run("postgres", func(t *testing.T) { crashAndRestart(t, "--store", pgtest.Schema(t)) })
}

// crashAndRestart is the crash test on the store that extra selects (the
// data directory's SQLite by default).
func crashAndRestart(t *testing.T, extra ...string) {
	dir := t.TempDir()
	args := append([]string{"--data", dir, "--reconcile-every", "50ms"}, extra...)
	p := startServer(t, args...)
	c := client.New(p.url, readToken(t, dir))
	ctx := context.Background()
	// The small fleet's 16 nodes of 8 accelerators register.
	var nodes []string
	for row := 1; row <= 2; row++ {
		for rack := 1; rack <= 2; rack++ {
			for n := 1; n <= 4; n++ {
				name := fmt.Sprintf("lab/hall-a/row-%d/rack-%d/n%d", row, rack, n)
				if _, err := c.Register(ctx, server.NodeRegistration{Name: name}); err != nil {
					t.Fatal(err)
				}
				nodes = append(nodes, name)
			}
		}
	}

	const workers = 16
	var (
		mu        sync.Mutex
		acked     = map[string]string{} // idempotency key -> job ID
		attempted []string
		wg        sync.WaitGroup
		killed    = make(chan struct{})
	)
	for w := 0; w < workers; w++ {
		wg.Go(func() {
			for i := 0; ; i++ {
				key := fmt.Sprintf("crash-%d-%d", w, i)
				mu.Lock()
				attempted = append(attempted, key)
				mu.Unlock()
				spec := fmt.Sprintf(`{"name":%q,"tenant":"acme","accelerators":8}`, key)
				j, _, err := c.Submit(ctx, []byte(spec), "application/json", key)
				if err == nil {
					mu.Lock()
					acked[key] = j.ID
					mu.Unlock()
					continue
				}
				select {
				case <-killed:
					return // the server is gone: stop
				default:
					t.Errorf("submit before the kill: %v", err)
					return
				}
			}
		})
	}
	// Let the load run, then kill the server in the middle of it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 500 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Allocations committed before the kill: one job per node.
	var before server.JobList
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		var err error
		if before, err = c.Jobs(ctx, client.JobQuery{States: []string{"running"}, Limit: 1000}); err != nil {
			t.Fatal(err)
		}
		if len(before.Jobs) == len(nodes) {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("%d jobs running before the kill, want one per node (%d)", len(before.Jobs), len(nodes))
		}
	}
	close(killed)
	p.kill()
	wg.Wait()
	if len(acked) < 100 {
		t.Fatalf("only %d submits acknowledged before the kill", len(acked))
	}

	p2 := startServer(t, args...)
	c2 := client.New(p2.url, c.Token)
	for _, j := range before.Jobs {
		got, err := c2.Job(ctx, j.ID)
		if err != nil || got.State != store.JobRunning || fmt.Sprint(got.Placement) != fmt.Sprint(j.Placement) {
			t.Fatalf("allocation of %s lost: before %v, after %v %v (%v)", j.ID, j.Placement, got.State, got.Placement, err)
		}
		evs, err := c2.JobEvents(ctx, j.ID)
		if err != nil || len(evs) == 0 || evs[0].Kind != "placed" {
			t.Fatalf("events of %s: %+v %v", j.ID, evs, err)
		}
	}
	// Scheduling resumes: free a node and a waiting job takes it.
	freed := before.Jobs[0]
	if _, err := c2.Cancel(ctx, freed.ID); err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		page, err := c2.Jobs(ctx, client.JobQuery{States: []string{"running"}, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		placed := false
		for _, j := range page.Jobs {
			placed = placed || (j.ID != freed.ID && j.Placement[0].Node == freed.Placement[0].Node)
		}
		if placed {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("no job took the freed node %s after the restart", freed.Placement[0].Node)
		}
	}
	for key, id := range acked {
		j, err := c2.Job(ctx, id)
		if err != nil {
			t.Fatalf("acknowledged job %s (%s) lost after kill -9: %v", id, key, err)
		}
		if j.Spec.Name != key {
			t.Fatalf("job %s: name %q, want %q", id, j.Spec.Name, key)
		}
	}
	// Retrying every submit, acknowledged or not, is safe.
	for _, key := range attempted {
		spec := fmt.Sprintf(`{"name":%q,"tenant":"acme","accelerators":8}`, key)
		j, replayed, err := c2.Submit(ctx, []byte(spec), "application/json", key)
		if err != nil {
			t.Fatalf("retry %s: %v", key, err)
		}
		if id, ok := acked[key]; ok && (!replayed || j.ID != id) {
			t.Fatalf("retry of acknowledged %s: job %s replayed=%v, want %s replayed", key, j.ID, replayed, id)
		}
	}
	total := 0
	for q := (client.JobQuery{Limit: 1000}); ; {
		page, err := c2.Jobs(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		total += len(page.Jobs)
		if page.Next == "" {
			break
		}
		q.After = page.Next
	}
	if total != len(attempted) {
		t.Errorf("%d jobs stored for %d distinct idempotency keys", total, len(attempted))
	}
	t.Logf("%d submits acknowledged before kill -9, %d attempted; all acknowledged present after restart", len(acked), len(attempted))
}

package hostile

import (
	"context"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"stargate/api"
	"stargate/client"
)

// Row 2: a server restarted over a large queue keeps scheduling: no pass
// fails, and a priority-1000 job next to a free node is placed at once.
// The row had a million pending jobs; the suite replays it with 20,000
// (`stargate bench api --pass-queued 2000000` measures two million, and
// the memory each pending job costs).
func TestRowLargeQueueRestarted(t *testing.T) {
	stores(t, func(t *testing.T, dsn string) {
		const queued = 20_000
		flags := []string{"--data", t.TempDir(), "--reconcile-every", "200ms"}
		s := start(t, dsn, flags...)
		register(t, s, n1, n2)
		ctx := context.Background()
		c := client.New(s.url, s.admin)
		var next, failed atomic.Int64
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				for next.Add(1) <= queued {
					if _, err := c.SubmitSpec(ctx, api.JobSpec{Tenant: "acme", Accelerators: 8, DurationS: 3600}, ""); err != nil {
						if failed.Add(1) == 1 {
							t.Errorf("submit: %v", err)
						}
					}
				}
			})
		}
		wg.Wait()
		if failed.Load() > 0 {
			t.Fatalf("%d of %d submits failed", failed.Load(), queued)
		}

		// A graceful stop gives the lease up: the new process leads at once.
		if err := s.cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		s.cmd.Wait()
		s = start(t, dsn, flags...)
		c = client.New(s.url, s.admin)
		register(t, s, "lab/hall-a/row-1/rack-2/n1") // a free node
		t0 := time.Now()
		j, err := c.SubmitSpec(ctx, api.JobSpec{Tenant: "blue", Accelerators: 8, Priority: 1000}, "")
		if err != nil {
			t.Fatal(err)
		}
		var got api.Job
		for time.Since(t0) < 20*time.Second {
			if got, err = c.Job(ctx, j.ID); err != nil {
				t.Fatal(err)
			}
			if got.State == "running" {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if got.State != "running" {
			t.Fatalf("a priority-1000 job next to a free node, behind %d queued, not placed in %v: %s %v\n%s",
				queued, time.Since(t0), got.State, got.Reasons, s.logText())
		}
		t.Logf("placed %v after its submit, behind %d queued jobs; server RSS %.0f MiB", time.Since(t0).Round(time.Millisecond), queued, s.rssMiB(t))
		if log := s.logText(); strings.Contains(log, "reconcile pass failed") {
			t.Errorf("passes failed over the queue:\n%s", log)
		}
	})
}

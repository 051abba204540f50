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
// fails, and a priority-1000 job next to a free node is placed at once,
// before the new leader has read the queue. The row had a million pending
// jobs; the suite replays it with 20,000, read 100 a pass (`stargate bench
// api --pass-queued 2000000` measures two million, and the memory each
// pending job costs).
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
		s = start(t, dsn, append(flags, "--read-per-pass", "100")...)
		c = client.New(s.url, s.admin)
		t0 := time.Now()
		j, err := c.SubmitSpec(ctx, api.JobSpec{Tenant: "blue", Accelerators: 8, Priority: 1000}, "")
		if err != nil {
			t.Fatal(err)
		}
		// A node comes free: it is the priority-1000 job's, not one of the
		// queue's read so far (a node free before the job came would be).
		register(t, s, "lab/hall-a/row-1/rack-2/n1")
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
		// It was placed while the queue was read: passes that read more
		// of it came after (the log's times are to the millisecond).
		later := 0
		for _, at := range logTimes(s.logText(), `msg="reading the queue"`) {
			if at.After(got.StartedAt.Add(time.Millisecond)) {
				later++
			}
		}
		if later < 2 {
			t.Errorf("the priority-1000 job was placed at %v, after all but %d passes that read the queue\n%s", got.StartedAt, later, s.logText())
		}
		if log := s.logText(); strings.Contains(log, "reconcile pass failed") {
			t.Errorf("passes failed over the queue:\n%s", log)
		}
	})
}

// logTimes are the times of the log lines holding a text.
func logTimes(log, text string) []time.Time {
	var out []time.Time
	for _, line := range strings.Split(log, "\n") {
		v, ok := strings.CutPrefix(strings.TrimSpace(line), "time=")
		if !ok || !strings.Contains(line, text) {
			continue
		}
		if t, err := time.Parse(time.RFC3339Nano, strings.Fields(v)[0]); err == nil {
			out = append(out, t)
		}
	}
	return out
}

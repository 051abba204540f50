package sim

import (
	"testing"

	"stargate/engine"
	"stargate/examples"
	"stargate/trace"
)

// The default run of `stargate sim` (the built-in example fleet, the
// default workload) must queue, or every queue policy gives the same run
// and --compare shows nothing: fifo holds jobs behind a blocked head,
// backfill lets some past it, fair starts whatever fits.
func TestDefaultWorkloadQueues(t *testing.T) {
	f, err := examples.Fleet("stargate")
	if err != nil {
		t.Fatal(err)
	}
	syn := DefaultWorkload(f.Accelerators, Default().Seed)
	g, err := trace.NewGenerator(syn)
	if err != nil {
		t.Fatal(err)
	}
	jobs := g.All()
	policies := []string{"fifo", "backfill", "fair"}
	if testing.Short() {
		policies = []string{"fifo", "fair"} // backfill's reservations cost most of the time
	}
	wait := map[string]float64{}
	for _, p := range policies {
		cfg := Default()
		cfg.Engine = engine.Config{Queue: p}
		s, err := New(f, jobs, cfg)
		if err != nil {
			t.Fatal(err)
		}
		res := s.Run()
		if res.JobsCompleted != len(jobs) {
			t.Errorf("%s: %d of %d jobs completed", p, res.JobsCompleted, len(jobs))
		}
		if res.MaxQueued == 0 {
			t.Errorf("%s: nothing ever queued", p)
		}
		wait[p] = res.AvgWait
		t.Logf("%s: avg wait %.0f s, avg JCT %.0f s, at most %d queued", p, res.AvgWait, res.AvgJCT, res.MaxQueued)
	}
	// A wait of a pass interval or two is no queue: fifo must wait minutes.
	if wait["fifo"] < 300 {
		t.Errorf("fifo waits %.0f s on average: the default load hardly queues", wait["fifo"])
	}
	if wait["fair"] > wait["fifo"]/2 {
		t.Errorf("fair waits %.0f s, fifo %.0f s: the policies hardly differ", wait["fair"], wait["fifo"])
	}
	if b, ok := wait["backfill"]; ok && (b >= wait["fifo"] || b <= wait["fair"]) {
		t.Errorf("backfill waits %.0f s, not between fair (%.0f s) and fifo (%.0f s)", b, wait["fair"], wait["fifo"])
	}
}

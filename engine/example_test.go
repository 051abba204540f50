package engine_test

import (
	"fmt"
	"time"

	"stargate/engine"
	"stargate/examples"
	"stargate/fleet"
)

// A driver's loop: build a snapshot of the fleet, submit jobs, ask for
// decisions at now, carry them out, report what ends.
func Example() {
	r, _ := examples.Open("small") // 128 H100s
	defer r.Close()
	f, _ := fleet.Parse(r)
	snap, _ := engine.NewSnapshot(f)
	eng, _ := engine.New(engine.Config{Queue: "backfill"})

	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	eng.Submit(engine.Job{ID: 1, Tenant: "research", Accelerators: 96, Duration: time.Hour}, now)
	eng.Submit(engine.Job{ID: 2, Tenant: "research", Accelerators: 64, Duration: time.Hour}, now)
	eng.Submit(engine.Job{ID: 3, Tenant: "product", Accelerators: 8, Duration: 30 * time.Minute}, now)

	show := func(res engine.Result) {
		for _, d := range res.Decisions {
			fmt.Printf("%s job %d on %d nodes (%s)\n", d.Action, d.Job, len(d.Slots), snap.Describe(d.Reason))
		}
		for _, w := range res.Waiting {
			fmt.Printf("job %d waits: %s\n", w.Job, snap.Describe(w.Reason))
		}
	}
	show(eng.Schedule(snap, now))

	now = now.Add(time.Hour)
	snap.Release(1, now) // job 1 ended
	snap.Release(3, now)
	show(eng.Schedule(snap, now))
	// Output:
	// place job 1 on 12 nodes (fits)
	// place job 3 on 1 nodes (backfilled)
	// job 2 waits: insufficient-free
	// place job 2 on 8 nodes (fits)
}

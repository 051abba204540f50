package engine

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"stargate/fleet"
)

// runStream drives the engine on the small example for a day: the site
// starts full of 8-GPU jobs, four more arrive every five minutes (each
// runs 20 to 40 minutes, so that they end at different times), and at +10m a gang that needs all 128 GPUs arrives.
// It returns when the gang started, or false if it never did.
func runStream(t *testing.T, queue string) (time.Duration, bool) {
	f := loadExample(t, "small")
	s, err := NewSnapshot(f)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{Queue: queue})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ends := map[JobID]time.Time{}
	id := JobID(0)
	small := func(now time.Time) {
		id++
		if err := e.Submit(Job{ID: id, Tenant: "t", Accelerators: 8, Duration: time.Duration(20+id%21) * time.Minute}, now); err != nil {
			t.Fatal(err)
		}
	}
	const gang = JobID(1 << 40)
	for now := start; now.Sub(start) < 24*time.Hour; now = now.Add(time.Minute) {
		var ended []JobID
		for j, end := range ends {
			if !end.After(now) {
				ended = append(ended, j)
			}
		}
		slices.Sort(ended) // the same order every run
		for _, j := range ended {
			s.Release(j, now)
			delete(ends, j)
		}
		m := int(now.Sub(start) / time.Minute)
		if m == 0 {
			for range 16 {
				small(now)
			}
		}
		if m%5 == 0 {
			for range 4 {
				small(now)
			}
		}
		if m == 10 {
			if err := e.Submit(Job{ID: gang, Tenant: "t", Accelerators: 128, Duration: time.Hour}, now); err != nil {
				t.Fatal(err)
			}
		}
		for _, d := range e.Schedule(s, now).Decisions {
			if d.Action != Place {
				continue
			}
			if d.Job == gang {
				return now.Sub(start), true
			}
			a, _ := s.Alloc(d.Job)
			ends[d.Job] = now.Add(a.Job.Duration)
		}
	}
	return 0, false
}

// TestBackfillHeadNotStarved shows why backfill exists: under greedy
// priority order a stream of small jobs keeps a 128-GPU gang waiting all
// day; under backfill the gang starts as soon as the jobs running when it
// arrived have ended.
func TestBackfillHeadNotStarved(t *testing.T) {
	if at, ok := runStream(t, "priority"); ok {
		t.Logf("priority: the gang started at +%v (expected starvation, but the stream let it through)", at)
	}
	at, ok := runStream(t, "backfill")
	if !ok {
		t.Fatal("backfill: the gang never started")
	}
	if at > 10*time.Minute+time.Hour {
		t.Fatalf("backfill: the gang started at +%v; want within an hour of its arrival at +10m", at)
	}
	t.Logf("backfill: the gang started at +%v", at)
	if at, ok := runStream(t, "priority"); ok {
		t.Fatalf("priority: the gang started at +%v; the scenario no longer shows starvation", at)
	}
}

// TestBackfillHoldsWattsForTheHead: a reservation holds the watts the head
// will draw along its power path, not only its pool's accelerators. The
// H100 head waits for the H100 node (busy for an hour at low power); a
// 10-hour B200 job, in another pool but under the same row breaker, fits
// now but would leave the row without the head's watts in an hour, so it
// must not be backfilled ahead of the head.
func TestBackfillHoldsWattsForTheHead(t *testing.T) {
	f := loadTestdata(t, "mixed-row.yaml")
	s, e := backfillOn(t, f)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, j := range []Job{
		{ID: 1, Tenant: "t", Priority: 2, Accelerators: 8, Model: "h100", Duration: time.Hour, PowerFraction: 0.3},
		{ID: 2, Tenant: "t", Priority: 1, Accelerators: 8, Model: "h100", Duration: time.Hour},
		{ID: 3, Tenant: "t", Priority: 0, Accelerators: 8, Model: "b200", Duration: 10 * time.Hour},
	} {
		if err := e.Submit(j, t0); err != nil {
			t.Fatal(err)
		}
	}
	started := map[JobID]time.Time{}
	ends := map[JobID]time.Time{}
	for now := t0; now.Sub(t0) <= 12*time.Hour; now = now.Add(10 * time.Minute) {
		for id, end := range ends {
			if !end.After(now) {
				s.Release(id, now)
				delete(ends, id)
			}
		}
		for _, d := range e.Schedule(s, now).Decisions {
			if d.Action == Place {
				started[d.Job] = now
				a, _ := s.Alloc(d.Job)
				ends[d.Job] = now.Add(a.Job.Duration)
			}
		}
	}
	if at, ok := started[2]; !ok || at.Sub(t0) != time.Hour {
		t.Fatalf("head 2 started at +%v (started=%v); want +1h, when job 1 ends", at.Sub(t0), ok)
	}
	if at := started[3]; at.Sub(t0) < time.Hour {
		t.Fatalf("job 3 (10 h of B200 under the head's row) was backfilled at +%v, ahead of the head", at.Sub(t0))
	}
}

// TestReservationWaitsForOtherPools: what holds the head back may be the
// draw of another node model under the same breaker. The H100 node is
// free, but a B200 job at full power leaves the row too little for the
// H100 head until it ends at +1h; the reservation must say so, not give
// up for want of an H100 job that ends.
func TestReservationWaitsForOtherPools(t *testing.T) {
	f := loadTestdata(t, "mixed-row.yaml")
	s, e := backfillOn(t, f)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := e.Submit(Job{ID: 1, Tenant: "t", Priority: 2, Accelerators: 8, Model: "b200", Duration: time.Hour}, t0); err != nil {
		t.Fatal(err)
	}
	if r := e.Schedule(s, t0); r.Placed != 1 {
		t.Fatalf("the B200 job did not start: %+v", r)
	}
	if err := e.Submit(Job{ID: 2, Tenant: "t", Priority: 1, Accelerators: 8, Model: "h100", Duration: time.Hour}, t0); err != nil {
		t.Fatal(err)
	}
	r := e.Schedule(s, t0)
	if len(r.Waiting) != 1 || r.Waiting[0].Reason.Code != Power {
		t.Fatalf("the H100 head should wait for power: %+v", r.Waiting)
	}
	if r.Reservation == nil || r.Reservation.Job != 2 || !r.Reservation.Start.Equal(t0.Add(time.Hour)) {
		t.Fatalf("reservation %+v; want job 2 at +1h, when the B200 job ends", r.Reservation)
	}
}

// backfillOn returns an empty snapshot of f and a backfill engine.
func backfillOn(t fatalf, f *fleet.Fleet) (*Snapshot, *Engine) {
	s, err := NewSnapshot(f)
	if err != nil {
		t.Fatalf("%v", err)
	}
	e, err := New(Config{Queue: "backfill"})
	if err != nil {
		t.Fatalf("%v", err)
	}
	return s, e
}

// TestReservationTieKeptAndSearched: two sites would start the head at
// the same time, and the first pool wins the tie, also when the second's
// search is the one kept from an earlier pass and the first's is done
// anew (and stops at the tie, not before it).
func TestReservationTieKeptAndSearched(t *testing.T) {
	f := loadTestdata(t, "multi.yaml")
	s, e := backfillOn(t, f)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// gas runs a job of unknown duration (no reservation there), nuke
	// one that ends in an hour
	for i, site := range []string{"gas", "nuke"} {
		j := Job{ID: JobID(i + 1), Tenant: "t", Priority: 2, Accelerators: 128, Site: site}
		if site == "nuke" {
			j.Duration = time.Hour
		}
		if err := e.Submit(j, t0); err != nil {
			t.Fatal(err)
		}
	}
	if r := e.Schedule(s, t0); r.Placed != 2 {
		t.Fatalf("the two site-filling jobs did not start: %+v", r)
	}
	if err := e.Submit(Job{ID: 3, Tenant: "t", Priority: 1, Accelerators: 128, Model: "h100", Duration: time.Hour}, t0); err != nil {
		t.Fatal(err)
	}
	r := e.Schedule(s, t0)
	if want := (&Reservation{Job: 3, Site: 1, Start: t0.Add(time.Hour)}); fmt.Sprint(r.Reservation) != fmt.Sprint(want) {
		t.Fatalf("reservation %+v, want %+v", r.Reservation, want)
	}
	// gas's job gives way to one that ends with nuke's: gas now ties
	gas, _ := s.Alloc(1)
	slots := slices.Clone(gas.Slots)
	s.Release(1, t0.Add(time.Second))
	if err := s.Restore(Job{ID: 4, Tenant: "t", Accelerators: 128, Duration: time.Hour}, slots, t0); err != nil {
		t.Fatal(err)
	}
	want := &Reservation{Job: 3, Site: 0, Start: t0.Add(time.Hour)}
	for _, now := range []time.Time{t0.Add(time.Second), t0.Add(time.Minute)} {
		if r := e.Schedule(s, now); fmt.Sprint(r.Reservation) != fmt.Sprint(want) {
			t.Fatalf("at %v: reservation %+v, want %+v (the first site wins the tie)", now, r.Reservation, want)
		}
	}
}

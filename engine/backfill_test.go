package engine

import (
	"slices"
	"testing"
	"time"
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

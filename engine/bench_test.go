package engine

import (
	"math/rand/v2"
	"testing"
	"time"
)

// Benchmarks on the million-GPU example, as the targets ask. Each
// iteration places a batch of jobs of one shape into a fresh snapshot
// (built outside the timer) and reports placements per second.

func benchShape(b *testing.B, shape, jobs int) {
	f := loadExample(b, "million-gpu")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	placed := 0
	var elapsed time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, err := NewSnapshot(f)
		if err != nil {
			b.Fatal(err)
		}
		e, _ := New(Config{})
		for j := range jobs {
			if err := e.Submit(Job{ID: JobID(j + 1), Tenant: "t", Accelerators: shape}, now); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		t0 := time.Now()
		r := e.Schedule(s, now)
		elapsed += time.Since(t0)
		if r.Placed == 0 {
			b.Fatal("nothing placed")
		}
		placed += r.Placed
	}
	b.ReportMetric(float64(placed)/elapsed.Seconds(), "placements/s")
}

func BenchmarkPlace1(b *testing.B)    { benchShape(b, 1, 100_000) }
func BenchmarkPlace8(b *testing.B)    { benchShape(b, 8, 100_000) }
func BenchmarkPlace256(b *testing.B)  { benchShape(b, 256, 3_000) }
func BenchmarkPlace1024(b *testing.B) { benchShape(b, 1024, 800) }

// BenchmarkPass100k times one pass over 100,000 pending jobs on an empty
// million-GPU fleet under backfill: 1.5% gangs of 256 or 1024
// accelerators, the rest 1 to 32, about 1.7 times what the fleet holds,
// so that the pass both places and explains why the rest wait (the same
// mix as stargate bench engine).
func BenchmarkPass100k(b *testing.B) {
	f := loadExample(b, "million-gpu")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	small := []int{1, 2, 4, 8, 8, 8, 16, 32}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, _ := NewSnapshot(f)
		e, _ := New(Config{Queue: "backfill"})
		rng := rand.New(rand.NewPCG(1, 0))
		for j := range 100_000 {
			size := small[rng.IntN(len(small))]
			switch x := rng.IntN(1000); {
			case x < 5:
				size = 1024
			case x < 15:
				size = 256
			}
			e.Submit(Job{ID: JobID(j + 1), Tenant: "t", Accelerators: size, Priority: rng.IntN(3),
				Duration: time.Duration(1+rng.IntN(48)) * time.Hour}, now)
		}
		b.StartTimer()
		r := e.Schedule(s, now)
		if r.Placed == 0 {
			b.Fatal("nothing placed")
		}
	}
}

// BenchmarkPassFullFleet times the steady state a simulator lives in: the
// million-GPU fleet full of 8-GPU jobs with known durations, a blocked
// 4096-GPU gang at the head of a backfill queue (so that every pass
// computes its reservation), 10,000 jobs behind it, and preemption on with
// the gang outranking everything.
func BenchmarkPassFullFleet(b *testing.B) {
	f := loadExample(b, "million-gpu")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, _ := NewSnapshot(f)
	e, _ := New(Config{Queue: "backfill", Preemption: true, MinRuntime: time.Hour})
	rng := rand.New(rand.NewPCG(1, 2))
	id := JobID(0)
	for range f.Accelerators / 8 {
		id++
		e.Submit(Job{ID: id, Tenant: "t", Accelerators: 8, Preemptible: true,
			Duration: time.Duration(1+rng.IntN(48)) * time.Hour}, now)
	}
	if r := e.Schedule(s, now); r.Placed == 0 {
		b.Fatal("nothing placed")
	}
	now = now.Add(time.Minute) // running jobs are inside their minimum run time
	id++
	e.Submit(Job{ID: id, Tenant: "t", Accelerators: 4096, Priority: 5, Duration: time.Hour}, now)
	for range 10_000 {
		id++
		e.Submit(Job{ID: id, Tenant: "t", Accelerators: 1 + rng.IntN(8), Duration: time.Hour}, now)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		now = now.Add(time.Second)
		r := e.Schedule(s, now)
		if len(r.Waiting) == 0 {
			b.Fatal("nothing waits")
		}
	}
}

package engine

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"stargate/fleet"
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

// BenchmarkSteadyState times scheduling passes on a fleet in its working
// life, the scenario of the steady-state line of stargate bench engine
// (same workload, same seed): the million-GPU fleet under a power budget
// (each site may draw its idle power plus 75% of the rest of its
// full-load draw) and backfill, filled with jobs of 1 to 48 hours at
// 100%, 80% or 60% of TDP, started at many times before the epoch, until
// power binds and a thousand jobs wait. Each iteration follows 1 to 8 job
// ends on a virtual clock with as many arrivals and one Schedule. Besides
// ns/op (which includes the releases and submits), it reports the time
// of Schedule alone (median and p99), placements per second of it, the
// fleet's busy share and the jobs refused for power.
func BenchmarkSteadyState(b *testing.B) {
	f := loadExample(b, "million-gpu")
	for _, k := range []int{1, 8} {
		b.Run(fmt.Sprintf("gpus=%d", k), func(b *testing.B) { benchSteady(b, f, k) })
	}
}

func benchSteady(b *testing.B, f *fleet.Fleet, k int) {
	s, err := NewSnapshot(powerBudget(f, 0.75))
	if err != nil {
		b.Fatal(err)
	}
	e, _ := New(Config{Queue: "backfill"})
	rng := rand.New(rand.NewPCG(1, 2))
	epoch := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := epoch
	runFor := map[JobID]time.Duration{}
	ends := &endHeap{}
	var r Result
	schedule := func() time.Duration {
		t0 := time.Now()
		r = e.Schedule(s, now)
		d := time.Since(t0)
		for _, dc := range r.Decisions {
			if dc.Action == Place {
				heap.Push(ends, jobEnd{at: now.Add(runFor[dc.Job]), id: dc.Job})
				delete(runFor, dc.Job)
			}
		}
		return d
	}
	var id JobID
	newJob := func() Job {
		id++
		j := Job{ID: id, Tenant: [...]string{"a", "b", "c", "d"}[rng.IntN(4)], Accelerators: k,
			Priority: rng.IntN(3), Duration: time.Duration(3600+rng.IntN(47*3600+1)) * time.Second}
		switch rng.IntN(10) {
		case 8:
			j.PowerFraction = 0.8
		case 9:
			j.PowerFraction = 0.6
		}
		return j
	}
	submit := func(j Job) {
		runFor[j.ID] = j.Duration
		if err := e.Submit(j, now); err != nil {
			b.Fatal(err)
		}
	}
	// the fill: jobs submitted part of their duration before the epoch,
	// in batches in that order, until a thousand wait
	type fillJob struct {
		job   Job
		start time.Time
	}
	var fill []fillJob
	for range f.Accelerators / k {
		j := newJob()
		fill = append(fill, fillJob{j, epoch.Add(-time.Duration(rng.Int64N(int64(j.Duration))))})
	}
	slices.SortStableFunc(fill, func(a, b fillJob) int { return a.start.Compare(b.start) })
	batch := max(1, len(fill)/512)
	for i := 0; i < len(fill) && len(r.Waiting) < 1000; i += batch {
		part := fill[i:min(i+batch, len(fill))]
		now = part[len(part)-1].start
		for _, fj := range part {
			submit(fj.job)
		}
		schedule()
	}
	now = epoch
	schedule()
	for i, w := range r.Waiting {
		if i >= 1000 {
			e.Cancel(w.Job)
			delete(runFor, w.Job)
		}
	}
	if len(r.Waiting) == 0 || s.Allocated() < f.Accelerators*7/10 {
		b.Fatalf("fill: %d of %d busy, %d waiting; want 70%% and a queue", s.Allocated(), f.Accelerators, len(r.Waiting))
	}
	var times []time.Duration
	placed, busy := 0, 0.0
	refused := map[JobID]bool{}
	b.ReportAllocs()
	for b.Loop() {
		n := 1 + rng.IntN(8)
		for range n {
			ev := heap.Pop(ends).(jobEnd)
			now = ev.at
			s.Release(ev.id, now)
		}
		for range n {
			submit(newJob())
		}
		times = append(times, schedule())
		placed += r.Placed
		for _, w := range r.Waiting {
			if w.Reason.Code == Power {
				refused[w.Job] = true
			}
		}
		busy += float64(s.Allocated()) / float64(f.Accelerators)
	}
	var total time.Duration
	for _, t := range times {
		total += t
	}
	slices.Sort(times)
	b.ReportMetric(float64(placed)/total.Seconds(), "placements/s")
	b.ReportMetric(float64(times[len(times)/2].Nanoseconds())/1e3, "median-µs/pass")
	b.ReportMetric(float64(times[(len(times)*99+99)/100-1].Nanoseconds())/1e3, "p99-µs/pass")
	b.ReportMetric(100*busy/float64(len(times)), "busy-%")
	b.ReportMetric(float64(len(refused)), "power-refused")
}

// powerBudget returns a copy of f whose sites may each draw their idle
// power plus share of the rest of their full-load draw (the same budget
// as stargate bench engine's steady state).
func powerBudget(f *fleet.Fleet, share float64) *fleet.Fleet {
	idle := make([]float64, len(f.Sites))
	full := make([]float64, len(f.Sites))
	for n := range f.Nodes {
		m, a := f.NodeModel(n), f.NodeAccelerator(n)
		idle[f.SiteOfNode(n)] += m.IdleW(a)
		full[f.SiteOfNode(n)] += m.MaxW(a)
	}
	c := *f
	c.Sites = slices.Clone(f.Sites)
	for i := range c.Sites {
		st := &c.Sites[i]
		st.LimitW = min(st.LimitW, int64((idle[i]+share*(full[i]-idle[i]))*st.PUE/st.Oversubscription))
	}
	return &c
}

// jobEnd is a running job's end on the benchmark's virtual clock.
type jobEnd struct {
	at time.Time
	id JobID
}

// endHeap orders job ends by time, then job ID.
type endHeap []jobEnd

func (h endHeap) Len() int { return len(h) }
func (h endHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].id < h[j].id
}
func (h endHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *endHeap) Push(x any)   { *h = append(*h, x.(jobEnd)) }
func (h *endHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

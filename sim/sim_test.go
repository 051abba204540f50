package sim

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"stargate/engine"
	"stargate/fleet"
	"stargate/trace"
)

// pool is a site of n single-accelerator nodes with no power limit that
// matters: one rack of generous rating per node.
func pool(t testing.TB, n int, rackKW float64) *fleet.Fleet {
	t.Helper()
	y := `
catalog:
  nodes:
    - {name: one, accelerator: h100-sxm, accelerators: 1, overhead_w: 0, overhead_idle_w: 0}
oversubscription: 10
regions:
  - name: r
    sites:
      - name: s
        substation_mw: 100
        pue: 1.0
        energy: [{source: grid, share: 1, price_usd_mwh: 100, carbon_g_kwh: 500}]
        halls:
          - limit_kw: 100000
            rows:
              - limit_kw: 100000
                racks:
                  - count: ` + strconv.Itoa(n) + `
                    limit_kw: ` + strconv.FormatFloat(rackKW, 'f', -1, 64) + `
                    nodes: [{model: one, count: 1}]
`
	f, err := fleet.Parse(strings.NewReader(y))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFIFOByHand(t *testing.T) {
	f := pool(t, 4, 10)
	jobs := []trace.Job{
		{ID: "a", Submit: 0, Duration: 100, Accelerators: 1},
		{ID: "b", Submit: 0, Duration: 50, Accelerators: 1},
		{ID: "c", Submit: 0, Duration: 30, Accelerators: 1},
		{ID: "d", Submit: 0, Duration: 200, Accelerators: 1},
		{ID: "e", Submit: 10, Duration: 40, Accelerators: 1},
		{ID: "f", Submit: 20, Duration: 10, Accelerators: 1},
		{ID: "g", Submit: 25, Duration: 5, Accelerators: 4},
		{ID: "h", Submit: 26, Duration: 7, Accelerators: 1},
	}
	// By hand, four accelerators, strict FIFO:
	//   a, b, c, d start at 0; c ends at 30, b at 50, a at 100, d at 200.
	//   e (t=10) takes c's accelerator at 30 and ends at 70.
	//   f (t=20) takes b's at 50 and ends at 60.
	//   g (t=25) needs all four: it waits for d, starts at 200, ends at 205.
	//   h (t=26) is behind g in strict FIFO: starts at 205, ends at 212.
	want := map[string][2]float64{"a": {0, 100}, "b": {0, 50}, "c": {0, 30}, "d": {0, 200},
		"e": {30, 70}, "f": {50, 60}, "g": {200, 205}, "h": {205, 212}}
	cfg := Default()
	cfg.Engine = engine.Config{Queue: "fifo"}
	cfg.PassInterval = time.Millisecond
	s, err := New(f, jobs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := s.Run()
	for _, j := range r.Jobs {
		w := want[j.ID]
		if j.Start != w[0] || j.Finish != w[1] {
			t.Errorf("job %s ran %v..%v, want %v..%v", j.ID, j.Start, j.Finish, w[0], w[1])
		}
	}
	if r.JobsCompleted != 8 || r.Makespan != 212 {
		t.Errorf("completed %d, makespan %v", r.JobsCompleted, r.Makespan)
	}
	// JCTs: 100 50 30 200 60 40 180 186 → mean 105.75.
	if r.AvgJCT != 105.75 {
		t.Errorf("avg JCT %v, want 105.75", r.AvgJCT)
	}
}

// row is one row of racks of DGX H100 under a row limit below the draw of
// the full row, admitted by oversubscription: the controller must cap.
func row(t testing.TB, rowKW float64) *fleet.Fleet {
	t.Helper()
	y := `
oversubscription: 2
regions:
  - name: r
    sites:
      - name: s
        substation_mw: 10
        pue: 1.0
        energy: [{source: nuclear, share: 1, price_usd_mwh: 70}]
        halls:
          - limit_kw: 5000
            rows:
              - name: row
                limit_kw: ` + strconv.FormatFloat(rowKW, 'f', -1, 64) + `
                racks:
                  - count: 4
                    limit_kw: 45
                    nodes: [{model: dgx-h100, count: 4}]
`
	f, err := fleet.Parse(strings.NewReader(y))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Sixteen 8-GPU jobs fill the row. Its draw (16 idle nodes at 2,560 W plus
// 128 accelerators at 0.8 × 955 W, with a ±63 W swing each) is about
// 147 kW at peak against a 120 kW limit: caps must come, slow the capped
// jobs, and hold every excursion above the limit to the reaction delay.
func TestPowerCapping(t *testing.T) {
	f := row(t, 120)
	var jobs []trace.Job
	for i := range 16 {
		jobs = append(jobs, trace.Job{ID: strconv.Itoa(i), Tenant: "t", Submit: 0, Duration: 3600, Accelerators: 8})
	}
	cfg := Default()
	cfg.ReactionDelay = 5 * time.Second
	s, err := New(f, jobs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := s.Run()
	if r.JobsCompleted != 16 {
		t.Fatalf("completed %d of 16", r.JobsCompleted)
	}
	if r.CapEvents == 0 || r.CappedGPUHours == 0 {
		t.Fatalf("no capping: %+v", r.Levels)
	}
	var rowLevel LevelPower
	for _, l := range r.Levels {
		if l.Level == "row" {
			rowLevel = l
		}
	}
	if rowLevel.PeakRatio <= 1 {
		t.Errorf("row peak %.3f of limit: the scenario should overload it before the controller acts", rowLevel.PeakRatio)
	}
	if rowLevel.LongestAbove > cfg.ReactionDelay.Seconds() {
		t.Errorf("row above its limit for %.1f s at once, longer than the %v reaction delay", rowLevel.LongestAbove, cfg.ReactionDelay)
	}
	slowed := 0
	for _, j := range r.Jobs {
		if j.Finish-j.Start > j.Duration+1e-6 {
			slowed++
		}
		if j.Finish-j.Start < j.Duration-1e-6 {
			t.Errorf("job %s ran faster than its duration", j.ID)
		}
	}
	if slowed == 0 {
		t.Error("capping slowed no job")
	}
}

// TestConservation checks each queue policy's run, with preemption off
// and on, against the input trace rather than against the simulator's
// own totals: every input job completes exactly once, not before its
// submission, having run its whole duration; at no instant do the runs
// in the per-job records hold more accelerators than the fleet has; and
// the result's GPU-hours and completions equal the recount from those
// records.
//
// Trace jobs share one priority in the simulator, so only the inference
// service (priority 100) can preempt. With preemption on, a service of
// 112 of the row's 128 accelerators arrives at 0 just after a 32-
// accelerator trace job: fifo and fair, which take these arrivals in
// order, start that job first and must stop it for the service; priority
// and backfill start the service first.
func TestConservation(t *testing.T) {
	f := row(t, 1000)
	jobs := append([]trace.Job{{ID: "lead", Tenant: "t", Submit: 0, Duration: 3600, Accelerators: 32}}, mixed(t, 1000)...)
	preempted := 0
	for _, policy := range []string{"fifo", "priority", "backfill", "fair"} {
		for _, preempt := range []bool{false, true} {
			cfg := Default()
			cfg.Engine.Queue = policy
			cfg.Engine.Preemption = preempt
			// Without checkpoints a stopped job redoes all its work, so
			// its last run is exactly its duration.
			cfg.Checkpoint = 0
			if preempt {
				cfg.Inference = &Inference{Accelerators: 112, Load: []float64{0.5, 0.5}, Bucket: 30 * time.Minute}
			}
			s, err := New(f, jobs, cfg)
			if err != nil {
				t.Fatal(err)
			}
			r := s.Run()
			name := policy + " preempt=" + strconv.FormatBool(preempt)
			if r.CapEvents != 0 || r.Failures != 0 {
				t.Errorf("%s: caps %d failures %d: the scenario should have neither", name, r.CapEvents, r.Failures)
			}
			checkConservation(t, name, f, jobs, cfg.Inference != nil, r)
			preempted += r.Preemptions
		}
	}
	if preempted == 0 {
		t.Error("no run preempted a job: the stopped-job checks exercise nothing")
	}
}

// checkConservation recounts a run from its per-job records. A record
// gives a job's first start and its finish, not each run: a job never
// stopped ran once, from start to finish; a stopped one (in a run without
// checkpoints or caps) ran last from finish − duration to finish, and its
// earlier, lost runs are left out of the sweep, which can then only
// under-count.
func checkConservation(t *testing.T, name string, f *fleet.Fleet, jobs []trace.Job, inference bool, r *Result) {
	t.Helper()
	const eps = 1e-6 // seconds: the clock counts nanoseconds
	in := make(map[string]*trace.Job, len(jobs))
	for i := range jobs {
		if in[jobs[i].ID] != nil {
			t.Fatalf("input job %s twice", jobs[i].ID)
		}
		in[jobs[i].ID] = &jobs[i]
	}
	type edge struct {
		t float64
		n int // accelerators taken (> 0) or given back (< 0)
	}
	var edges []edge
	seen := map[string]int{}
	var gpuSecs, heldSecs, lastFinish float64
	completed := 0
	for _, rec := range r.Jobs {
		j := in[rec.ID]
		if j == nil && !(inference && rec.ID == "inference") {
			t.Errorf("%s: a record of job %q, which is not in the input", name, rec.ID)
			continue
		}
		if rec.Finish < 0 {
			continue // caught below: every input job must complete
		}
		lastFinish = max(lastFinish, rec.Finish)
		from := rec.Start
		if j != nil {
			seen[rec.ID]++
			completed++
			if rec.Accelerators != j.Accelerators || rec.Submit != j.Submit || rec.Duration != j.Duration {
				t.Errorf("%s: job %s recorded as %d accelerators, submit %v, duration %v; input %d, %v, %v", name, rec.ID,
					rec.Accelerators, rec.Submit, rec.Duration, j.Accelerators, j.Submit, j.Duration)
			}
			if rec.Start < j.Submit-eps {
				t.Errorf("%s: job %s started at %v, before its submission at %v", name, rec.ID, rec.Start, j.Submit)
			}
			ran := rec.Finish - rec.Start
			stopped := rec.Preemptions > 0 || rec.Restarts > 0
			switch {
			case ran < j.Duration-eps:
				t.Errorf("%s: job %s ran %v s from its start to its finish, less than its duration %v", name, rec.ID, ran, j.Duration)
			case !stopped && ran > j.Duration+eps:
				t.Errorf("%s: job %s ran %v s from start to finish, more than its duration %v, though the records show it never stopped",
					name, rec.ID, ran, j.Duration)
			}
			if stopped {
				from = rec.Finish - j.Duration
			}
			gpuSecs += float64(j.Accelerators) * (rec.Finish - from)
		}
		heldSecs += float64(rec.Accelerators) * (rec.Finish - from)
		edges = append(edges, edge{from + eps, rec.Accelerators}, edge{rec.Finish, -rec.Accelerators})
	}
	for id := range in {
		if seen[id] != 1 {
			t.Errorf("%s: input job %s completed %d times", name, id, seen[id])
		}
	}
	// Sweep: accelerators held at every instant, ends before starts at
	// the same time (a start is counted eps late for the clock's rounding).
	sort.Slice(edges, func(a, b int) bool {
		if edges[a].t != edges[b].t {
			return edges[a].t < edges[b].t
		}
		return edges[a].n < edges[b].n
	})
	busy, over := 0, false
	for _, e := range edges {
		busy += e.n
		if busy > f.Accelerators && !over {
			t.Errorf("%s: %d accelerators held at %v s; the fleet has %d", name, busy, e.t, f.Accelerators)
			over = true
		}
	}
	if busy != 0 {
		t.Errorf("%s: the sweep ends with %d accelerators held", name, busy)
	}
	if r.JobsCompleted != completed || r.JobsUnfinished != 0 || r.JobsRejected != 0 {
		t.Errorf("%s: result says %d completed, %d unfinished, %d rejected; the records show %d of %d completed",
			name, r.JobsCompleted, r.JobsUnfinished, r.JobsRejected, completed, len(jobs))
	}
	if d := r.GPUHours - gpuSecs/3600; math.Abs(d) > 1e-6 {
		t.Errorf("%s: GPU-hours %.6f, recounted from the records' runs %.6f", name, r.GPUHours, gpuSecs/3600)
	}
	// Allocated time adds the lost runs the records leave out.
	if r.AllocatedGPUHours < heldSecs/3600-1e-6 || (r.Preemptions == 0 && math.Abs(r.AllocatedGPUHours-heldSecs/3600) > 1e-6) {
		t.Errorf("%s: allocated %.6f GPU-h, recounted %.6f from the records' last runs", name, r.AllocatedGPUHours, heldSecs/3600)
	}
	if r.Makespan != lastFinish {
		t.Errorf("%s: makespan %v, last recorded finish %v", name, r.Makespan, lastFinish)
	}
}

func TestFailuresLoseWorkButFinish(t *testing.T) {
	f := row(t, 1000)
	var jobs []trace.Job
	for i := range 40 {
		jobs = append(jobs, trace.Job{ID: strconv.Itoa(i), Tenant: "t", Submit: float64(i * 600), Duration: 6 * 3600, Accelerators: 8})
	}
	cfg := Default()
	cfg.Failures = true
	cfg.MTBF = 2000 * time.Hour // 128 accelerators: a failure every ~16 h
	cfg.RepairTime = time.Hour
	s, err := New(f, jobs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := s.Run()
	if r.JobsCompleted != 40 {
		t.Fatalf("completed %d of 40", r.JobsCompleted)
	}
	if r.Failures == 0 || r.LostGPUHoursFailures <= 0 {
		t.Fatalf("failures %d, lost %.2f GPU-h", r.Failures, r.LostGPUHoursFailures)
	}
	// Work since the last 30-minute checkpoint is lost: at most 0.5 h × 8 per restart.
	restarts := 0
	for _, j := range r.Jobs {
		restarts += j.Restarts
		if j.LostGPUh > float64(j.Restarts)*0.5*8+1e-9 {
			t.Errorf("job %s lost %.2f GPU-h in %d restarts", j.ID, j.LostGPUh, j.Restarts)
		}
	}
	if restarts == 0 {
		t.Error("failures restarted no job")
	}
}

func TestDeterministicJSON(t *testing.T) {
	f := row(t, 120)
	jobs := mixed(t, 500)
	run := func() string {
		cfg := Default()
		cfg.Failures = true
		cfg.MTBF = 500 * time.Hour
		cfg.Seed = 42
		s, err := New(f, jobs, cfg)
		if err != nil {
			t.Fatal(err)
		}
		r := s.Run()
		r.WallS, r.EventsPerS = 0, 0 // the only fields that depend on the machine
		var b strings.Builder
		if err := WriteJSON(&b, []*Result{r}); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	a, b := run(), run()
	if a != b {
		t.Fatalf("same seed, different JSON:\n%s\n---\n%s", a, b)
	}
	if !strings.Contains(a, `"failures"`) {
		t.Fatal("no summary")
	}
}

// With no failures and no caps, the accelerators were held exactly as
// long as the workload's work: allocated GPU-hours equal the trace's.
func TestAllocatedEqualsWork(t *testing.T) {
	f := row(t, 1000)
	jobs := mixed(t, 800)
	var want float64
	for _, j := range jobs {
		want += j.GPUSeconds() / 3600
	}
	s, err := New(f, jobs, Default())
	if err != nil {
		t.Fatal(err)
	}
	r := s.Run()
	if r.CapEvents != 0 || r.Failures != 0 {
		t.Fatalf("caps %d failures %d: the scenario should have neither", r.CapEvents, r.Failures)
	}
	if d := r.AllocatedGPUHours - want; d > 1e-6 || d < -1e-6 {
		t.Errorf("allocated %.6f GPU-h, workload %.6f", r.AllocatedGPUHours, want)
	}
}

// oneJobOnARow runs one 8-GPU job of an hour on a DGX H100 alone in a row
// of limitKW (oversubscription 2, so that admission lets it start), with a
// 5 s reaction delay.
func oneJobOnARow(t *testing.T, limitKW int) *Result {
	t.Helper()
	f, err := fleet.Parse(strings.NewReader(fmt.Sprintf(`oversubscription: 2
regions:
  - name: r
    sites:
      - name: s
        substation_mw: 1
        pue: 1.0
        energy: [{source: nuclear, share: 1}]
        halls:
          - limit_kw: 500
            rows:
              - name: row
                limit_kw: %d
                racks: [{limit_kw: 45, nodes: [{model: dgx-h100, count: 1}]}]
`, limitKW)))
	if err != nil {
		t.Fatal(err)
	}
	jobs := []trace.Job{{ID: "j", Tenant: "t", Submit: 0, Duration: 3600, Accelerators: 8}}
	cfg := Default()
	cfg.ReactionDelay = 5 * time.Second
	s, err := New(f, jobs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := s.Run()
	return r
}

// One DGX H100 job overloads an 8 kW row: its peak is 2,560 W idle plus
// 8 × (764 W mean + 63 W swing) = 9,176 W. After the 5 s reaction delay it
// is capped at 350 W per accelerator (half of TDP) against a peak demand of
// 70 + 630 × 0.9 = 637 W, so it runs at (350/637)^(1/3) of full speed. The
// capped row draws 6,880 W, too much to lift the cap below 90% of 8 kW.
func TestCapSlowdownCurve(t *testing.T) {
	r := oneJobOnARow(t, 8)
	rate := math.Cbrt(350.0 / 637.0)
	want := 5 + (3600-5)/rate
	if got := r.Jobs[0].Finish; math.Abs(got-want) > 1e-6 {
		t.Errorf("finished at %.6f s, want %.6f (5 s at full speed, then %.4f of it)", got, want, rate)
	}
	if r.CapEvents != 1 {
		t.Errorf("cap events %d, want 1", r.CapEvents)
	}
	for _, l := range r.Levels {
		if l.Level == "row" && (l.LongestAbove != 5 || math.Abs(l.PeakKW-9.176) > 1e-9) {
			t.Errorf("row: above its limit for %v s (want 5), peak %.3f kW (want 9.176)", l.LongestAbove, l.PeakKW)
		}
	}
}

// The controller must see the synchronous swing, not only the mean: one
// DGX H100 job on a 9 kW row draws 8,672 W on average (below the 98%
// line, 8,820 W) but peaks at 9,176 W in its compute phase, over the
// breaker's rating. It must be capped after the reaction delay.
func TestControllerSeesTheSwing(t *testing.T) {
	r := oneJobOnARow(t, 9)
	if r.CapEvents != 1 {
		t.Errorf("cap events %d, want 1: the row peaks over its rating on the swing alone", r.CapEvents)
	}
	for _, l := range r.Levels {
		if l.Level == "row" && l.LongestAbove > 5 {
			t.Errorf("row above its rating for %v s at once, longer than the 5 s reaction delay", l.LongestAbove)
		}
	}
}

// A job whose node fails restarts when its backoff ends (1 min, doubling),
// not at some later unrelated event; and failures stop with the work.
func TestRestartAfterBackoff(t *testing.T) {
	f := row(t, 1000)
	jobs := []trace.Job{{ID: "j", Tenant: "t", Submit: 0, Duration: 10 * 3600, Accelerators: 8}}
	restarts := 0
	for seed := uint64(1); seed <= 5; seed++ {
		cfg := Default()
		cfg.Seed = seed
		cfg.Failures = true
		cfg.MTBF = 200 * time.Hour // 128 accelerators: a failure every ~1.6 h, one in 16 on the job's node
		cfg.RepairTime = time.Hour
		s, err := New(f, jobs, cfg)
		if err != nil {
			t.Fatal(err)
		}
		r := s.Run()
		j := r.Jobs[0]
		if j.Finish < 0 {
			t.Fatalf("seed %d: job did not finish", seed)
		}
		restarts += j.Restarts
		lost := j.LostGPUh * 3600 / 8
		var backoff float64
		for k := 0; k < j.Restarts; k++ {
			backoff += 60*math.Pow(2, float64(k)) + cfg.PassInterval.Seconds()
		}
		if late := j.Finish - j.Duration - lost; late > backoff+1e-6 {
			t.Errorf("seed %d: %d restarts, finished %.0f s after its work and lost work, more than the backoffs' %.0f s",
				seed, j.Restarts, late, backoff)
		}
		if last := r.Series[len(r.Series)-1].T; last > r.Makespan+s.sampleEvery.Seconds()+1e-6 {
			t.Errorf("seed %d: the run went on to %.0f s after the last job ended at %.0f s", seed, last, r.Makespan)
		}
	}
	if restarts == 0 {
		t.Error("no seed restarted the job: the test exercises nothing")
	}
}

// mixed is a day of n synthetic jobs of 1, 8 and 32 accelerators, sized
// for the 128 accelerators of row.
func mixed(t testing.TB, n int) []trace.Job {
	t.Helper()
	syn := trace.DefaultSynthetic()
	syn.Jobs, syn.Sizes = n, []trace.Size{{Accelerators: 1, Weight: 5}, {Accelerators: 8, Weight: 3}, {Accelerators: 32, Weight: 1}}
	g, err := trace.NewGenerator(syn)
	if err != nil {
		t.Fatal(err)
	}
	return g.All()
}

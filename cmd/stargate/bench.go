package main

import (
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"stargate/engine"
	"stargate/fleet"
	"stargate/internal/human"
)

func init() { register(benchCmd) }

var (
	benchParent *cobra.Command
	benchEngine *cobra.Command
)

// benchCmd returns the one "bench" parent command; each benchmark is a
// subcommand that its own file adds to it (bench engine here). The
// parent is shared by every command tree, so each new tree starts bench
// engine from its flags' defaults, whatever an earlier command line set
// (a --help or a bad flag ends a run before it can reset them itself).
func benchCmd() *cobra.Command {
	if benchParent == nil {
		benchParent = &cobra.Command{
			Use:   "bench",
			Short: "Measure Stargate's parts on real shapes",
			Args:  cobra.NoArgs,
		}
		benchEngine = newBenchEngineCmd()
		benchParent.AddCommand(benchEngine)
	}
	resetFlags(benchEngine)
	return benchParent
}

// resetFlags puts a command's flags back to their defaults.
func resetFlags(cmd *cobra.Command) {
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		_ = f.Value.Set(f.DefValue)
		f.Changed = false
	})
}

// benchEngineOptions are the flags of "bench engine".
type benchEngineOptions struct {
	src     fleetSource
	output  string
	shapes  string
	pending int
	runs    int
	procs   int
	seed    uint64

	steadyShapes string
	steadyPasses int
	steadyPower  float64

	saturated       string
	saturatedPasses int
}

func newBenchEngineCmd() *cobra.Command {
	o := &benchEngineOptions{}
	cmd := &cobra.Command{
		Use:   "engine",
		Short: "Placements per second and scheduling pass time on a fleet file",
		Long: `Runs the scheduling engine on a fleet and prints what it sustains, each
figure labelled with the state of the fleet it was measured on (the FLEET
column, and fleet_state in JSON):

  - empty: placements per second for jobs of each shape (by default 1, 8,
    256 and 1024 accelerators, packed into the tightest topology domain),
    placing a batch of jobs into an empty fleet in one pass; heap
    allocations per placement;
  - empty, then full: the time of one scheduling pass over a large pending
    queue (by default 100,000 jobs of mixed sizes under backfill), and of
    a second pass once the fleet is full;
  - steady: the life of a busy fleet (--steady-shapes, by default 1- and
    8-accelerator jobs; "mix" is the pass's mix). Each site is held to a
    power budget: its idle draw plus --steady-power (0.75) of the rest of
    its full-load draw, every accelerator at TDP, as under a utility cap.
    Jobs of 1 to 48 hours, expected to draw 100%, 80% or 60% of TDP and
    started at many times before the measurement, fill the fleet until
    power binds and 1,000 more wait (backfill). Then each pass follows a
    few job ends (1 to 8, in order of end time on a virtual clock) and as
    many arrivals: release, submit, one Schedule, --steady-passes times.
    The line gives the fleet's mean busy share ("steady 81% busy"), the
    time of one pass (median and p99), placements per second of pass
    time, and how many jobs a pass refused with a power reason (each job
    once, with the level that refused it). The budget is the benchmark's:
    it changes no fleet file.
  - saturated: a full fleet with --pending jobs (100,000) waiting, under
    each queue policy of --saturated (fifo, priority, fair, backfill and
    las; no preemption). The fleet is filled by one pass over the pass's
    mix, the queue topped up to --pending and passes run until one places
    nothing; then three kinds of pass are timed, --saturated-passes of
    each, the virtual clock one second further each time: a pass in
    which nothing changed since the last (only the clock moved), a pass
    after one running job ended (picked at random), and a pass after one
    job arrived. Targets: under 0.1 ms when nothing changed, under 1 ms
    after one end or one arrival (median).

Empty-fleet figures are the median of --runs runs, with the range. The
engine is single-threaded; --procs sets GOMAXPROCS (1 by default: one
core). On a shared machine the figures move with its load. Job sizes,
durations and the order of job ends come from --seed: the same seed gives
the same workload and the same decisions.
`,
		Example: `  stargate bench engine                          # the built-in million-gpu example
  stargate bench engine -f examples/stargate.yaml -o json
  stargate bench engine --example stargate --steady-shapes 1,8,mix --steady-power 0.8`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The command is built once (bench is a shared parent), so its
			// flags go back to their defaults after each run.
			defer resetFlags(cmd)
			return runBenchEngine(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	o.src.addFlags(cmd, "million-gpu")
	fl := cmd.Flags()
	fl.StringVarP(&o.output, "output", "o", "table", "output format: table or json")
	fl.StringVar(&o.shapes, "shapes", "1,8,256,1024", "job sizes to measure, in accelerators")
	fl.IntVar(&o.pending, "pending", 100_000, "jobs in the pending queue for the pass measurement")
	fl.IntVar(&o.runs, "runs", 3, "runs of each measurement (the median is reported)")
	fl.IntVar(&o.procs, "procs", 1, "GOMAXPROCS while measuring")
	fl.Uint64Var(&o.seed, "seed", 1, "seed of the workloads (job sizes, durations, job ends)")
	fl.StringVar(&o.steadyShapes, "steady-shapes", "1,8", `job sizes of the steady-state runs, in accelerators; "mix" is the pass's mix; "" skips them`)
	fl.IntVar(&o.steadyPasses, "steady-passes", 2000, "scheduling passes timed in each steady-state run")
	fl.Float64Var(&o.steadyPower, "steady-power", 0.75, "each site's power budget in the steady state: idle draw plus this share of the rest of its full-load draw")
	fl.StringVar(&o.saturated, "saturated", "fifo,priority,fair,backfill,las", `queue policies of the saturated runs (a full fleet, --pending jobs waiting); "" skips them`)
	fl.IntVar(&o.saturatedPasses, "saturated-passes", 200, "passes of each kind timed in each saturated run")
	return cmd
}

// benchShape is the result for one job shape.
type benchShape struct {
	// FleetState is the fleet the figures were measured on: "empty".
	FleetState         string  `json:"fleet_state"`
	Shape              string  `json:"shape"`
	Accelerators       int     `json:"accelerators"`
	Jobs               int     `json:"jobs"`
	Placed             int     `json:"placed"`
	Seconds            float64 `json:"seconds"`
	PlacementsPerS     float64 `json:"placements_per_s"`
	PlacementsPerSMin  float64 `json:"placements_per_s_min"`
	PlacementsPerSMax  float64 `json:"placements_per_s_max"`
	AllocsPerPlacement float64 `json:"allocs_per_placement"`
	BytesPerPlacement  float64 `json:"bytes_per_placement"`
	TargetPerS         float64 `json:"target_per_s"`
	// Note says why a shape has no figures (it fits no site of the fleet).
	Note string `json:"note,omitempty"`
}

// benchReport is what "bench engine -o json" prints.
type benchReport struct {
	Fleet          string       `json:"fleet"`
	Accelerators   int          `json:"accelerators"`
	Nodes          int          `json:"nodes"`
	Sites          int          `json:"sites"`
	GoMaxProcs     int          `json:"gomaxprocs"`
	Runs           int          `json:"runs"`
	SnapshotBuildS float64      `json:"snapshot_build_s"`
	Results        []benchShape `json:"results"`
	PendingJobs    int          `json:"pending_jobs"`
	// PassFleetState is the fleet the pass ran on ("empty");
	// SecondPassFleetState the fleet the second pass found ("full 97% busy").
	PassFleetState       string  `json:"pass_fleet_state,omitempty"`
	Pass100kPendingS     float64 `json:"pass_100k_pending_s"`
	PassMinS             float64 `json:"pass_min_s"`
	PassMaxS             float64 `json:"pass_max_s"`
	PassPlaced           int     `json:"pass_placed"`
	PassAllocs           float64 `json:"pass_allocs"`
	SecondPassFleetState string  `json:"second_pass_fleet_state,omitempty"`
	SecondPassS          float64 `json:"second_pass_s"`
	SecondPassWaiting    int     `json:"second_pass_waiting"`
	// SteadyState: one run per --steady-shapes entry on a busy,
	// power-bound fleet; each pass follows a few job ends and arrivals.
	SteadyState []benchSteady `json:"steady_state,omitempty"`
	// Saturated: one run per --saturated policy on a full fleet with
	// --pending jobs waiting.
	Saturated []benchSaturated `json:"saturated,omitempty"`
}

// benchSaturated is one saturated run: a full fleet, a long queue, one
// queue policy, and the time of a pass after nothing, one end or one
// arrival.
type benchSaturated struct {
	// FleetState is "full N% busy", N the share of accelerators running
	// a job when the timed passes begin.
	FleetState string  `json:"fleet_state"`
	Policy     string  `json:"policy"`
	BusyPct    float64 `json:"busy_pct"`
	Running    int     `json:"running"`
	Waiting    int     `json:"waiting"` // jobs pending when the timed passes begin
	// FillS is the time of the pass that filled the fleet.
	FillS  float64          `json:"fill_s"`
	Passes []benchSaturPass `json:"passes"`
}

// benchSaturPass is the time of one kind of pass in a saturated run.
type benchSaturPass struct {
	// Kind: "nothing changed", "one job ended" or "one job arrived".
	Kind     string  `json:"kind"`
	Passes   int     `json:"passes"`
	Placed   int     `json:"placed"`
	MedianUS float64 `json:"median_us"`
	P99US    float64 `json:"p99_us"`
	MeanUS   float64 `json:"mean_us"`
	TargetUS float64 `json:"target_us"`
}

// benchSteady is one steady-state run.
type benchSteady struct {
	// FleetState is "steady N% busy", N the mean share of accelerators
	// running a job after each pass.
	FleetState   string  `json:"fleet_state"`
	Shape        string  `json:"shape"`        // "1", "8", ... or "mix"
	Accelerators int     `json:"accelerators"` // 0 for the mix
	PowerBudget  float64 `json:"power_budget"` // --steady-power
	BusyPct      float64 `json:"busy_pct"`
	Running      int     `json:"running"` // jobs running after the last pass
	Waiting      float64 `json:"waiting"` // mean jobs left waiting by a pass
	Passes       int     `json:"passes"`
	Ends         int     `json:"ends"`
	Placed       int     `json:"placed"`
	// VirtualS is the span of the virtual clock the passes covered.
	VirtualS       float64 `json:"virtual_s"`
	PlacementsPerS float64 `json:"placements_per_s"` // placements per second of pass time
	PassMedianUS   float64 `json:"pass_median_us"`
	PassP99US      float64 `json:"pass_p99_us"`
	PassMeanUS     float64 `json:"pass_mean_us"`
	// PowerRefused counts the jobs that a pass left waiting with a power
	// reason, each once; PowerRefusedByLevel splits them by the level of
	// the power tree that refused them last.
	PowerRefused        int            `json:"power_refused"`
	PowerRefusedByLevel map[string]int `json:"power_refused_by_level,omitempty"`
	// LastWaiting counts the jobs the last pass left waiting, by reason.
	LastWaiting map[string]int `json:"last_waiting,omitempty"`
	TargetPerS  float64        `json:"target_per_s,omitempty"`
}

var benchEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func runBenchEngine(ctx context.Context, o *benchEngineOptions, w io.Writer) error {
	if o.output != "table" && o.output != "json" {
		return fmt.Errorf("bench engine: --output must be table or json, got %q", o.output)
	}
	if o.runs < 1 || o.pending < 0 || o.procs < 1 || o.steadyPasses < 1 || o.saturatedPasses < 1 {
		return fmt.Errorf("bench engine: --runs, --procs, --steady-passes and --saturated-passes must be >= 1, --pending >= 0")
	}
	if !(o.steadyPower > 0 && o.steadyPower <= 1) {
		return fmt.Errorf("bench engine: --steady-power must be in (0, 1], got %g", o.steadyPower)
	}
	var shapes []int
	for _, s := range strings.Split(o.shapes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("bench engine: bad shape %q in --shapes", s)
		}
		shapes = append(shapes, n)
	}
	var steady []int // 0 is the mix
	for _, s := range strings.Split(o.steadyShapes, ",") {
		s = strings.TrimSpace(s)
		if s == "" && strings.TrimSpace(o.steadyShapes) == "" {
			break
		}
		if s == "mix" {
			steady = append(steady, 0)
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return fmt.Errorf("bench engine: bad shape %q in --steady-shapes (a size or mix)", s)
		}
		steady = append(steady, n)
	}
	var saturated []string
	if strings.TrimSpace(o.saturated) != "" {
		for _, q := range strings.Split(o.saturated, ",") {
			q = strings.TrimSpace(q)
			if _, err := engine.NewRegistry().Queue(q); err != nil {
				return fmt.Errorf("bench engine: --saturated: %w", err)
			}
			saturated = append(saturated, q)
		}
	}
	f, err := o.src.load()
	if err != nil {
		return fmt.Errorf("bench engine: %w", err)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(o.procs))
	rep := benchReport{Fleet: o.src.name(), Accelerators: f.Accelerators, Nodes: len(f.Nodes), Sites: len(f.Sites),
		GoMaxProcs: o.procs, Runs: o.runs, PendingJobs: o.pending}

	t0 := time.Now()
	if _, err := engine.NewSnapshot(f); err != nil {
		return fmt.Errorf("bench engine: %w", err)
	}
	rep.SnapshotBuildS = time.Since(t0).Seconds()

	for _, k := range shapes {
		if err := ctx.Err(); err != nil {
			return err
		}
		r, err := benchPlacements(f, k, o.runs)
		if err != nil {
			return err
		}
		rep.Results = append(rep.Results, r)
	}
	if o.pending > 0 {
		if err := benchPass(f, o, &rep); err != nil {
			return err
		}
	}
	for _, k := range steady {
		if err := ctx.Err(); err != nil {
			return err
		}
		st, err := benchSteadyState(f, k, o)
		if err != nil {
			return err
		}
		if st.Passes > 0 {
			rep.SteadyState = append(rep.SteadyState, st)
		}
	}
	for _, q := range saturated {
		if o.pending == 0 {
			break
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		sr, err := benchSaturatedRun(f, q, o)
		if err != nil {
			return err
		}
		rep.Saturated = append(rep.Saturated, sr)
	}
	if o.output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printBench(w, &rep)
	return nil
}

// benchJobs is the batch size for a shape: enough to take most of the
// fleet, bounded so that small shapes finish quickly.
func benchJobs(f *fleet.Fleet, k int) int {
	n := f.Accelerators * 8 / 10 / k
	return max(1, min(n, 100_000))
}

// benchPlacements places a batch of k-accelerator jobs into an empty fleet
// in one pass, runs times, and reports the median rate.
func benchPlacements(f *fleet.Fleet, k, runs int) (benchShape, error) {
	jobs := benchJobs(f, k)
	r := benchShape{FleetState: "empty", Shape: strconv.Itoa(k), Accelerators: k, Jobs: jobs}
	if k <= 8 {
		r.TargetPerS = 20_000
	} else if k >= 1024 {
		r.TargetPerS = 1_000
	}
	var rates, secs []float64
	for range runs {
		s, err := engine.NewSnapshot(f)
		if err != nil {
			return r, fmt.Errorf("bench engine: %w", err)
		}
		e, err := engine.New(engine.Config{})
		if err != nil {
			return r, err
		}
		for j := range jobs {
			if err := e.Submit(engine.Job{ID: engine.JobID(j + 1), Tenant: "bench", Accelerators: k}, benchEpoch); err != nil {
				return r, err
			}
		}
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		t0 := time.Now()
		res := e.Schedule(s, benchEpoch)
		d := time.Since(t0)
		runtime.ReadMemStats(&m1)
		if res.Placed == 0 {
			r.Note = "no job of this size fits a site of this fleet"
			if len(res.Waiting) > 0 {
				r.Note += " (" + string(res.Waiting[0].Reason.Code) + ")"
			}
			return r, nil
		}
		r.Placed = res.Placed
		rates = append(rates, float64(res.Placed)/d.Seconds())
		secs = append(secs, d.Seconds())
		r.AllocsPerPlacement = float64(m1.Mallocs-m0.Mallocs) / float64(res.Placed)
		r.BytesPerPlacement = float64(m1.TotalAlloc-m0.TotalAlloc) / float64(res.Placed)
	}
	r.PlacementsPerS, r.PlacementsPerSMin, r.PlacementsPerSMax = medianRange(rates)
	r.Seconds, _, _ = medianRange(secs)
	return r, nil
}

// benchPass times one pass over a large queue under backfill on an empty
// fleet, then a second pass once it is full. Sizes: 1.5% gangs (256 or
// 1024 accelerators), the rest 1 to 32; about 1.7 times what a
// million-accelerator fleet holds, so the pass both places and refuses.
func benchPass(f *fleet.Fleet, o *benchEngineOptions, rep *benchReport) error {
	rep.PassFleetState = "empty"
	var secs []float64
	for range o.runs {
		s, err := engine.NewSnapshot(f)
		if err != nil {
			return err
		}
		e, err := engine.New(engine.Config{Queue: "backfill"})
		if err != nil {
			return err
		}
		rng := rand.New(rand.NewPCG(o.seed, 0))
		tenants := []string{"a", "b", "c", "d"}
		for j := range o.pending {
			job := engine.Job{ID: engine.JobID(j + 1), Accelerators: benchMixSize(rng), Tenant: tenants[rng.IntN(len(tenants))],
				Priority: rng.IntN(3),
				Duration: time.Duration(1+rng.IntN(48)) * time.Hour}
			if err := e.Submit(job, benchEpoch); err != nil {
				return err
			}
		}
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		t0 := time.Now()
		res := e.Schedule(s, benchEpoch)
		d := time.Since(t0)
		runtime.ReadMemStats(&m1)
		secs = append(secs, d.Seconds())
		rep.PassPlaced = res.Placed
		rep.PassAllocs = float64(m1.Mallocs - m0.Mallocs)
		rep.SecondPassFleetState = fmt.Sprintf("full %s busy", benchPct(s.Allocated(), f.Accelerators))
		t0 = time.Now()
		res = e.Schedule(s, benchEpoch.Add(time.Second))
		rep.SecondPassS = time.Since(t0).Seconds()
		rep.SecondPassWaiting = e.Queued()
	}
	rep.Pass100kPendingS, rep.PassMinS, rep.PassMaxS = medianRange(secs)
	return nil
}

// benchMixSize draws a job size of the pass's mix: 1.5% gangs (0.5% of
// 1024 accelerators, 1% of 256), the rest 1 to 32, mostly 8.
func benchMixSize(rng *rand.Rand) int {
	small := [...]int{1, 2, 4, 8, 8, 8, 16, 32}
	size := small[rng.IntN(len(small))]
	switch x := rng.IntN(1000); {
	case x < 5:
		size = 1024
	case x < 15:
		size = 256
	}
	return size
}

// steadyJob draws a job of the steady-state workload: k accelerators (0:
// the pass's mix), one of four tenants, priority 0 to 2, 1 to 48 hours to
// the second (its run time, which the engine knows as its duration), and
// an expected draw of 100% of TDP (8 jobs in 10), 80% or 60%.
func steadyJob(rng *rand.Rand, id engine.JobID, k int) engine.Job {
	if k == 0 {
		k = benchMixSize(rng)
	}
	j := engine.Job{ID: id, Tenant: [...]string{"a", "b", "c", "d"}[rng.IntN(4)], Accelerators: k,
		Priority: rng.IntN(3), Duration: time.Duration(3600+rng.IntN(47*3600+1)) * time.Second}
	switch rng.IntN(10) {
	case 8:
		j.PowerFraction = 0.8
	case 9:
		j.PowerFraction = 0.6
	}
	return j
}

// powerBudget returns a copy of f whose sites may each draw their idle
// power plus share of the rest of their full-load draw (every accelerator
// at TDP, node overhead included), or their own rating if that is lower:
// below 1, power binds before the accelerators run out. The engine's
// exported API has no way to lower a limit in a snapshot, so the budget
// is applied to the fleet the snapshot is built from.
func powerBudget(f *fleet.Fleet, share float64) *fleet.Fleet {
	idle := make([]float64, len(f.Sites))
	full := make([]float64, len(f.Sites))
	for n := range f.Nodes {
		m, a := f.NodeModel(n), f.NodeAccelerator(n)
		site := f.SiteOfNode(n)
		idle[site] += m.IdleW(a)
		full[site] += m.MaxW(a)
	}
	c := *f
	c.Sites = slices.Clone(f.Sites)
	for i := range c.Sites {
		st := &c.Sites[i]
		it := idle[i] + share*(full[i]-idle[i])
		st.LimitW = min(st.LimitW, int64(it*st.PUE/st.Oversubscription))
	}
	return &c
}

// jobEnd is a running job's end on the steady state's virtual clock.
type jobEnd struct {
	at time.Time
	id engine.JobID
}

// endHeap orders job ends by time, then job ID, so that ends at the same
// instant come in the same order in every run.
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

// steadyBacklog bounds the jobs left waiting after the fill.
const steadyBacklog = 1000

// benchSteadyState measures the engine on a fleet in its working life,
// under a power budget (see powerBudget) and the backfill policy. The
// fill: jobs for every accelerator of the fleet, each submitted a random
// part of its duration before the epoch, are scheduled in batches in that
// order on the virtual clock, until the fleet is saturated and
// steadyBacklog jobs wait (the rest never arrive); so running jobs have
// started at many times, and end at many times, as in a fleet that has
// been up for days. Then each of --steady-passes passes follows 1 to 8
// job ends, released in order of end time as the clock moves to them,
// and as many new jobs, submitted at that time; a job that starts ends
// its duration later. Only Schedule is timed. Every random draw comes
// from --seed, so a run is repeatable.
func benchSteadyState(f *fleet.Fleet, k int, o *benchEngineOptions) (benchSteady, error) {
	st := benchSteady{Shape: "mix", Accelerators: k, PowerBudget: o.steadyPower}
	if k > 0 {
		st.Shape = strconv.Itoa(k)
		if k <= 8 {
			st.TargetPerS = 20_000
		}
	}
	s, err := engine.NewSnapshot(powerBudget(f, o.steadyPower))
	if err != nil {
		return st, fmt.Errorf("bench engine: %w", err)
	}
	e, err := engine.New(engine.Config{Queue: "backfill"})
	if err != nil {
		return st, err
	}
	rng := rand.New(rand.NewPCG(o.seed, 2))
	runFor := map[engine.JobID]time.Duration{} // pending jobs' run times
	ends := &endHeap{}
	now := benchEpoch
	var res engine.Result
	schedule := func() time.Duration {
		t0 := time.Now()
		res = e.Schedule(s, now)
		took := time.Since(t0)
		for _, d := range res.Decisions {
			if d.Action == engine.Place {
				heap.Push(ends, jobEnd{at: now.Add(runFor[d.Job]), id: d.Job})
				delete(runFor, d.Job)
			}
		}
		return took
	}
	var id engine.JobID
	submit := func(j engine.Job) error {
		runFor[j.ID] = j.Duration
		return e.Submit(j, now)
	}

	// The fill: jobs for every accelerator, each submitted some part of
	// its duration before the epoch, scheduled in batches in that order
	// until the fleet is saturated and steadyBacklog jobs wait.
	type fillJob struct {
		job   engine.Job
		start time.Time
	}
	var fill []fillJob
	for demand := 0; demand < f.Accelerators; {
		id++
		j := steadyJob(rng, id, k)
		fill = append(fill, fillJob{j, benchEpoch.Add(-time.Duration(rng.Int64N(int64(j.Duration))))})
		demand += j.Accelerators
	}
	slices.SortStableFunc(fill, func(a, b fillJob) int { return a.start.Compare(b.start) })
	batch := max(1, len(fill)/512)
	for i := 0; i < len(fill) && e.Queued() < steadyBacklog; i += batch {
		part := fill[i:min(i+batch, len(fill))]
		now = part[len(part)-1].start
		for _, fj := range part {
			if err := submit(fj.job); err != nil {
				return st, err
			}
		}
		schedule()
	}
	now = benchEpoch
	schedule()
	if ends.Len() == 0 {
		return st, nil // the shape fits no site of this fleet
	}
	for i, w := range e.Waits() {
		if i >= steadyBacklog {
			e.Cancel(w.Job)
			delete(runFor, w.Job)
		}
	}

	times := make([]time.Duration, 0, o.steadyPasses)
	refused := map[engine.JobID]fleet.Level{}
	busy, waiting := 0.0, 0
	start := now
	runtime.GC()
	for range o.steadyPasses {
		n := 1 + rng.IntN(8)
		for range n {
			if ends.Len() == 0 {
				break
			}
			ev := heap.Pop(ends).(jobEnd)
			now = ev.at
			s.Release(ev.id, now)
			st.Ends++
		}
		for range n {
			id++
			if err := submit(steadyJob(rng, id, k)); err != nil {
				return st, err
			}
		}
		times = append(times, schedule())
		st.Placed += res.Placed
		for _, w := range res.Waiting {
			if w.Reason.Code == engine.Power {
				refused[w.Job] = w.Reason.Level
			}
		}
		busy += float64(s.Allocated()) / float64(f.Accelerators)
		waiting += e.Queued()
	}
	st.Passes = len(times)
	st.VirtualS = now.Sub(start).Seconds()
	st.BusyPct = 100 * busy / float64(st.Passes)
	st.FleetState = fmt.Sprintf("steady %.0f%% busy", st.BusyPct)
	st.Running = s.Jobs()
	st.Waiting = float64(waiting) / float64(st.Passes)
	var total time.Duration
	for _, t := range times {
		total += t
	}
	if total > 0 {
		st.PlacementsPerS = float64(st.Placed) / total.Seconds()
	}
	slices.Sort(times)
	st.PassMedianUS = float64(times[len(times)/2].Nanoseconds()) / 1e3
	st.PassP99US = float64(times[(len(times)*99+99)/100-1].Nanoseconds()) / 1e3
	st.PassMeanUS = float64(total.Nanoseconds()) / 1e3 / float64(st.Passes)
	st.PowerRefused = len(refused)
	if len(refused) > 0 {
		st.PowerRefusedByLevel = map[string]int{}
		for _, l := range refused {
			st.PowerRefusedByLevel[l.String()]++
		}
	}
	if ws := e.Waits(); len(ws) > 0 {
		st.LastWaiting = map[string]int{}
		for _, w := range ws {
			st.LastWaiting[string(w.Reason.Code)]++
		}
	}
	return st, nil
}

// benchSaturatedRun fills the fleet under queue policy q with jobs of the
// pass's mix (1 to 48 hours, priority 0 to 2, four tenants), tops the
// queue up to --pending waiting jobs, runs passes until one places
// nothing, and then times three kinds of pass, --saturated-passes of
// each, the virtual clock one second further each time: nothing changed
// since the last pass, one running job ended (picked at random), one job
// arrived. Only Schedule is timed; every draw comes from --seed.
func benchSaturatedRun(f *fleet.Fleet, q string, o *benchEngineOptions) (benchSaturated, error) {
	sr := benchSaturated{Policy: q}
	s, err := engine.NewSnapshot(f)
	if err != nil {
		return sr, fmt.Errorf("bench engine: %w", err)
	}
	e, err := engine.New(engine.Config{Queue: q})
	if err != nil {
		return sr, err
	}
	rng := rand.New(rand.NewPCG(o.seed, 3))
	tenants := [...]string{"a", "b", "c", "d"}
	var id engine.JobID
	now := benchEpoch
	submit := func() error {
		id++
		return e.Submit(engine.Job{ID: id, Accelerators: benchMixSize(rng), Tenant: tenants[rng.IntN(len(tenants))],
			Priority: rng.IntN(3), Duration: time.Duration(1+rng.IntN(48)) * time.Hour}, now)
	}
	for demand := 0; demand < f.Accelerators; {
		if err := submit(); err != nil {
			return sr, err
		}
		p, _ := e.Pending(id)
		demand += p.Job.Accelerators
	}
	for range o.pending {
		if err := submit(); err != nil {
			return sr, err
		}
	}
	var running []engine.JobID
	var res engine.Result
	pass := func() time.Duration {
		t0 := time.Now()
		res = e.Schedule(s, now)
		took := time.Since(t0)
		for _, d := range res.Decisions {
			if d.Action == engine.Place {
				running = append(running, d.Job)
			}
		}
		return took
	}
	sr.FillS = pass().Seconds()
	// exactly --pending waiting: the latest arrivals leave, or more come
	for last := id; e.Queued() > o.pending; last-- {
		e.Cancel(last)
	}
	for e.Queued() < o.pending {
		if err := submit(); err != nil {
			return sr, err
		}
	}
	for range 10 {
		now = now.Add(time.Second)
		if pass(); res.Placed == 0 {
			break
		}
	}
	sr.Running, sr.Waiting = s.Jobs(), e.Queued()
	sr.BusyPct = 100 * float64(s.Allocated()) / float64(f.Accelerators)
	sr.FleetState = fmt.Sprintf("full %.0f%% busy", sr.BusyPct)
	kinds := []struct {
		kind   string
		target float64
		before func() error
	}{
		{"nothing changed", 100, func() error { return nil }},
		{"one job ended", 1000, func() error {
			for len(running) > 0 {
				i := rng.IntN(len(running))
				r := running[i]
				running[i] = running[len(running)-1]
				running = running[:len(running)-1]
				if _, ok := s.Release(r, now); ok {
					return nil
				}
			}
			return nil
		}},
		{"one job arrived", 1000, submit},
	}
	for _, k := range kinds {
		bp := benchSaturPass{Kind: k.kind, TargetUS: k.target}
		times := make([]time.Duration, 0, o.saturatedPasses)
		runtime.GC()
		for range o.saturatedPasses {
			now = now.Add(time.Second)
			if err := k.before(); err != nil {
				return sr, err
			}
			times = append(times, pass())
			bp.Placed += res.Placed
		}
		bp.Passes = len(times)
		var total time.Duration
		for _, t := range times {
			total += t
		}
		slices.Sort(times)
		bp.MedianUS = float64(times[len(times)/2].Nanoseconds()) / 1e3
		bp.P99US = float64(times[(len(times)*99+99)/100-1].Nanoseconds()) / 1e3
		bp.MeanUS = float64(total.Nanoseconds()) / 1e3 / float64(bp.Passes)
		sr.Passes = append(sr.Passes, bp)
	}
	return sr, nil
}

// benchPct formats part of whole as a whole percentage.
func benchPct(part, whole int) string {
	return fmt.Sprintf("%.0f%%", 100*float64(part)/float64(max(whole, 1)))
}

func medianRange(xs []float64) (med, lo, hi float64) {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2], s[0], s[len(s)-1]
}

func printBench(w io.Writer, r *benchReport) {
	fmt.Fprintf(w, "engine on %s: %s accelerators, %s nodes, %d sites\n", r.Fleet, human.Int(r.Accelerators), human.Int(r.Nodes), r.Sites)
	fmt.Fprintf(w, "GOMAXPROCS %d, %s %s/%s, median of %d runs; a shared machine's load moves these figures\n",
		r.GoMaxProcs, runtime.Version(), runtime.GOOS, runtime.GOARCH, r.Runs)
	fmt.Fprintf(w, "snapshot build (empty fleet): %.3f s\n\n", r.SnapshotBuildS)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "FLEET\tSHAPE\tJOBS\tPLACED\tSECONDS\tPLACEMENTS/S\tRANGE\tALLOCS/PLACEMENT\tBYTES/PLACEMENT\tTARGET\t")
	for _, s := range r.Results {
		if s.Note != "" {
			fmt.Fprintf(tw, "%s\t%d\t%s\t0\t-\t-\t-\t-\t-\tsee below\t\n", s.FleetState, s.Accelerators, human.Int(s.Jobs))
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%.4f\t%s\t%s-%s\t%.1f\t%.0f\t%s\t\n", s.FleetState, s.Accelerators, human.Int(s.Jobs), human.Int(s.Placed),
			s.Seconds, human.Int(int(s.PlacementsPerS)), human.Int(int(s.PlacementsPerSMin)), human.Int(int(s.PlacementsPerSMax)),
			s.AllocsPerPlacement, s.BytesPerPlacement, benchTarget(s.PlacementsPerS, s.TargetPerS))
	}
	tw.Flush()
	for _, s := range r.Results {
		if s.Note != "" {
			fmt.Fprintf(w, "%s fleet, %d accelerators: %s\n", s.FleetState, s.Accelerators, s.Note)
		}
	}
	if r.PendingJobs > 0 {
		verdict := "ok"
		if r.Pass100kPendingS >= 1 {
			verdict = "MISSED"
		}
		fmt.Fprintf(w, "\n%s fleet: one pass over %s pending jobs (1-32, 1.5%% gangs of 256-1024, backfill): %.3f s (%.3f-%.3f), placed %s, %s allocations; target < 1 s %s\n",
			r.PassFleetState, human.Int(r.PendingJobs), r.Pass100kPendingS, r.PassMinS, r.PassMaxS, human.Int(r.PassPlaced), human.Int(int(r.PassAllocs)), verdict)
		fmt.Fprintf(w, "%s: second pass, %s waiting: %.3f s\n", r.SecondPassFleetState, human.Int(r.SecondPassWaiting), r.SecondPassS)
	}
	printSaturated(w, r)
	if len(r.SteadyState) == 0 {
		return
	}
	fmt.Fprintf(w, "\nsteady: sites held to idle draw + %.0f%% of the rest of their full-load draw; jobs of 1-48 h at 100/80/60%% of TDP, backfill;\n",
		100*r.SteadyState[0].PowerBudget)
	fmt.Fprintf(w, "steady: each pass follows 1-8 job ends and as many arrivals (virtual clock); PASS is the time of one Schedule call\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "FLEET\tSHAPE\tRUNNING\tWAITING\tPASSES\tPLACED\tPASS MEDIAN\tPASS P99\tPLACEMENTS/S\tPOWER-REFUSED\tTARGET\t")
	for _, st := range r.SteadyState {
		levels := make([]string, 0, len(st.PowerRefusedByLevel))
		for l := range st.PowerRefusedByLevel {
			levels = append(levels, l)
		}
		slices.Sort(levels)
		refused := human.Int(st.PowerRefused)
		if len(levels) > 0 {
			refused += " (" + strings.Join(levels, ", ") + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%.1f µs\t%.1f µs\t%s\t%s\t%s\t\n", st.FleetState, st.Shape,
			human.Int(st.Running), human.Count(st.Waiting), human.Int(st.Passes), human.Int(st.Placed),
			st.PassMedianUS, st.PassP99US, human.Int(int(st.PlacementsPerS)), refused, benchTarget(st.PlacementsPerS, st.TargetPerS))
	}
	tw.Flush()
}

// printSaturated prints the saturated runs, one row per policy and kind
// of pass.
func printSaturated(w io.Writer, r *benchReport) {
	if len(r.Saturated) == 0 {
		return
	}
	fmt.Fprintf(w, "\nsaturated: %s waiting on a full fleet, mix of the pass above, no preemption; the clock moves 1 s a pass;\n", human.Int(r.Saturated[0].Waiting))
	fmt.Fprintf(w, "saturated: PASS is the time of one Schedule call after nothing changed, one running job ended, or one job arrived\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "FLEET\tPOLICY\tWAITING\tPASS AFTER\tPASSES\tPLACED\tPASS MEDIAN\tPASS P99\tTARGET\t")
	for _, sr := range r.Saturated {
		for _, p := range sr.Passes {
			verdict := "ok"
			if p.MedianUS >= p.TargetUS {
				verdict = "MISSED"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%.1f µs\t%.1f µs\t< %s µs %s\t\n", sr.FleetState, sr.Policy, human.Int(sr.Waiting),
				p.Kind, human.Int(p.Passes), human.Int(p.Placed), p.MedianUS, p.P99US, human.Int(int(p.TargetUS)), verdict)
		}
	}
	tw.Flush()
}

// benchTarget says whether a rate meets its target ("-" when it has none).
func benchTarget(rate, target float64) string {
	if target <= 0 {
		return "-"
	}
	if rate >= target {
		return ">= " + human.Int(int(target)) + " ok"
	}
	return ">= " + human.Int(int(target)) + " MISSED"
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
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

var benchParent *cobra.Command

// benchCmd returns the one "bench" parent command; each benchmark is a
// subcommand that its own file adds to it (bench engine here).
func benchCmd() *cobra.Command {
	if benchParent == nil {
		benchParent = &cobra.Command{
			Use:   "bench",
			Short: "Measure Stargate's parts on real shapes",
			Args:  cobra.NoArgs,
		}
		benchParent.AddCommand(newBenchEngineCmd())
	}
	return benchParent
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
}

func newBenchEngineCmd() *cobra.Command {
	o := &benchEngineOptions{}
	cmd := &cobra.Command{
		Use:   "engine",
		Short: "Placements per second and scheduling pass time on a fleet file",
		Long: `Runs the scheduling engine on a fleet and prints what it sustains:

  - placements per second for jobs of each shape (by default 1, 8, 256 and
    1024 accelerators, packed into the tightest topology domain), placing
    a batch of jobs into an empty fleet in one pass;
  - the time of one scheduling pass over a large pending queue (by default
    100,000 jobs of mixed sizes under backfill), and of a second pass once
    the fleet is full;
  - heap allocations per placement.

Each figure is the median of --runs runs, with the range. The engine is
single-threaded; --procs sets GOMAXPROCS (1 by default: one core). On a
shared machine the figures move with its load.`,
		Example: `  stargate bench engine                          # the built-in million-gpu example
  stargate bench engine -f examples/stargate.yaml -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The command is built once (bench is a shared parent), so its
			// flags go back to their defaults after each run.
			defer cmd.Flags().VisitAll(func(f *pflag.Flag) {
				_ = f.Value.Set(f.DefValue)
				f.Changed = false
			})
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
	fl.Uint64Var(&o.seed, "seed", 1, "seed of the pending queue's job sizes")
	return cmd
}

// benchShape is the result for one job shape.
type benchShape struct {
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
	Fleet             string       `json:"fleet"`
	Accelerators      int          `json:"accelerators"`
	Nodes             int          `json:"nodes"`
	Sites             int          `json:"sites"`
	GoMaxProcs        int          `json:"gomaxprocs"`
	Runs              int          `json:"runs"`
	SnapshotBuildS    float64      `json:"snapshot_build_s"`
	Results           []benchShape `json:"results"`
	PendingJobs       int          `json:"pending_jobs"`
	Pass100kPendingS  float64      `json:"pass_100k_pending_s"`
	PassMinS          float64      `json:"pass_min_s"`
	PassMaxS          float64      `json:"pass_max_s"`
	PassPlaced        int          `json:"pass_placed"`
	PassAllocs        float64      `json:"pass_allocs"`
	SecondPassS       float64      `json:"second_pass_s"`
	SecondPassWaiting int          `json:"second_pass_waiting"`
	// SteadyState: a fleet kept about 90% full; each pass follows one
	// job's end and places one new job of the shape.
	SteadyState []benchSteady `json:"steady_state,omitempty"`
}

// benchSteady is the steady-state rate for one shape.
type benchSteady struct {
	Accelerators   int     `json:"accelerators"`
	Passes         int     `json:"passes"`
	PlacementsPerS float64 `json:"placements_per_s"`
	UsecPerPass    float64 `json:"usec_per_pass"`
}

var benchEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func runBenchEngine(ctx context.Context, o *benchEngineOptions, w io.Writer) error {
	if o.output != "table" && o.output != "json" {
		return fmt.Errorf("bench engine: --output must be table or json, got %q", o.output)
	}
	if o.runs < 1 || o.pending < 0 || o.procs < 1 {
		return fmt.Errorf("bench engine: --runs and --procs must be >= 1, --pending >= 0")
	}
	var shapes []int
	for _, s := range strings.Split(o.shapes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("bench engine: bad shape %q in --shapes", s)
		}
		shapes = append(shapes, n)
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
	for _, k := range shapes {
		if k > 8 {
			continue
		}
		st, err := benchSteadyState(f, k, o.seed)
		if err != nil {
			return err
		}
		if st.Passes > 0 {
			rep.SteadyState = append(rep.SteadyState, st)
		}
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
	r := benchShape{Shape: strconv.Itoa(k), Accelerators: k, Jobs: jobs}
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
	small := []int{1, 2, 4, 8, 8, 8, 16, 32}
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
			size := small[rng.IntN(len(small))]
			switch x := rng.IntN(1000); {
			case x < 5:
				size = 1024
			case x < 15:
				size = 256
			}
			job := engine.Job{ID: engine.JobID(j + 1), Tenant: tenants[rng.IntN(len(tenants))],
				Accelerators: size, Priority: rng.IntN(3),
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
		t0 = time.Now()
		res = e.Schedule(s, benchEpoch.Add(time.Second))
		rep.SecondPassS = time.Since(t0).Seconds()
		rep.SecondPassWaiting = len(res.Waiting)
	}
	rep.Pass100kPendingS, rep.PassMinS, rep.PassMaxS = medianRange(secs)
	return nil
}

// benchSteadyState fills the fleet to about 90% with jobs of k
// accelerators, then times passes that each follow the end of one random
// running job with the placement of a new one: the per-pass cost a live
// control plane or a simulator pays, on a fragmented fleet.
func benchSteadyState(f *fleet.Fleet, k int, seed uint64) (benchSteady, error) {
	st := benchSteady{Accelerators: k}
	s, err := engine.NewSnapshot(f)
	if err != nil {
		return st, err
	}
	e, err := engine.New(engine.Config{})
	if err != nil {
		return st, err
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	fill := f.Accelerators * 9 / 10 / k
	id := engine.JobID(0)
	for range fill {
		id++
		if err := e.Submit(engine.Job{ID: id, Tenant: "bench", Accelerators: k}, benchEpoch); err != nil {
			return st, err
		}
	}
	running := make([]engine.JobID, 0, fill)
	for _, d := range e.Schedule(s, benchEpoch).Decisions {
		if d.Action == engine.Place {
			running = append(running, d.Job)
		}
	}
	if len(running) == 0 {
		return st, nil
	}
	const passes = 20_000
	now := benchEpoch
	placed := 0
	t0 := time.Now()
	for range passes {
		now = now.Add(time.Second)
		i := rng.IntN(len(running))
		s.Release(running[i], now)
		id++
		if err := e.Submit(engine.Job{ID: id, Tenant: "bench", Accelerators: k}, now); err != nil {
			return st, err
		}
		res := e.Schedule(s, now)
		if res.Placed == 1 {
			running[i] = id
			placed++
		} else {
			running[i] = running[len(running)-1]
			running = running[:len(running)-1]
		}
	}
	d := time.Since(t0)
	st.Passes = passes
	st.PlacementsPerS = float64(placed) / d.Seconds()
	st.UsecPerPass = d.Seconds() * 1e6 / passes
	return st, nil
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
	fmt.Fprintf(w, "snapshot build: %.3f s\n\n", r.SnapshotBuildS)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "SHAPE\tJOBS\tPLACED\tSECONDS\tPLACEMENTS/S\tRANGE\tALLOCS/PLACEMENT\tBYTES/PLACEMENT\tTARGET\t")
	for _, s := range r.Results {
		if s.Note != "" {
			fmt.Fprintf(tw, "%d\t%s\t0\t-\t-\t-\t-\t-\tsee below\t\n", s.Accelerators, human.Int(s.Jobs))
			continue
		}
		target := "-"
		if s.TargetPerS > 0 {
			target = ">= " + human.Int(int(s.TargetPerS))
			if s.PlacementsPerS >= s.TargetPerS {
				target += " ok"
			} else {
				target += " MISSED"
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%.4f\t%s\t%s-%s\t%.1f\t%.0f\t%s\t\n", s.Accelerators, human.Int(s.Jobs), human.Int(s.Placed),
			s.Seconds, human.Int(int(s.PlacementsPerS)), human.Int(int(s.PlacementsPerSMin)), human.Int(int(s.PlacementsPerSMax)),
			s.AllocsPerPlacement, s.BytesPerPlacement, target)
	}
	tw.Flush()
	for _, s := range r.Results {
		if s.Note != "" {
			fmt.Fprintf(w, "%d accelerators: %s\n", s.Accelerators, s.Note)
		}
	}
	if r.PendingJobs > 0 {
		verdict := "ok"
		if r.Pass100kPendingS >= 1 {
			verdict = "MISSED"
		}
		fmt.Fprintf(w, "\none pass over %s pending jobs (1-32, 1.5%% gangs of 256-1024, backfill, empty fleet): %.3f s (%.3f-%.3f), placed %s, %s allocations; target < 1 s %s\n",
			human.Int(r.PendingJobs), r.Pass100kPendingS, r.PassMinS, r.PassMaxS, human.Int(r.PassPlaced), human.Int(int(r.PassAllocs)), verdict)
		fmt.Fprintf(w, "second pass, fleet full, %s waiting: %.3f s\n", human.Int(r.SecondPassWaiting), r.SecondPassS)
	}
	for _, st := range r.SteadyState {
		fmt.Fprintf(w, "steady state, %d-accelerator jobs, fleet 90%% full, one end and one placement per pass: %s placements/s (%.1f µs per pass, %s passes)\n",
			st.Accelerators, human.Int(int(st.PlacementsPerS)), st.UsecPerPass, human.Int(st.Passes))
	}
}

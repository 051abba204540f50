package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"stargate/engine"
	"stargate/fleet"
	"stargate/internal/human"
	"stargate/sim"
	"stargate/trace"
)

func init() { register(newSimCmd) }

type simFlags struct {
	src       fleetSource
	traces    []string
	columns   string
	synthetic bool
	syn       trace.Synthetic
	sizes     string
	span      time.Duration
	median    time.Duration
	scale     int
	strict    bool
	policy    string
	compare   string
	output    string
	outDir    string
	cfg       sim.Config
	quiet     bool
	inferAcc  int
	tokens    float64
	load      float64
	maxDur    time.Duration
	las       []float64
	synJobs   int // the synthetic jobs generated
	gridFile  string
	gridEvs   []string
	naive     bool
	ramp      float64
	infShare  float64
	infSize   int
	infLoad   float64
}

func newSimCmd() *cobra.Command {
	def := sim.Default()
	f := simFlags{cfg: def} // fields without a flag keep their defaults
	syn := trace.DefaultSynthetic()
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Replay a workload on a fleet with the scheduling engine, on a virtual clock",
		Long: `Sim is Stargate's digital twin. It replays a recorded or synthetic workload
on a fleet file with the same scheduling engine the server runs, on a virtual
clock, and reports what would happen: completion and queueing times,
utilization, power at every level of the power tree against its limit, caps
and their slowdown, failures and the work they cost, energy, emissions and
cost.

Workloads:
  --trace itp:PATH         ITP 2021 jobs (job_id,submission_time,duration,num_gpu);
                           repeat the flag for several files, each its own tenant
  --trace csv:PATH         any CSV of jobs, with --columns mapping its columns
  --trace azure-llm:PATH   Azure LLM inference requests (TIMESTAMP,ContextTokens,
                           GeneratedTokens): an inference service of
                           --inference-accelerators whose load follows the
                           requests' tokens per minute over --tokens-per-s each
  --synthetic              generated jobs (--jobs, --span, --sizes, --duration-median, --tenants)
With no --trace, a synthetic workload runs: by default jobs arrive for 6 h
offering 1.5 times the fleet's accelerator-hours, so that they queue and
policies differ. --scale K replicates the workload
into K tenants with shifted arrivals to fill a large fleet. Bad rows are
skipped and counted (the first line numbers are shown), or fail with --strict.

Grid events (curtailment, demand response) cut a site's or a region's
draw for a while: --grid-event site=abilene,start=14h,duration=3h,target=75%,
notice=10m,kind=mandatory (repeatable; region=NAME for a region, target=120MW
for an absolute facility target, kind=voluntary with price=USD_PER_MWH) or
--grid-events FILE (YAML: a list of events with those keys; CSV: a header row
of them). The engine plans the shed: it keeps flexible work out of the scope,
moves what can restart elsewhere, caps training and batch jobs lowest
priority first, stops them only when caps cannot reach the target, and
touches inference (not flexible) last. Each event is reported (JSON
grid_events, and a table): baseline and target MW, the peak after the
response window (--response-window) and the seconds over target, time to
comply, energy shed, accelerator-hours slowed and lost, jobs preempted and
moved, the share of inference demand served, cost and emissions avoided.
--naive-shed runs the workload again with a plain shed (stop the lowest
priority until under target) to compare. --inference-share F adds
inference services holding that share of the accelerators, and --ramp
MW_PER_MIN sets every site's ramp limit.

The same --seed gives the same result, byte for byte, except the wall time
(wall_s, events_per_s). Backfill is given each job's true duration as its
estimate, which flatters it next to real users' estimates.`,
		Example: `  stargate sim                                     # 6 h of synthetic jobs at 150% load on the built-in example fleet
  stargate sim --compare fifo,backfill,fair --out run/
  stargate sim -f examples/small.yaml --trace itp:../shared/data/traces/itp2021/cluster05.csv
  stargate sim --trace csv:jobs.csv --columns submit=start,duration=runtime,gpus=gpus,unit=60
  stargate sim --example million-gpu --synthetic --jobs 2000000 --span 8760h -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runSim(cmd, &f) },
	}
	fl := cmd.Flags()
	f.src.addFlags(cmd, "stargate")
	fl.StringArrayVar(&f.traces, "trace", nil, "workload trace: itp:PATH, csv:PATH or azure-llm:PATH (repeatable)")
	fl.StringVar(&f.columns, "columns", "", "column mapping for csv: traces, e.g. submit=start,duration=runtime,gpus=gpus,id=job,tenant=user,priority=prio,unit=1")
	fl.BoolVar(&f.synthetic, "synthetic", false, "generate a synthetic workload (the default when no --trace is given)")
	fl.IntVar(&f.syn.Jobs, "jobs", 0, "synthetic: number of jobs (default: enough for --load)")
	fl.Float64Var(&f.load, "load", sim.DefaultLoad, "synthetic: offered load, the jobs' accelerator-hours over the fleet's during --span (above 1, jobs queue)")
	fl.DurationVar(&f.span, "span", sim.DefaultSpan, "synthetic: arrivals spread over this long")
	fl.StringVar(&f.sizes, "sizes", sizesFlag(trace.DefaultSizes), "synthetic: job sizes as accelerators:weight,...")
	fl.DurationVar(&f.median, "duration-median", time.Duration(syn.DurationMedian)*time.Second, "synthetic: median job duration (log-normal)")
	fl.Float64Var(&f.syn.DurationSigma, "duration-sigma", syn.DurationSigma, "synthetic: log-normal sigma of durations")
	fl.DurationVar(&f.maxDur, "duration-max", time.Duration(syn.MaxDuration)*time.Second, "synthetic: longest job duration")
	fl.IntVar(&f.syn.Tenants, "tenants", syn.Tenants, "synthetic: number of tenants")
	fl.IntVar(&f.scale, "scale", 1, "replicate the workload into K tenants with shifted arrivals")
	fl.BoolVar(&f.strict, "strict", false, "fail on the first bad trace row instead of skipping it")
	fl.StringVar(&f.policy, "policy", def.Engine.Queue, "queue policy: "+strings.Join(engine.NewRegistry().QueueNames(), ", "))
	fl.StringVar(&f.compare, "compare", "", "run several policies on the same workload, e.g. fifo,backfill,fair")
	fl.StringVar(&f.cfg.Engine.Sites, "sites", "", "site policy for multi-site dispatch: "+strings.Join(engine.NewRegistry().SiteNames(), ", "))
	fl.Uint64Var(&f.cfg.Seed, "seed", def.Seed, "seed of every random stream (failures, synthetic workload)")
	fl.BoolVar(&f.cfg.Failures, "failures", false, "simulate accelerator failures")
	fl.DurationVar(&f.cfg.MTBF, "mtbf", def.MTBF, "mean time between failures of one accelerator (default: Llama 3 report)")
	fl.DurationVar(&f.cfg.RepairTime, "repair", def.RepairTime, "time a failed node is out")
	fl.DurationVar(&f.cfg.Checkpoint, "checkpoint", def.Checkpoint, "checkpoint interval of jobs")
	fl.Float64Var(&f.cfg.Utilization, "utilization", def.Utilization, "a running job's mean load between idle (0) and TDP (1)")
	fl.Float64Var(&f.cfg.Swing, "swing", def.Swing, "amplitude of the compute/communication swing, fraction of TDP - idle")
	fl.DurationVar(&f.cfg.SwingPeriod, "swing-period", def.SwingPeriod, "period of the swing")
	fl.DurationVar(&f.cfg.ReactionDelay, "reaction-delay", def.ReactionDelay, "power controller reaction delay")
	fl.BoolVar(&f.cfg.Engine.Preemption, "preemption", false, "let higher-priority jobs preempt (under las: jobs of an earlier queue)")
	fl.Float64SliceVar(&f.las, "las-thresholds", []float64{engine.DefaultLASThresholds[0] / 3600, engine.DefaultLASThresholds[1] / 3600},
		"las: attained service, in accelerator-hours, at which a job moves to the next queue")
	fl.DurationVar(&f.cfg.SampleInterval, "sample", 0, "time-series sample interval (default: about 2,000 samples)")
	fl.DurationVar(&f.cfg.PassInterval, "pass-interval", def.PassInterval, "least time between two scheduling passes")
	fl.DurationVar(&f.cfg.Horizon, "horizon", 0, "stop at this virtual time (default: when all jobs finish)")
	fl.StringVarP(&f.output, "output", "o", "table", "output: table or json")
	fl.StringVar(&f.outDir, "out", "", "write summary.json, jobs CSV, series CSV and report.html to this directory")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress bar")
	fl.IntVar(&f.inferAcc, "inference-accelerators", 8, "azure-llm: accelerators of the inference service")
	fl.StringVar(&f.gridFile, "grid-events", "", "grid events from a YAML or CSV file (keys: "+strings.Join(sim.GridEventKeys, ", ")+")")
	fl.StringArrayVar(&f.gridEvs, "grid-event", nil, "a grid event, e.g. site=abilene,start=14h,duration=3h,target=75%,notice=10m,kind=mandatory (repeatable)")
	fl.BoolVar(&f.naive, "naive-shed", false, "also run with a naive shed (stop the lowest priority until under target), to compare")
	fl.DurationVar(&f.cfg.ResponseWindow, "response-window", def.ResponseWindow, "time a scope has from an event's start to come under its target")
	fl.Float64Var(&f.ramp, "ramp", 0, "every site's ramp limit, MW a minute at the facility (default: the fleet file's)")
	fl.Float64Var(&f.infShare, "inference-share", 0, "inference services holding this share of the accelerators for the whole run (0 to 0.9)")
	fl.IntVar(&f.infSize, "inference-size", 64, "accelerators of each inference service")
	fl.Float64Var(&f.infLoad, "inference-load", 0.6, "load of the inference services, between idle (0) and TDP (1)")
	fl.Float64Var(&f.tokens, "tokens-per-s", 2000, "azure-llm: tokens one accelerator serves a second (an assumption; context and generated alike)")
	return cmd
}

func runSim(cmd *cobra.Command, f *simFlags) error {
	stderr := cmd.ErrOrStderr()
	if f.output != "table" && f.output != "json" {
		return fmt.Errorf("sim: --output must be table or json, got %q", f.output)
	}
	if f.scale < 1 {
		return fmt.Errorf("sim: --scale must be >= 1, got %d", f.scale)
	}
	fl, err := f.src.load()
	if err != nil {
		return err
	}
	if err := f.gridSetup(cmd, fl); err != nil {
		return err
	}
	jobs, err := f.workload(cmd, stderr, fl.Accelerators)
	if err != nil {
		return err
	}
	if err := trace.ScaleOK(len(jobs), f.scale); err != nil {
		return fmt.Errorf("sim: --scale: %w", err)
	}
	jobs = trace.Scale(jobs, f.scale)
	policies := []string{f.policy}
	if f.compare != "" {
		if cmd.Flags().Changed("policy") {
			return fmt.Errorf("sim: give --policy or --compare, not both")
		}
		policies = strings.Split(f.compare, ",")
	}
	reg := engine.NewRegistry()
	seen := map[string]bool{}
	for i, p := range policies {
		p = strings.TrimSpace(p)
		if _, err := reg.Queue(p); err != nil {
			return fmt.Errorf("sim: %w", err)
		}
		if seen[p] {
			return fmt.Errorf("sim: --compare names %q twice", p)
		}
		seen[p], policies[i] = true, p
	}
	for _, h := range f.las {
		f.cfg.Engine.LASThresholds = append(f.cfg.Engine.LASThresholds, h*3600)
	}
	var results []*sim.Result
	for _, p := range policies {
		for _, naive := range []bool{false, true} {
			if naive && !f.naive {
				continue
			}
			cfg := f.cfg
			cfg.Engine.Queue = strings.TrimSpace(p)
			cfg.Engine.Grid.Naive = naive
			bar := newProgress(stderr, cfg.Engine.Queue, len(jobs))
			if !f.quiet && bar.terminal() {
				cfg.Progress = bar.update
			}
			s, err := sim.New(fl, jobs, cfg)
			if err != nil {
				return err
			}
			r := s.Run()
			bar.clear()
			if naive {
				r.Policy += "+naive-shed"
			}
			results = append(results, r)
		}
	}
	if f.outDir != "" {
		params := append([]sim.Param{{Name: "fleet", Value: fmt.Sprintf("%s: %s accelerators in %s",
			f.src.name(), human.Int(fl.Accelerators), sim.Plural(len(fl.Sites), "site"))}}, f.workloadParams(cmd, len(jobs))...)
		if err := writeSimDir(f.outDir, "Stargate sim: "+f.src.name(), params, results); err != nil {
			return err
		}
	}
	if f.output == "json" {
		return sim.WriteJSON(cmd.OutOrStdout(), results)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s: %s accelerators, %s jobs\n\n", f.src.name(), human.Int(fl.Accelerators), human.Int(len(jobs)))
	if err := sim.WriteTable(cmd.OutOrStdout(), results); err != nil {
		return err
	}
	return sim.WriteGridTable(cmd.OutOrStdout(), results)
}

// gridSetup reads the grid events, the ramp override and the inference
// services into the run's configuration.
func (f *simFlags) gridSetup(cmd *cobra.Command, fl *fleet.Fleet) error {
	if f.gridFile != "" {
		r, err := os.Open(f.gridFile)
		if err != nil {
			return fmt.Errorf("sim: %w", err)
		}
		evs, err := sim.ReadGridEvents(r, f.gridFile)
		r.Close()
		if err != nil {
			return err
		}
		f.cfg.GridEvents = append(f.cfg.GridEvents, evs...)
	}
	for _, spec := range f.gridEvs {
		ev, err := sim.ParseGridEvent(spec)
		if err != nil {
			return err
		}
		f.cfg.GridEvents = append(f.cfg.GridEvents, ev)
	}
	if f.naive && len(f.cfg.GridEvents) == 0 {
		return fmt.Errorf("sim: --naive-shed compares the shed of grid events: give --grid-event or --grid-events")
	}
	if cmd.Flags().Changed("ramp") {
		if !(f.ramp >= 0) {
			return fmt.Errorf("sim: --ramp must be >= 0 MW a minute, got %g", f.ramp)
		}
		for i := range fl.Sites {
			fl.Sites[i].RampMWPerMin = f.ramp
		}
	}
	if f.infShare != 0 {
		if !(f.infShare > 0 && f.infShare <= 0.9) || f.infSize < 1 {
			return fmt.Errorf("sim: --inference-share must be in (0, 0.9] and --inference-size >= 1")
		}
		span := f.span
		if f.cfg.Horizon > 0 {
			span = f.cfg.Horizon
		}
		f.cfg.Services = &sim.Services{Count: int(f.infShare * float64(fl.Accelerators) / float64(f.infSize)),
			Accelerators: f.infSize, Load: f.infLoad, Span: span}
	}
	return nil
}

// sizesFlag writes job sizes as --sizes reads them: "1:40,8:24".
func sizesFlag(sizes []trace.Size) string {
	parts := make([]string, len(sizes))
	for i, z := range sizes {
		parts[i] = strconv.Itoa(z.Accelerators) + ":" + strconv.FormatFloat(z.Weight, 'g', -1, 64)
	}
	return strings.Join(parts, ",")
}

// workload builds the jobs: synthetic, traces, or both.
func (f *simFlags) workload(cmd *cobra.Command, stderr io.Writer, accelerators int) ([]trace.Job, error) {
	var jobs []trace.Job
	if len(f.traces) == 0 || f.synthetic {
		syn := trace.DefaultSynthetic()
		syn.Jobs, syn.Span, syn.DurationSigma, syn.Tenants, syn.Seed = f.syn.Jobs, f.span.Seconds(), f.syn.DurationSigma, f.syn.Tenants, f.cfg.Seed
		syn.DurationMedian, syn.MaxDuration = f.median.Seconds(), f.maxDur.Seconds()
		sizes, err := trace.ParseSizes(f.sizes)
		if err != nil {
			return nil, err
		}
		syn.Sizes = sizes
		if syn.Jobs == 0 {
			if !(f.load > 0 && f.load <= 10) {
				return nil, fmt.Errorf("sim: --load must be in (0, 10], got %g", f.load)
			}
			syn.Jobs = sim.JobsForLoad(&syn, accelerators, f.load)
		}
		g, err := trace.NewGenerator(syn)
		if err != nil {
			return nil, err
		}
		jobs = g.All()
		f.synJobs = len(jobs)
	} else {
		for _, name := range []string{"jobs", "load", "span", "sizes", "duration-median", "duration-sigma", "duration-max", "tenants"} {
			if cmd.Flags().Changed(name) {
				return nil, fmt.Errorf("sim: --%s shapes a synthetic workload: add --synthetic", name)
			}
		}
	}
	traced, err := f.readTraces(stderr)
	if err != nil {
		return nil, err
	}
	jobs = append(jobs, traced...)
	trace.SortBySubmit(jobs)
	return jobs, nil
}

func (f *simFlags) readTraces(stderr io.Writer) ([]trace.Job, error) {
	var all []trace.Job
	for _, t := range f.traces {
		kind, path, ok := strings.Cut(t, ":")
		if !ok {
			return nil, fmt.Errorf("sim: --trace %q: want KIND:PATH with KIND itp, csv or azure-llm", t)
		}
		var cols trace.Columns
		switch kind {
		case "itp":
			cols = trace.ITPColumns
		case "csv":
			c, err := trace.ParseColumns(f.columns)
			if err != nil {
				return nil, fmt.Errorf("sim: --trace csv: needs --columns: %w", err)
			}
			cols = c
		case "azure-llm":
			if err := f.readInference(path, stderr); err != nil {
				return nil, err
			}
			continue
		default:
			return nil, fmt.Errorf("sim: --trace %q: unknown kind %q (itp, csv, azure-llm)", t, kind)
		}
		r, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("sim: %w", err)
		}
		tenant := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		jobs, rep, err := trace.ReadJobs(r, path, cols, trace.Options{Strict: f.strict, Tenant: tenant})
		r.Close()
		if err != nil {
			return nil, err
		}
		if rep.Skipped > 0 {
			fmt.Fprintln(stderr, "warning:", rep)
		}
		for i := range jobs {
			jobs[i].ID = tenant + "/" + jobs[i].ID
		}
		all = append(all, jobs...)
	}
	return all, nil
}

// readInference reads an Azure LLM request trace into the inference
// service's load; --scale multiplies the request rate.
func (f *simFlags) readInference(path string, stderr io.Writer) error {
	if f.cfg.Inference != nil {
		return fmt.Errorf("sim: one azure-llm trace at a time")
	}
	r, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	defer r.Close()
	reqs, rep, err := trace.ReadAzureLLM(r, path, trace.Options{Strict: f.strict})
	if err != nil {
		return err
	}
	if rep.Skipped > 0 {
		fmt.Fprintln(stderr, "warning:", rep)
	}
	if f.inferAcc < 1 || !(f.tokens > 0) {
		return fmt.Errorf("sim: --inference-accelerators must be >= 1 and --tokens-per-s > 0")
	}
	load := sim.InferenceLoad(reqs, f.inferAcc, f.tokens/float64(f.scale), time.Minute)
	if len(load) == 0 {
		return fmt.Errorf("sim: %s has no requests", path)
	}
	f.cfg.Inference = &sim.Inference{Accelerators: f.inferAcc, Load: load, Bucket: time.Minute}
	return nil
}

// workloadParams describes the workload for the report.
func (f *simFlags) workloadParams(cmd *cobra.Command, jobs int) []sim.Param {
	var ps []sim.Param
	if len(f.traces) == 0 || f.synthetic {
		load := fmt.Sprintf("%g%% of the fleet's accelerator-hours", 100*f.load)
		if cmd.Flags().Changed("jobs") {
			load = "set by --jobs"
		}
		ps = append(ps,
			sim.Param{Name: "synthetic workload", Value: fmt.Sprintf("%s jobs arriving over %s, offered load %s", human.Int(f.synJobs), sim.DurationText(f.span), load)},
			sim.Param{Name: "job sizes (accelerators:weight)", Value: f.sizes},
			sim.Param{Name: "job durations", Value: fmt.Sprintf("log-normal, median %s, sigma %g, at most %s", sim.DurationText(f.median), f.syn.DurationSigma, sim.DurationText(f.maxDur))},
			sim.Param{Name: "tenants", Value: strconv.Itoa(f.syn.Tenants)})
	}
	for _, t := range f.traces {
		ps = append(ps, sim.Param{Name: "trace", Value: t})
	}
	if f.scale > 1 {
		ps = append(ps, sim.Param{Name: "scale", Value: fmt.Sprintf("×%d (tenants with shifted arrivals)", f.scale)})
	}
	return append(ps, sim.Param{Name: "jobs in all", Value: human.Int(jobs)})
}

func writeSimDir(dir, title string, params []sim.Param, rs []*sim.Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "summary.json"), func(w io.Writer) error { return sim.WriteJSON(w, rs) }); err != nil {
		return err
	}
	for _, r := range rs {
		suffix := ""
		if len(rs) > 1 {
			suffix = "-" + r.Policy
		}
		if err := writeFile(filepath.Join(dir, "jobs"+suffix+".csv"), func(w io.Writer) error { return sim.WriteJobsCSV(w, r) }); err != nil {
			return err
		}
		if err := writeFile(filepath.Join(dir, "series"+suffix+".csv"), func(w io.Writer) error { return sim.WriteSeriesCSV(w, r) }); err != nil {
			return err
		}
	}
	return writeFile(filepath.Join(dir, "report.html"), func(w io.Writer) error { return sim.WriteHTML(w, title, params, rs) })
}

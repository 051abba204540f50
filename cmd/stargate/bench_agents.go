package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"stargate/agent"
	"stargate/client"
	"stargate/internal/bench"
	"stargate/internal/human"
	"stargate/server"
	"stargate/store"
)

func init() { benchCmd().AddCommand(newBenchAgentsCmd()) }

// The target of the agents benchmark: a control plane on 2 cores answers
// TargetNodes nodes heartbeating every TargetHeartbeat with p99 under
// TargetBeatP99 while its process uses less than TargetCores of CPU, and a
// placed job starts on its node within TargetStartBeats heartbeats.
const (
	TargetNodes      = 10_000
	TargetHeartbeat  = 10 * time.Second
	TargetBeatP99    = 100 * time.Millisecond
	TargetCores      = 1.0
	TargetStartBeats = 2
)

type benchAgentsFlags struct {
	src         fleetSource
	nodes       int
	heartbeat   time.Duration
	duration    time.Duration
	store       string
	jobs        int
	jobDuration time.Duration
	output      string
	quiet       bool
}

func newBenchAgentsCmd() *cobra.Command {
	var f benchAgentsFlags
	cmd := &cobra.Command{
		Use:   "agents",
		Short: "Heartbeats per second, their latency and the server's CPU under many simulated nodes",
		Long: `Bench agents starts 'stargate server' as a child process on 127.0.0.1 with a
fresh store, runs --nodes simulated nodes of the fleet against it from this
process (as 'stargate agent --simulate' does: each registers, heartbeats
with its own credential and fake devices' telemetry, runs the jobs placed
on it and applies caps), and once every node has registered and beaten
once, measures for --duration:

  - heartbeats per second the server answered, and their latency p50/p99
    as the nodes saw it (per request, client-side);
  - the server process's CPU time (utime+stime from /proc) in cores and
    its resident memory; this process's, and the rest of the machine's;
  - the time from a job's placement (its started_at) to its start on the
    simulated node, over --jobs small jobs submitted during the run.

It then says whether the target holds: 10,000 nodes at a 10 s heartbeat
with p99 < 100 ms and server CPU under one core, and jobs starting within
two heartbeats of their placement. The server and the simulated nodes
share the machine; the report says how busy the rest of it was.

With a postgres:// URL as --store, the benchmark creates a schema there
and drops it afterwards.`,
		Example: `  stargate bench agents
  stargate bench agents --nodes 2000 --heartbeat 2s --duration 30s
  stargate bench agents --store postgres://postgres@127.0.0.1:5432/bench -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The command is built once (bench is a shared parent), so its
			// flags go back to their defaults after each run.
			defer cmd.Flags().VisitAll(func(fl *pflag.Flag) {
				_ = fl.Value.Set(fl.DefValue)
				fl.Changed = false
			})
			return runBenchAgents(cmd.Context(), &f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f.src.addFlags(cmd, "million-gpu")
	fl := cmd.Flags()
	fl.IntVar(&f.nodes, "nodes", TargetNodes, "simulated nodes: the first ones of the fleet")
	fl.DurationVar(&f.heartbeat, "heartbeat", TargetHeartbeat, "each node's heartbeat period")
	fl.DurationVar(&f.duration, "duration", time.Minute, "measured time, after every node registered and beat once")
	fl.StringVar(&f.store, "store", "sqlite", "the server's store: sqlite, or a postgres:// URL (a fresh schema is made there)")
	fl.IntVar(&f.jobs, "jobs", 300, "small jobs (one accelerator each) submitted during the first half of the measured time")
	fl.DurationVar(&f.jobDuration, "job-duration", 5*time.Second, "run time of each job (duration_s)")
	fl.StringVarP(&f.output, "output", "o", "table", "output format: table or json")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress line")
	return cmd
}

// benchAgentsReport is what "bench agents -o json" prints.
type benchAgentsReport struct {
	Fleet      string  `json:"fleet"`
	Store      string  `json:"store"`
	Nodes      int     `json:"nodes"`
	HeartbeatS float64 `json:"heartbeat_s"`
	Registered int     `json:"registered"`
	RegisterS  float64 `json:"register_s"`
	MeasuredS  float64 `json:"measured_s"`

	Beats         int     `json:"beats"`
	BeatErrors    int     `json:"beat_errors"`
	FirstError    string  `json:"first_error,omitempty"`
	BeatsPerS     float64 `json:"beats_per_s"`
	ExpectedPerS  float64 `json:"expected_beats_per_s"`
	BeatP50Ms     float64 `json:"beat_p50_ms"`
	BeatP99Ms     float64 `json:"beat_p99_ms"`
	BeatMaxMs     float64 `json:"beat_max_ms"`
	ServerCPUS    float64 `json:"server_cpu_s"`
	ServerCores   float64 `json:"server_cores"`
	ServerRSSMiB  float64 `json:"server_rss_mib"`
	ServerPeakMiB float64 `json:"server_peak_rss_mib"`
	NodesCores    float64 `json:"nodes_cores"` // this process: the simulated nodes and the load driver
	NodesRSSMiB   float64 `json:"nodes_rss_mib"`
	OtherCores    float64 `json:"other_cores"` // the rest of the machine
	MachineCores  int     `json:"machine_cores"`

	JobsSubmitted int     `json:"jobs_submitted"`
	JobsStarted   int     `json:"jobs_started"`
	JobsSucceeded int     `json:"jobs_succeeded"`
	StartP50S     float64 `json:"start_p50_s"`
	StartP99S     float64 `json:"start_p99_s"`
	StartMaxS     float64 `json:"start_max_s"`

	BeatTargetMet  bool `json:"beat_target_met"`
	StartTargetMet bool `json:"start_target_met"`
}

func runBenchAgents(ctx context.Context, f *benchAgentsFlags, stdout, stderr io.Writer) error {
	if f.output != "table" && f.output != "json" {
		return fmt.Errorf("bench agents: --output must be table or json, got %q", f.output)
	}
	if f.nodes < 1 || f.heartbeat <= 0 || f.duration <= 0 || f.jobs < 0 || f.jobDuration < time.Second {
		return fmt.Errorf("bench agents: --nodes must be >= 1, --heartbeat and --duration > 0, --jobs >= 0, --job-duration >= 1s")
	}
	fl, err := f.src.load()
	if err != nil {
		return fmt.Errorf("bench agents: %w", err)
	}
	if f.nodes > len(fl.Nodes) {
		return fmt.Errorf("bench agents: the fleet (%s) has %s nodes, fewer than --nodes %s", f.src.name(), human.Int(len(fl.Nodes)), human.Int(f.nodes))
	}
	rep := benchAgentsReport{Fleet: f.src.name(), Store: storeKind(f.store), Nodes: f.nodes, HeartbeatS: f.heartbeat.Seconds(),
		MachineCores: runtime.NumCPU()}
	dir, err := os.MkdirTemp("", "stargate-bench-agents-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	storeArg := f.store
	if rep.Store == "postgres" {
		dsn, drop, err := bench.FreshSchema(ctx, f.store)
		if err != nil {
			return fmt.Errorf("bench agents: %w", err)
		}
		defer drop()
		storeArg = dsn
	}
	args := []string{"server", "--data", dir, "--listen", "127.0.0.1:0", "--store", storeArg,
		"--heartbeat-timeout", max(30*time.Second, 3*f.heartbeat).String()}
	switch {
	case f.src.file != "":
		abs, err := filepath.Abs(f.src.file)
		if err != nil {
			return err
		}
		args = append(args, "--fleet", abs)
	case f.src.example != "":
		args = append(args, "--example", f.src.example)
	default:
		args = append(args, "--example", f.src.def)
	}
	srv, err := startServerProcess(ctx, dir, args)
	if err != nil {
		return fmt.Errorf("bench agents: %w", err)
	}
	defer srv.stop()

	adminTok, err := os.ReadFile(filepath.Join(dir, server.AdminTokenFile))
	if err != nil {
		return fmt.Errorf("bench agents: %w", err)
	}
	admin := client.New(srv.url, strings.TrimSpace(string(adminTok)))
	join, err := admin.CreateToken(ctx, server.TokenRequest{Role: store.RoleAgent, Name: "bench agents"})
	if err != nil {
		return fmt.Errorf("bench agents: join token: %w", err)
	}

	// What the nodes see: heartbeat latencies while measuring, and every
	// job's start.
	var (
		measuring atomic.Bool
		mu        sync.Mutex
		lat       []time.Duration
		beatErrs  int
		firstErr  string
		starts    = map[string]time.Duration{} // job ID -> placement to start
	)
	names := make([]string, f.nodes)
	for i := range names {
		names[i] = fl.NodeName(i)
	}
	sim, err := agent.NewSimulator(agent.SimConfig{Server: srv.url, JoinToken: join.Secret, Nodes: names, Heartbeat: f.heartbeat,
		Seed: 1, Log: slog.New(slog.DiscardHandler),
		OnBeat: func(_ string, d time.Duration, err error) {
			if !measuring.Load() {
				return
			}
			mu.Lock()
			if err != nil {
				if beatErrs++; firstErr == "" {
					firstErr = err.Error()
				}
			} else {
				lat = append(lat, d)
			}
			mu.Unlock()
		},
		OnStart: func(_ string, j store.Job, seen time.Time) {
			mu.Lock()
			if _, ok := starts[j.ID]; !ok {
				starts[j.ID] = seen.Sub(j.StartedAt)
			}
			mu.Unlock()
		},
	})
	if err != nil {
		return err
	}
	sctx, stopSim := context.WithCancel(ctx)
	var simErr error
	simDone := make(chan struct{})
	go func() { simErr = sim.Run(sctx); close(simDone) }()
	defer func() { stopSim(); <-simDone }()

	bar := newProgress(stderr, "", 0)
	show := !f.quiet && bar.terminal()
	status := func(format string, args ...any) {
		if show {
			bar.drawn = true
			fmt.Fprintf(bar.w, "\r%-100s", fmt.Sprintf(format, args...))
		}
	}
	defer bar.clear()

	// Registration: every node joins, spread over the first period.
	t0 := time.Now()
	deadline := t0.Add(max(2*time.Minute, 10*f.heartbeat))
	for {
		st := sim.Stats()
		status("registering: %s of %s nodes, %s refused, %.0f s", human.Int(st.Registered), human.Int(f.nodes), human.Int(st.Refused), time.Since(t0).Seconds())
		if st.Registered+st.Refused >= f.nodes || time.Now().After(deadline) {
			rep.Registered = st.Registered
			break
		}
		select {
		case <-simDone:
			return fmt.Errorf("bench agents: the simulated nodes stopped: %v", simErr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	rep.RegisterS = time.Since(t0).Seconds()
	if rep.Registered == 0 {
		return fmt.Errorf("bench agents: no node registered in %.0f s; server log:\n%s", rep.RegisterS, srv.logTail())
	}
	// One more period, so that every node beats in its steady rhythm.
	if !sleepStatus(ctx, f.heartbeat, func(left time.Duration) {
		status("settling: every node beats once, %.0f s", left.Seconds())
	}) {
		return ctx.Err()
	}

	// The measured window.
	cpu0, err := procCPU(srv.cmd.Process.Pid)
	if err != nil {
		return fmt.Errorf("bench agents: %w", err)
	}
	self0, machine0 := selfCPU(), machineCPU()
	w0 := time.Now()
	measuring.Store(true)
	stats0 := sim.Stats()
	var submitted []string
	var submitErr error
	submitDone := make(chan struct{})
	go func() {
		defer close(submitDone)
		if f.jobs == 0 {
			return
		}
		gap := f.duration / 2 / time.Duration(f.jobs)
		secs := int64(f.jobDuration.Round(time.Second) / time.Second)
		spec := store.JobSpec{Name: "bench-agents", Tenant: "bench", Accelerators: 1, DurationS: secs, Power: agent.DefaultLoad,
			Command: []string{"sleep", strconv.FormatInt(secs, 10)}}
		for i := range f.jobs {
			if !sleepUntil(ctx, w0.Add(time.Duration(i)*gap)) {
				return
			}
			j, err := admin.SubmitSpec(ctx, spec, "")
			if err != nil {
				submitErr = err
				return
			}
			submitted = append(submitted, j.ID)
		}
	}()
	if !sleepStatus(ctx, f.duration, func(left time.Duration) {
		st := sim.Stats()
		status("measuring: %.0f s left, %s heartbeats, %s errors, %s jobs started", left.Seconds(),
			human.Int(int(st.Beats-stats0.Beats)), human.Int(int(st.BeatErrors-stats0.BeatErrors)), human.Int(int(st.Started-stats0.Started)))
	}) {
		return ctx.Err()
	}
	measuring.Store(false)
	elapsed := time.Since(w0).Seconds()
	cpu1, err := procCPU(srv.cmd.Process.Pid)
	if err != nil {
		return fmt.Errorf("bench agents: %w", err)
	}
	self1, machine1 := selfCPU(), machineCPU()
	rep.ServerRSSMiB, rep.ServerPeakMiB = procRSS(srv.cmd.Process.Pid)
	rep.NodesRSSMiB, _ = procRSS(os.Getpid())
	<-submitDone
	if submitErr != nil {
		return fmt.Errorf("bench agents: submit: %w", submitErr)
	}

	// The last jobs submitted start after the window; wait for them (up
	// to a few periods), then for the ends of those started.
	wantStarted := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, id := range submitted {
			if _, ok := starts[id]; ok {
				n++
			}
		}
		return n
	}
	waitUntil := time.Now().Add(3*f.heartbeat + f.jobDuration)
	for wantStarted() < len(submitted) && time.Now().Before(waitUntil) {
		status("waiting for the last jobs to start: %d of %d", wantStarted(), len(submitted))
		if !sleepUntil(ctx, time.Now().Add(100*time.Millisecond)) {
			return ctx.Err()
		}
	}
	stopSim()
	<-simDone
	if simErr != nil {
		return fmt.Errorf("bench agents: %w", simErr)
	}
	bar.clear()

	rep.MeasuredS = elapsed
	mu.Lock()
	rep.Beats, rep.BeatErrors, rep.FirstError = len(lat), beatErrs, firstErr
	slices.Sort(lat)
	var startDelays []time.Duration
	for _, id := range submitted {
		if d, ok := starts[id]; ok {
			startDelays = append(startDelays, d)
		}
	}
	mu.Unlock()
	rep.BeatsPerS = float64(rep.Beats) / elapsed
	rep.ExpectedPerS = float64(rep.Registered) / f.heartbeat.Seconds()
	rep.BeatP50Ms, rep.BeatP99Ms, rep.BeatMaxMs = quantileMs(lat, 0.5), quantileMs(lat, 0.99), quantileMs(lat, 1)
	rep.ServerCPUS = cpu1 - cpu0
	rep.ServerCores = rep.ServerCPUS / elapsed
	rep.NodesCores = (self1 - self0) / elapsed
	if machine0 >= 0 && machine1 >= 0 {
		rep.OtherCores = max(0, (machine1-machine0)/elapsed-rep.ServerCores-rep.NodesCores)
	}
	slices.Sort(startDelays)
	rep.JobsSubmitted, rep.JobsStarted = len(submitted), len(startDelays)
	rep.StartP50S = quantileMs(startDelays, 0.5) / 1000
	rep.StartP99S = quantileMs(startDelays, 0.99) / 1000
	rep.StartMaxS = quantileMs(startDelays, 1) / 1000
	if len(submitted) > 0 {
		rep.JobsSucceeded, err = countSucceeded(ctx, admin)
		if err != nil {
			return fmt.Errorf("bench agents: %w", err)
		}
	}
	rep.BeatTargetMet = rep.Registered == f.nodes && rep.BeatErrors == 0 && rep.BeatsPerS >= 0.9*rep.ExpectedPerS &&
		rep.BeatP99Ms < ms(TargetBeatP99) && rep.ServerCores < TargetCores
	rep.StartTargetMet = rep.JobsStarted == rep.JobsSubmitted && rep.StartP99S < TargetStartBeats*f.heartbeat.Seconds()

	if f.output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printBenchAgents(stdout, &rep, f)
	return nil
}

func printBenchAgents(w io.Writer, r *benchAgentsReport, f *benchAgentsFlags) {
	fmt.Fprintf(w, "agents benchmark: %s simulated nodes of %s heartbeating every %v to a stargate server process on 127.0.0.1 (store %s)\n",
		human.Int(r.Nodes), r.Fleet, f.heartbeat, r.Store)
	fmt.Fprintf(w, "machine: %d cores, shared by the server, the simulated nodes and whatever else runs\n\n", r.MachineCores)
	fmt.Fprintf(w, "registered:  %s of %s nodes in %.1f s\n", human.Int(r.Registered), human.Int(r.Nodes), r.RegisterS)
	fmt.Fprintf(w, "heartbeats:  %s answered in %.1f s: %s/s (%s/s expected), %d errors\n",
		human.Int(r.Beats), r.MeasuredS, human.Int(int(math.Round(r.BeatsPerS))), human.Int(int(math.Round(r.ExpectedPerS))), r.BeatErrors)
	if r.FirstError != "" {
		fmt.Fprintf(w, "             first error: %s\n", r.FirstError)
	}
	fmt.Fprintf(w, "latency:     p50 %.2f ms, p99 %.2f ms, max %.2f ms (per request, as the nodes saw it)\n", r.BeatP50Ms, r.BeatP99Ms, r.BeatMaxMs)
	fmt.Fprintf(w, "server:      %.3f cores (%.2f s of CPU), RSS %.0f MiB (peak %.0f MiB)\n", r.ServerCores, r.ServerCPUS, r.ServerRSSMiB, r.ServerPeakMiB)
	fmt.Fprintf(w, "this process (the simulated nodes, the submitter): %.3f cores, RSS %.0f MiB; the rest of the machine: %.3f cores\n",
		r.NodesCores, r.NodesRSSMiB, r.OtherCores)
	if r.JobsSubmitted > 0 {
		fmt.Fprintf(w, "jobs:        %d submitted, %d started, %d succeeded; placement to start on the node: p50 %.2f s, p99 %.2f s, max %.2f s\n",
			r.JobsSubmitted, r.JobsStarted, r.JobsSucceeded, r.StartP50S, r.StartP99S, r.StartMaxS)
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	fmt.Fprintln(w)
	scale := ""
	if r.Nodes < TargetNodes || f.heartbeat > TargetHeartbeat {
		scale = fmt.Sprintf(" (this run is smaller: %s nodes at %v)", human.Int(r.Nodes), f.heartbeat)
	}
	fmt.Fprintf(w, "target: %s nodes at a %v heartbeat with p99 < %v and server CPU under %g core%s: %s/s, p99 %.1f ms, %.2f cores, %d errors: %s\n",
		human.Int(TargetNodes), TargetHeartbeat, TargetBeatP99, TargetCores, scale, human.Int(int(math.Round(r.BeatsPerS))), r.BeatP99Ms,
		r.ServerCores, r.BeatErrors, verdict(r.BeatTargetMet))
	if r.JobsSubmitted > 0 {
		fmt.Fprintf(w, "target: a placed job starts on its node within %d heartbeats (%v): p99 %.2f s, %d of %d started: %s\n",
			TargetStartBeats, TargetStartBeats*f.heartbeat, r.StartP99S, r.JobsStarted, r.JobsSubmitted, verdict(r.StartTargetMet))
	}
}

// serverProcess is a `stargate server` started as a child process, so
// that its CPU time and memory are its own.
type serverProcess struct {
	cmd  *exec.Cmd
	url  string
	log  string // its stderr, in a file
	done chan struct{}
}

// startServerProcess starts this binary with args (a server subcommand)
// and waits until it says where it serves.
func startServerProcess(ctx context.Context, dir string, args []string) (*serverProcess, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	p := &serverProcess{log: filepath.Join(dir, "server.log"), done: make(chan struct{})}
	logf, err := os.Create(p.log)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	p.cmd = exec.Command(self, args...)
	// A test binary runs main when asked so (see TestMain).
	p.cmd.Env = append(os.Environ(), "STARGATE_RUN_MAIN=1")
	p.cmd.Stderr = logf
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if rest, ok := strings.CutPrefix(line, "serving "); ok {
				u, _, _ := strings.Cut(rest, " ")
				select {
				case addr <- u:
				default:
				}
			}
		}
		io.Copy(io.Discard, out)
		p.cmd.Wait()
		close(p.done)
	}()
	select {
	case p.url = <-addr:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("the server exited: %s", p.logTail())
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	case <-time.After(2 * time.Minute):
		p.stop()
		return nil, fmt.Errorf("the server did not start in 2 minutes: %s", p.logTail())
	}
}

// stop asks the server to stop (SIGTERM), and kills it after 15 s.
func (p *serverProcess) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// logTail is the end of the server's log.
func (p *serverProcess) logTail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// runSimulatedAgents is `stargate agent --simulate N|all`: the first N
// nodes of the fleet (or all), simulated in this process against a server.
func runSimulatedAgents(ctx context.Context, f *agentFlags, srv, tok string, log *slog.Logger) error {
	if f.node != "" || f.data != "" {
		return fmt.Errorf("give --node and --data, or --simulate, not both")
	}
	fl, err := f.sim.src.load()
	if err != nil {
		return err
	}
	n := len(fl.Nodes)
	if f.sim.count != "all" {
		n, err = strconv.Atoi(f.sim.count)
		if err != nil || n < 1 {
			return fmt.Errorf("--simulate: want a number of nodes or all, got %q", f.sim.count)
		}
		if n > len(fl.Nodes) {
			return fmt.Errorf("--simulate %d: the fleet (%s) has %d nodes", n, f.sim.src.name(), len(fl.Nodes))
		}
	}
	names := make([]string, n)
	for i := range names {
		names[i] = fl.NodeName(i)
	}
	sim, err := agent.NewSimulator(agent.SimConfig{Server: srv, JoinToken: tok, Nodes: names, Address: f.address,
		Heartbeat: f.heartbeat, Seed: 1, Log: log})
	if err != nil {
		return err
	}
	log.Info("simulating nodes", "nodes", n, "fleet", f.sim.src.name(), "server", srv, "heartbeat", f.heartbeat)
	done := make(chan error, 1)
	go func() { done <- sim.Run(ctx) }()
	tick := time.NewTicker(max(30*time.Second, f.heartbeat))
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			st := sim.Stats()
			log.Info("simulated nodes stopped", "registered", st.Registered, "beats", st.Beats, "errors", st.BeatErrors,
				"jobs_started", st.Started, "jobs_finished", st.Finished)
			return err
		case <-tick.C:
			st := sim.Stats()
			log.Info("simulated nodes", "registered", st.Registered, "refused", st.Refused, "beats", st.Beats, "errors", st.BeatErrors,
				"running", st.Running, "jobs_started", st.Started, "jobs_finished", st.Finished)
		}
	}
}

// simAgentFlags are the agent command's --simulate flags.
type simAgentFlags struct {
	count string // "": a real node; N or "all"
	src   fleetSource
}

func (s *simAgentFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.count, "simulate", "", "simulate the first N nodes of the fleet (-f/--example, the server's) or all, in this process, with fake devices; no --node or --data")
	s.src.addFlags(cmd, "small")
}

// countSucceeded counts the succeeded jobs.
func countSucceeded(ctx context.Context, c *client.Client) (int, error) {
	n, after := 0, ""
	for {
		l, err := c.Jobs(ctx, client.JobQuery{States: []string{string(store.JobSucceeded)}, After: after, Limit: 1000})
		if err != nil {
			return 0, err
		}
		n += len(l.Jobs)
		if len(l.Jobs) == 0 || l.Next == "" {
			return n, nil
		}
		after = l.Next
	}
}

// quantileMs is the q-quantile of sorted durations in milliseconds (0
// when there are none).
func quantileMs(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := min(len(sorted)-1, int(math.Ceil(q*float64(len(sorted))))-1)
	return float64(sorted[max(i, 0)]) / 1e6
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// sleepStatus waits d, calling status with the time left every 200 ms;
// false when ctx ended.
func sleepStatus(ctx context.Context, d time.Duration, status func(left time.Duration)) bool {
	end := time.Now().Add(d)
	for {
		left := time.Until(end)
		if left <= 0 {
			return true
		}
		status(left)
		if !sleepUntil(ctx, time.Now().Add(min(left, 200*time.Millisecond))) {
			return false
		}
	}
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	tm := time.NewTimer(time.Until(t))
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-tm.C:
		return true
	}
}

// storeKind is "postgres" for a postgres:// URL, else "sqlite".
func storeKind(s string) string {
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		return "postgres"
	}
	return "sqlite"
}

// procCPU is a process's CPU time (user and system, all threads) in
// seconds, from /proc/PID/stat (in USER_HZ, 100 a second on Linux).
func procCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: fields count from
	// after its closing one (state is field 3; utime 14, stime 15).
	i := strings.LastIndexByte(string(b), ')')
	fs := strings.Fields(string(b[i+1:]))
	if i < 0 || len(fs) < 13 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseFloat(fs[11], 64)
	st, err2 := strconv.ParseFloat(fs[12], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return (ut + st) / 100, nil
}

// procRSS is a process's resident memory now and at its peak, in MiB (0
// when unknown).
func procRSS(pid int) (rss, peak float64) {
	now, top := bench.ProcRSS(pid)
	return float64(now) / (1 << 20), float64(top) / (1 << 20)
}

// selfCPU is this process's CPU time in seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// machineCPU is the machine's busy CPU time in seconds, all cores, from
// /proc/stat; -1 when unknown.
func machineCPU() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fs := strings.Fields(line)
	if len(fs) < 8 || fs[0] != "cpu" {
		return -1
	}
	busy := 0.0
	for i, f := range fs[1:8] { // user nice system idle iowait irq softirq steal
		if i == 3 || i == 4 {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return -1
		}
		busy += v
	}
	if len(fs) > 8 {
		if v, err := strconv.ParseFloat(fs[8], 64); err == nil {
			busy += v
		}
	}
	return busy / 100
}

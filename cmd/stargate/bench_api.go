package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"stargate/internal/bench"
)

func init() { benchCmd().AddCommand(newBenchAPICmd()) }

type benchAPIFlags struct {
	src       fleetSource
	stores    string
	postgres  string
	clients   int
	duration  time.Duration
	warmup    time.Duration
	output    string
	pass      fleetSource
	nodes     int
	beats     bool
	queued    int
	arrivals  int
	passOnly  bool
	heapProf  string
	cpuProf   string
	steadyCPU string
	memLimit  string
}

func newBenchAPICmd() *cobra.Command {
	var f benchAPIFlags
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Durable job submits per second and their latency, over HTTP, on SQLite and PostgreSQL",
		Long: `Bench api starts a control plane on 127.0.0.1 with a fresh store, drives it
over HTTP with concurrent clients submitting jobs (each with an
Idempotency-Key), and reports acknowledged submits per second and their
p50/p99 latency. A submit counts when its 201 arrives, and the server
answers 201 only after the job's transaction committed (group commit).
It measures node heartbeats the same way (--heartbeats).

PostgreSQL is measured when a database is given (--postgres, or
$STARGATE_BENCH_POSTGRES, or $STARGATE_TEST_POSTGRES); the benchmark
creates a schema there and drops it afterwards.`,
		Example: `  stargate bench api
  stargate bench api --postgres postgres://postgres@127.0.0.1:5432/bench --clients 128 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The command is built once (bench is a shared parent), so its
			// flags go back to their defaults after each run.
			defer cmd.Flags().VisitAll(func(fl *pflag.Flag) {
				_ = fl.Value.Set(fl.DefValue)
				fl.Changed = false
			})
			return runBenchAPI(cmd.Context(), &f, cmd.Flags().Changed("store"), cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	f.src.addFlags(cmd, "small")
	fl.StringVar(&f.stores, "store", "sqlite,postgres", "stores to measure, comma-separated (postgres only with a database)")
	fl.StringVar(&f.postgres, "postgres", "", "PostgreSQL DSN (default $STARGATE_BENCH_POSTGRES, else $STARGATE_TEST_POSTGRES)")
	fl.IntVar(&f.clients, "clients", 64, "concurrent submitting clients")
	fl.DurationVar(&f.duration, "duration", 5*time.Second, "measured time per store")
	fl.DurationVar(&f.warmup, "warmup", time.Second, "unmeasured time before it")
	fl.StringVarP(&f.output, "output", "o", "table", "output format: table or json")
	fl.BoolVar(&f.beats, "heartbeats", true, "also measure node heartbeats per second")
	fl.IntVar(&f.nodes, "pass-nodes", 100000, "also time reconcile passes over this many registered nodes of the million-gpu example (0: skip)")
	fl.IntVar(&f.queued, "pass-queued", 5000, "jobs queued before the first pass")
	fl.IntVar(&f.arrivals, "pass-arrivals", 1000, "jobs submitted before the last pass")
	fl.BoolVar(&f.passOnly, "pass-only", false, "time reconcile passes only, not submits or heartbeats")
	fl.StringVar(&f.memLimit, "memory-limit", "", "the server's --memory-limit, e.g. 2600MiB (default $GOMEMLIMIT, else none)")
	fl.StringVar(&f.heapProf, "pass-heap-profile", "", "write a heap profile after the steady pass to this file (go tool pprof -sample_index=inuse_space)")
	fl.StringVar(&f.cpuProf, "pass-cpu-profile", "", "write a CPU profile of the first pass to this file")
	fl.StringVar(&f.steadyCPU, "pass-steady-cpu-profile", "", "write a CPU profile of the steady pass to this file")
	return cmd
}

func runBenchAPI(ctx context.Context, f *benchAPIFlags, storesGiven bool, stdout io.Writer) error {
	if f.output != "table" && f.output != "json" {
		return fmt.Errorf("--output must be table or json")
	}
	fl, err := f.src.load()
	if err != nil {
		return err
	}
	if err := serverGC(ctx, f.memLimit); err != nil { // as stargate server runs
		return err
	}
	dsn := f.postgres
	for _, env := range []string{"STARGATE_BENCH_POSTGRES", "STARGATE_TEST_POSTGRES"} {
		if dsn == "" {
			dsn = os.Getenv(env)
		}
	}
	var stores []string
	for _, s := range strings.Split(f.stores, ",") {
		s = strings.TrimSpace(s)
		if s == "postgres" && dsn == "" {
			if storesGiven {
				return fmt.Errorf("--store postgres needs a database: --postgres DSN or $STARGATE_BENCH_POSTGRES")
			}
			if f.output == "table" {
				fmt.Fprintln(stdout, "postgres: skipped, no database (--postgres DSN or $STARGATE_BENCH_POSTGRES)")
			}
			continue
		}
		stores = append(stores, s)
	}
	warmup := f.warmup
	if warmup == 0 {
		warmup = -1 // none
	}
	opts := bench.Options{Stores: stores, Postgres: dsn, Fleet: fl, JSON: f.output == "json", Heartbeats: f.beats, PassOnly: f.passOnly,
		Bench: bench.BenchOptions{Clients: f.clients, Duration: f.duration, Warmup: warmup}}
	if f.nodes > 0 {
		f.pass.def = "million-gpu"
		big, err := f.pass.load()
		if err != nil {
			return err
		}
		opts.Pass = bench.PassOptions{Fleet: big, Nodes: f.nodes, Pending: f.queued, Arrivals: f.arrivals, HeapProfile: f.heapProf,
			CPUProfile: f.cpuProf, SteadyProfile: f.steadyCPU}
	}
	_, err = bench.Run(ctx, opts, stdout)
	return err
}

// Package bench holds the load generators and measures of the benchmarks,
// outside the libraries they drive: it starts a server on 127.0.0.1 with a
// fresh SQLite or PostgreSQL store and drives it over HTTP with concurrent
// submitters (Bench), reporting durable submits per second and latency
// percentiles, and times reconcile passes over many nodes. `stargate bench
// api` runs it.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"stargate/client"
	"stargate/fleet"
	"stargate/server"
	"stargate/store"
)

// Options configures Run.
type Options struct {
	// Stores lists the backends to measure: "sqlite", "postgres".
	Stores []string
	// Postgres is the DSN of a PostgreSQL database the benchmark may
	// create (and drops) a schema in.
	Postgres string
	Fleet    *fleet.Fleet
	Bench    BenchOptions
	// JSON prints a JSON report instead of a table.
	JSON bool
	// Heartbeats also measures node heartbeats (group-committed like
	// submits), from the clients to the fleet's nodes.
	Heartbeats bool
	// Pass, when Pass.Nodes > 0, also times reconcile passes over that
	// many registered nodes (MeasurePass) on each store.
	Pass PassOptions
	// PassOnly skips the submit and heartbeat measures.
	PassOnly bool
}

// Result is one backend's measurement.
type Result struct {
	Store string `json:"store"`
	// Op is what was measured: submit, or heartbeat.
	Op string `json:"op"`
	BenchResult
	// Batch is the mean number of jobs per group commit, and Commit the
	// mean time of one.
	Batch  float64       `json:"mean_batch"`
	Commit time.Duration `json:"mean_commit_ns"`
}

// Report is the whole run.
type Report struct {
	Clients int          `json:"clients"`
	Results []Result     `json:"results"`
	Passes  []PassResult `json:"passes,omitempty"`
}

// Run measures each backend in turn and writes the report to w.
func Run(ctx context.Context, o Options, w io.Writer) (Report, error) {
	o.Bench.KeyPrefix = fmt.Sprintf("bench-%d", time.Now().UnixNano())
	if o.Bench.Clients == 0 {
		o.Bench.Clients = 64
	}
	rep := Report{Clients: o.Bench.Clients}
	if !o.JSON {
		fmt.Fprintf(w, "API benchmark: %d concurrent clients submitting over HTTP on 127.0.0.1; a submit counts once its 201 arrives (job committed)\n", o.Bench.Clients)
		fmt.Fprintf(w, "%-20s %10s %12s %9s %9s %9s %7s %10s %7s\n", "store", "requests", "per s", "p50 ms", "p99 ms", "max ms", "batch", "commit ms", "errors")
	}
	row := func(r Result) error {
		if o.JSON {
			return nil
		}
		what := r.Store
		if r.Op != "submit" {
			what += " " + r.Op
		}
		_, err := fmt.Fprintf(w, "%-20s %10d %12.0f %9.2f %9.2f %9.2f %7.1f %10.2f %7d\n", what, r.Submits, r.PerSecond,
			ms(r.P50), ms(r.P99), ms(r.Max), r.Batch, ms(r.Commit), r.Errors)
		if r.FirstError != "" {
			fmt.Fprintf(w, "  first error: %s\n", r.FirstError)
		}
		return err
	}
	for _, kind := range o.Stores {
		if o.PassOnly {
			break
		}
		r, err := runOne(ctx, kind, o, false)
		if err != nil {
			return rep, fmt.Errorf("bench: %s: %w", kind, err)
		}
		rep.Results = append(rep.Results, r)
		if err := row(r); err != nil {
			return rep, err
		}
		if !o.Heartbeats {
			continue
		}
		if r, err = runOne(ctx, kind, o, true); err != nil {
			return rep, fmt.Errorf("bench: %s heartbeats: %w", kind, err)
		}
		rep.Results = append(rep.Results, r)
		if err := row(r); err != nil {
			return rep, err
		}
	}
	if o.Pass.Nodes > 0 {
		if !o.JSON {
			fmt.Fprintf(w, "\nreconcile pass over %d registered nodes driving the engine, decisions committed (%d jobs queued, then %d arrive)\n",
				o.Pass.Nodes, o.Pass.Pending, o.Pass.Arrivals)
			fmt.Fprintf(w, "%-10s %14s %8s %10s %16s %8s\n", "store", "first pass s", "placed", "steady s", "after arrivals s", "placed")
		}
		for _, kind := range o.Stores {
			r, err := MeasurePass(ctx, kind, o.Postgres, o.Pass)
			if err != nil {
				return rep, fmt.Errorf("bench: pass on %s: %w", kind, err)
			}
			rep.Passes = append(rep.Passes, r)
			if !o.JSON {
				fmt.Fprintf(w, "%-10s %14.3f %8d %10.3f %16.3f %8d\n", r.Store, r.FirstS, r.Running, r.SteadyS, r.IncrementS, r.PlacedAfter)
				if r.FirstPasses > 1 {
					fmt.Fprintf(w, "%-10s the first pass read the queue over %d passes, the longest %.3f s\n", "", r.FirstPasses, r.FirstMaxS)
				}
				fmt.Fprintf(w, "%-10s a priority-1000 job submitted behind the queue, before the new leader's first pass: %s\n", "", leaderHighText(r))
				fmt.Fprintf(w, "%-10s GET /v1/power: first %.3f s (from the store), then p50 %.2f ms p99 %.2f ms; GET /metrics: first %.3f s (after writes), then p50 %.2f ms p99 %.2f ms\n",
					"", r.PowerFirstS, r.PowerP50MS, r.PowerP99MS, r.MetricsFirstS, r.MetricsP50MS, r.MetricsP99MS)
				fmt.Fprintf(w, "%-10s %d pending after the first pass: server heap %.0f MiB, %.0f B per pending job (its stored spec: %d B); RSS %.0f MiB, peak %.0f MiB\n",
					"", r.Pending-r.Running, mib(r.HeapB), r.HeapPerPendingB, r.SpecB, mib(r.RSSB), mib(r.PeakRSSB))
				fmt.Fprintf(w, "%-10s a node comes free and a priority-1000 job arrives: %s (longest pass %.3f s)\n", "", highText(r.HighPlacedIn), r.HighPassS)
			}
		}
	}
	if !o.JSON {
		printTargets(w, rep)
	}
	if o.JSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return rep, enc.Encode(rep)
	}
	return rep, nil
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func highText(pass int) string {
	switch pass {
	case -1:
		return "not measured, no node of the fleet left to register"
	case 0:
		return "NOT placed within two passes"
	}
	return fmt.Sprintf("placed in pass %d", pass)
}

// The control plane's targets on a 2-core machine.
const (
	TargetSubmitsPerS = 5000
	TargetP99         = 50 * time.Millisecond
	TargetPass        = time.Second
	TargetRead        = 10 * time.Millisecond // /metrics and /v1/power, from memory
	// A queue of millions: a pass, and the memory a pending job costs
	// beyond its stored spec.
	TargetQueuePass   = 2 * time.Second
	TargetPendingHeap = 1024
	// TargetQueueRSS bounds the server's resident memory at its peak,
	// whatever the queue (issue: 2,000,000 pending).
	TargetQueueRSS = 3 << 30
)

// printTargets says, for this run, whether the targets were met.
func printTargets(w io.Writer, rep Report) {
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met on this run"
	}
	fmt.Fprintln(w)
	for _, r := range rep.Results {
		if r.Store != "sqlite" || r.Op != "submit" {
			continue
		}
		fmt.Fprintf(w, "target: >= %d durable submits/s on SQLite with p99 < %v: %.0f/s, p99 %.1f ms: %s\n",
			TargetSubmitsPerS, TargetP99, r.PerSecond, ms(r.P99), verdict(r.PerSecond >= TargetSubmitsPerS && r.P99 < TargetP99))
	}
	for _, p := range rep.Passes {
		fmt.Fprintf(w, "target: a pass over %d nodes in < %v (%s): steady %.3f s, with arrivals %.3f s: %s\n",
			p.Nodes, TargetPass, p.Store, p.SteadyS, p.IncrementS, verdict(p.SteadyS < TargetPass.Seconds() && p.IncrementS < TargetPass.Seconds()))
		// The first pass of a new leader (after a start or a failover)
		// reads every node and places the whole queue: judged on its own,
		// when one pass reads the whole queue.
		if p.FirstPasses == 1 {
			fmt.Fprintf(w, "target: the first pass of a new leader over %d nodes, placing %d jobs, in < %v (%s): %.3f s: %s\n",
				p.Nodes, p.Running, TargetPass, p.Store, p.FirstS, verdict(p.FirstS < TargetPass.Seconds()))
		} else {
			fmt.Fprintf(w, "no target: a new leader over %d nodes read the queue over %d passes (the longest %.3f s) and placed %d jobs after %.3f s in all (%s)\n",
				p.Nodes, p.FirstPasses, p.FirstMaxS, p.Running, p.FirstS, p.Store)
		}
		fmt.Fprintf(w, "target: a new leader over %d pending (%s) places a priority-1000 job within two passes: %s: %s\n",
			p.Pending, p.Store, leaderHighText(p), verdict(p.LeaderHighPlacedIn > 0 && p.LeaderHighPlacedIn <= 2))
		fmt.Fprintf(w, "target: /metrics and /v1/power over %d nodes in < %v (%s): p99 %.2f and %.2f ms: %s\n",
			p.Nodes, TargetRead, p.Store, p.MetricsP99MS, p.PowerP99MS, verdict(p.MetricsP99MS < ms(TargetRead) && p.PowerP99MS < ms(TargetRead)))
		left := p.Pending - p.Running
		fmt.Fprintf(w, "target: with %d pending (%s), a steady pass in < %v: %.3f s: %s\n",
			left, p.Store, TargetQueuePass, p.SteadyS, verdict(p.SteadyS < TargetQueuePass.Seconds()))
		fmt.Fprintf(w, "target: with %d pending (%s), < %d B of heap per pending job beyond its stored spec: %.0f B: %s\n",
			left, p.Store, TargetPendingHeap, p.HeapPerPendingB-float64(p.SpecB), verdict(p.HeapPerPendingB-float64(p.SpecB) < TargetPendingHeap))
		fmt.Fprintf(w, "target: with %d pending (%s), RSS of the server and its benchmark client < %d MiB: %.0f MiB, peak %.0f MiB: %s\n",
			left, p.Store, TargetQueueRSS>>20, float64(p.RSSB)/(1<<20), float64(p.PeakRSSB)/(1<<20), verdict(p.PeakRSSB > 0 && p.PeakRSSB < TargetQueueRSS))
		if p.HighPlacedIn >= 0 {
			fmt.Fprintf(w, "target: with %d pending (%s), a new priority-1000 job placed within two passes: %s\n",
				left, p.Store, verdict(p.HighPlacedIn > 0))
		}
	}
}

// leaderHighText says when a new leader placed the priority-1000 job
// submitted behind its queue.
func leaderHighText(r PassResult) string {
	if r.LeaderHighPlacedIn == 0 {
		return fmt.Sprintf("not placed by the %d passes that read the queue", r.FirstPasses)
	}
	return fmt.Sprintf("placed in pass %d of %d, %.3f s after the first began", r.LeaderHighPlacedIn, r.FirstPasses, r.LeaderHighS)
}

func runOne(ctx context.Context, kind string, o Options, heartbeats bool) (Result, error) {
	cfg := server.Config{Fleet: o.Fleet}
	if kind == "postgres" {
		cfg.Committers = 4
	}
	st, cleanup, err := openFresh(ctx, kind, o.Postgres)
	if err != nil {
		return Result{}, err
	}
	defer cleanup()
	defer st.Close()
	cfg.Store = st
	srv, err := server.New(cfg)
	if err != nil {
		return Result{}, err
	}
	role, tenant := store.RoleUser, "bench"
	if heartbeats {
		role, tenant = store.RoleAgent, ""
	}
	secret, _, err := srv.MintToken(ctx, role, tenant, "bench")
	if err != nil {
		return Result{}, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Result{}, err
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, server.ServeOptions{Listener: ln}) }()
	defer func() { stop(); <-done }()

	c := client.New("http://"+ln.Addr().String(), secret)
	bo := o.Bench
	op := "submit"
	if heartbeats {
		op = "heartbeat"
		names := make([]string, len(o.Fleet.Nodes))
		nodes := make([]*client.Client, len(names)) // each with its node's credential
		for i := range names {
			names[i] = o.Fleet.NodeName(i)
			reg, err := c.Register(ctx, server.NodeRegistration{Name: names[i]})
			if err != nil {
				return Result{}, err
			}
			nodes[i] = &client.Client{Base: c.Base, Token: reg.Credential, HTTP: c.HTTP}
		}
		bo.Op = func(ctx context.Context, w, i int) error {
			draw := float64(5000 + i%1000)
			n := (w + i*bo.Clients) % len(names)
			_, err := nodes[n].Heartbeat(ctx, names[n], server.Heartbeat{DrawW: &draw})
			return err
		}
	}
	res, err := Bench(ctx, c, bo)
	if err != nil {
		return Result{}, err
	}
	batch, commit := commitStats(srv)
	if heartbeats {
		batch, commit = 0, 0 // the histograms are the submits'
	}
	return Result{Store: kind, Op: op, BenchResult: res, Batch: batch, Commit: commit}, nil
}

// commitStats reads the server's group-commit histograms: the mean jobs
// per commit and the mean time of one.
func commitStats(srv *server.Server) (batch float64, commit time.Duration) {
	mfs, err := srv.Registry().Gather()
	if err != nil {
		return 0, 0
	}
	for _, mf := range mfs {
		if len(mf.Metric) == 0 {
			continue
		}
		h := mf.Metric[0].GetHistogram()
		if h.GetSampleCount() == 0 {
			continue
		}
		mean := h.GetSampleSum() / float64(h.GetSampleCount())
		switch mf.GetName() {
		case "stargate_submit_batch_jobs":
			batch = mean
		case "stargate_submit_commit_duration_seconds":
			commit = time.Duration(mean * 1e9)
		}
	}
	return batch, commit
}

// FreshSchema creates a schema for one run and returns a DSN using it and
// a function that drops it.
func FreshSchema(ctx context.Context, dsn string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", nil, err
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		return "", nil, err
	}
	drop := func() {
		if c, err := pgx.Connect(context.Background(), dsn); err == nil {
			c.Exec(context.Background(), "DROP SCHEMA "+name+" CASCADE")
			c.Close(context.Background())
		}
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + name, drop, nil
}

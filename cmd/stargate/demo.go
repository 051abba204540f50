package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"stargate/agent"
	"stargate/client"
	"stargate/engine"
	"stargate/fleet"
	"stargate/internal/human"
	"stargate/server"
	"stargate/store"
)

func init() { register(newDemoCmd) }

// demoListen is where the demo serves unless told: the server's usual
// address, or a free port on 127.0.0.1 when that one is taken.
const demoListen = "127.0.0.1:7070"

// demoMaxNodes bounds the fleet the demo simulates: every node
// heartbeats from this process.
const demoMaxNodes = 20_000

type demoFlags struct {
	src       fleetSource
	listen    string
	data      string
	noBrowser bool
	seed      uint64
	heartbeat time.Duration
	speed     float64
	failures  float64
	queue     string
	verbose   bool
	listenSet bool // --listen given: a busy address is an error
}

func newDemoCmd() *cobra.Command {
	var f demoFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "A live fleet in one command: server, simulated nodes, tenants' jobs, and the console",
		Long: `Demo runs a whole Stargate installation in this one process, to look at and
to try the client commands on:

  - a control plane server, as 'stargate server' runs it, on a SQLite store
    in a temporary data directory (removed on exit) or in --data (kept);
  - every node of the fleet as a simulated agent, as 'stargate agent
    --simulate all' runs them: they register with a join token, heartbeat
    with fake devices' telemetry, "run" the jobs placed on them for their
    duration, apply power caps, and fail a few (--failures);
  - four tenants, each with its own user token, submitting a steady stream
    of work: training gangs across the nodes of a rack, long-running
    inference services at a low power fraction, and preemptible batch jobs,
    lasting tens of seconds to a few minutes, at a rate that keeps the
    fleet busy with a queue, so that wait reasons, preemptions and, on an
    oversubscribed fleet, power caps show.

The built-in demo fleet (--example demo, the default) has three sites in two
regions with different energy mixes and about 1,100 nodes, sized to run
well under one core; see 'stargate plan --example demo'. --example small
(16 nodes) is lighter still.

On start it prints one line on stdout,

  console: http://127.0.0.1:7070/?login=TOKEN

with the admin token, and opens it in the browser unless --no-browser. The
same token works for the client commands (--server, --token, or
DATA/admin.token). Progress goes to stderr: when every node has
registered, then one line of figures every 30 s. It runs until Ctrl-C,
then stops the load, the nodes and the server, and removes the temporary
data directory.

It serves on 127.0.0.1:7070, or on a free port of 127.0.0.1 when 7070 is
taken; --listen names an address, and then a busy one is an error.`,
		Example: `  stargate demo                          # the demo fleet; opens the console
  stargate demo --no-browser --seed 7    # another workload, no browser
  stargate demo --example small --speed 5   # 16 nodes, jobs 5 times as short
  stargate demo -f fleet.yaml --data ./demo-data --listen 127.0.0.1:8080

  # meanwhile, in another terminal, with the token of the console line:
  stargate jobs --server http://127.0.0.1:7070 --token TOKEN
  stargate power --server http://127.0.0.1:7070 --token TOKEN`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.listenSet = cmd.Flags().Changed("listen")
			return runDemo(cmd.Context(), &f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f.src.addFlags(cmd, "demo")
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", demoListen, "address to serve the API and console on; when not given and taken, a free port of 127.0.0.1")
	fl.StringVar(&f.data, "data", "", "data directory, kept on exit (default: a temporary one, removed on exit)")
	fl.BoolVar(&f.noBrowser, "no-browser", false, "do not open the console in a browser")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the workload, the nodes' start offsets and their failures")
	fl.DurationVar(&f.heartbeat, "heartbeat", 5*time.Second, "simulated nodes' heartbeat period: a placed job starts within about one")
	fl.Float64Var(&f.speed, "speed", 1, "pace: jobs last 1/speed as long and arrive speed times as often")
	fl.Float64Var(&f.failures, "failures", 0.02, "fraction of job attempts that fail part-way (exit code 1)")
	fl.StringVar(&f.queue, "queue", "backfill", "queue policy of the scheduler: "+joinNames(engine.NewRegistry().QueueNames()))
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log the server's and nodes' info messages")
	return cmd
}

// check refuses flag values out of range, before anything starts.
func (f *demoFlags) check() error {
	var bad []string
	if f.heartbeat < 100*time.Millisecond || f.heartbeat > time.Minute {
		bad = append(bad, fmt.Sprintf("--heartbeat must be between 100ms and 1m, got %v", f.heartbeat))
	}
	if !(f.speed >= 0.1 && f.speed <= 100) {
		bad = append(bad, fmt.Sprintf("--speed must be between 0.1 and 100, got %g", f.speed))
	}
	if !(f.failures >= 0 && f.failures <= 1) {
		bad = append(bad, fmt.Sprintf("--failures must be a fraction between 0 and 1, got %g", f.failures))
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

// demoTokenName names the tokens the demo mints.
const demoTokenName = "demo"

func runDemo(ctx context.Context, f *demoFlags, stdout, stderr io.Writer) (err error) {
	if err := f.check(); err != nil {
		return err
	}
	fl, err := f.src.load()
	if err != nil {
		return err
	}
	if len(fl.Nodes) > demoMaxNodes {
		return fmt.Errorf("demo: %s has %s nodes; the demo simulates every node in this process and takes at most %s (replay a workload on a large fleet with 'stargate sim')",
			f.src.name(), human.Int(len(fl.Nodes)), human.Int(demoMaxNodes))
	}
	say := func(format string, args ...any) { fmt.Fprintf(stderr, "demo: "+format+"\n", args...) }

	// The data directory: a temporary one is removed last, after the
	// store is closed and the lock released (deferred calls run in
	// reverse).
	dir := f.data
	if dir == "" {
		if dir, err = os.MkdirTemp("", "stargate-demo-"); err != nil {
			return fmt.Errorf("demo: a temporary data directory: %w", err)
		}
		defer func() {
			if rmErr := os.RemoveAll(dir); rmErr != nil {
				err = errors.Join(err, fmt.Errorf("demo: removing %s: %w", dir, rmErr))
				return
			}
			say("removed %s", dir)
		}()
	}
	unlock, err := lockDataDir(dir)
	if err != nil {
		return err
	}
	defer unlock()

	level := slog.LevelWarn
	if f.verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	srv, st, err := newDemoServer(ctx, f, fl, dir, log)
	if err != nil {
		return err
	}
	defer st.Close()
	admin, err := demoAdminToken(ctx, srv, dir)
	if err != nil {
		return err
	}
	ln, err := demoListener(f.listen, f.listenSet)
	if err != nil {
		return err
	}
	if !f.listenSet && ln.Addr().String() != f.listen {
		say("%s is taken; serving on %s instead", f.listen, ln.Addr())
	}
	base := "http://" + ln.Addr().String()

	// The server runs until everything else has stopped.
	srvCtx, stopServer := context.WithCancel(context.Background())
	defer stopServer()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(srvCtx, server.ServeOptions{Listener: ln}) }()
	serving := true
	defer func() {
		if serving {
			stopServer()
			<-served
		}
	}()

	join, _, err := srv.Mint(ctx, server.TokenRequest{Role: store.RoleAgent, Name: demoTokenName})
	if err != nil {
		return err
	}
	load, err := newDemoLoad(fl, f.seed, f.speed)
	if err != nil {
		return err
	}
	for i := range load.tenants {
		t := &load.tenants[i]
		secret, _, err := srv.Mint(ctx, server.TokenRequest{Role: store.RoleUser, Tenant: t.name, Name: demoTokenName})
		if err != nil {
			return err
		}
		t.c = client.New(base, secret)
	}

	where := "a temporary data directory, " + dir + ", removed on exit"
	if f.data != "" {
		where = dir + " (kept)"
	}
	say("%s: %s nodes, %s accelerators in %s; store and admin.token in %s", f.src.name(),
		human.Int(len(fl.Nodes)), human.Int(fl.Accelerators), plural(len(fl.Sites), "site"), where)
	console := base + "/?login=" + admin
	fmt.Fprintf(stdout, "console: %s\n", console)
	if out, ok := stdout.(*os.File); ok {
		out.Sync()
	}
	if !f.noBrowser {
		openBrowser(console)
	}

	names := make([]string, len(fl.Nodes))
	for i := range names {
		names[i] = fl.NodeName(i)
	}
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	sim, err := agent.NewSimulator(agent.SimConfig{Server: base, JoinToken: join, Nodes: names, Heartbeat: f.heartbeat,
		Seed: f.seed, FailureRate: f.failures, Log: log})
	if err != nil {
		return err
	}
	simDone := make(chan error, 1)
	go func() { simDone <- sim.Run(loadCtx) }()
	var loadWG sync.WaitGroup
	defer func() {
		stopLoad()
		loadWG.Wait()
		if simDone != nil {
			<-simDone
		}
	}()

	start := time.Now()
	say("%s simulated nodes registering, heartbeat %v; Ctrl-C stops the demo", human.Int(len(names)), f.heartbeat)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	loading, note, stats := false, start, time.Time{}
	for {
		select {
		case <-ctx.Done():
			say("stopping")
			return nil
		case err := <-served:
			serving = false
			return fmt.Errorf("demo: the server stopped: %w", err)
		case err := <-simDone:
			simDone = nil
			if err == nil {
				err = errors.New("stopped")
			}
			return fmt.Errorf("demo: the simulated nodes: %w", err)
		case now := <-tick.C:
			s := sim.Stats()
			if !loading && (s.Registered == len(names) || now.Sub(start) > time.Minute) {
				say("%s of %s nodes registered in %.1fs; %d tenants submit jobs", human.Int(s.Registered), human.Int(len(names)),
					now.Sub(start).Seconds(), len(load.tenants))
				loading, stats = true, now
				loadWG.Go(func() { load.run(loadCtx, srv.Registry(), log) })
			}
			if !loading && now.Sub(note) >= 5*time.Second {
				say("%s of %s nodes registered", human.Int(s.Registered), human.Int(len(names)))
				note = now
			}
			if loading && now.Sub(stats) >= 30*time.Second {
				say("%s", readDemoCounts(srv.Metrics()).line(fl.Accelerators, s))
				stats = now
			}
		}
	}
}

// newDemoServer opens the store in dir and builds the server: the engine
// with preemption, and a power controller that settles for two
// heartbeats after each change.
func newDemoServer(ctx context.Context, f *demoFlags, fl *fleet.Fleet, dir string, log *slog.Logger) (*server.Server, store.Store, error) {
	sf := schedulerFlags{queue: f.queue, sites: "pack", preemption: true, backoff: 15 * time.Second,
		settle: 2*f.heartbeat + 5*time.Second}
	sched, err := sf.scheduler(fl, log)
	if err != nil {
		return nil, nil, err
	}
	key, err := server.LoadOrCreateSecretKey(filepath.Join(dir, server.SecretKeyFile))
	if err != nil {
		return nil, nil, err
	}
	st, _, err := server.OpenStore(ctx, "sqlite", dir)
	if err != nil {
		return nil, nil, err
	}
	srv, err := server.New(server.Config{Store: st, Fleet: fl, Log: log, Scheduler: sched, SecretKey: key,
		HeartbeatTimeout: max(30*time.Second, 4*f.heartbeat), ID: "demo"})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return srv, st, nil
}

// demoAdminToken returns the admin token of DATA/admin.token: the one
// Bootstrap writes into a new data directory, or the one a directory
// given with --data already holds (a new one when it holds none).
func demoAdminToken(ctx context.Context, srv *server.Server, dir string) (string, error) {
	if _, err := srv.Bootstrap(ctx, dir); err != nil {
		return "", err
	}
	path := filepath.Join(dir, server.AdminTokenFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if _, err = srv.ResetAdmin(ctx, dir); err == nil {
			b, err = os.ReadFile(path)
		}
	}
	if err != nil {
		return "", fmt.Errorf("demo: the admin token: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// demoListener listens on addr; when addr was not given and is taken, on
// a free port of 127.0.0.1.
func demoListener(addr string, given bool) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil || given {
		return ln, err
	}
	return net.Listen("tcp", "127.0.0.1:0")
}

// openBrowser opens url in the desktop's browser, best effort: without
// one, or without a desktop, nothing happens.
func openBrowser(url string) {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	if cmd.Start() == nil {
		go cmd.Wait()
	}
}

// demoCounts are the figures of the demo's progress line, read from the
// server's metrics.
type demoCounts struct {
	pending, running, allocated int
	byState                     map[store.JobState]int
	caps                        int     // cap decisions so far
	drawW                       float64 // the sites' IT draw
}

// readDemoCounts reads the server's metrics registry (in process: the
// same figures /metrics serves).
func readDemoCounts(reg prometheus.Gatherer) demoCounts {
	c := demoCounts{byState: map[store.JobState]int{}}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			label := func(name string) string {
				for _, l := range m.GetLabel() {
					if l.GetName() == name {
						return l.GetValue()
					}
				}
				return ""
			}
			switch mf.GetName() {
			case "stargate_jobs":
				c.byState[store.JobState(label("state"))] += int(m.GetGauge().GetValue())
			case "stargate_queue_depth":
				c.pending += int(m.GetGauge().GetValue())
			case "stargate_running_jobs":
				c.running = int(m.GetGauge().GetValue())
			case "stargate_accelerators_allocated":
				c.allocated = int(m.GetGauge().GetValue())
			case "stargate_decisions_total":
				if label("action") == string(server.ActCap) {
					c.caps = int(m.GetCounter().GetValue())
				}
			case "stargate_power_draw_watts":
				if label("level") == "site" {
					c.drawW += m.GetGauge().GetValue()
				}
			}
		}
	}
	return c
}

// line is the periodic progress line.
func (c demoCounts) line(accelerators int, s agent.SimStats) string {
	return fmt.Sprintf("%s jobs running on %s of %s accelerators (%.0f%%), %s queued; %s succeeded, %s failed; %.2f MW; %s power caps so far",
		human.Int(c.running), human.Int(c.allocated), human.Int(accelerators), 100*float64(c.allocated)/float64(max(accelerators, 1)),
		human.Int(c.pending), human.Int(c.byState[store.JobSucceeded]), human.Int(c.byState[store.JobFailed]+c.byState[store.JobTimeout]),
		c.drawW/1e6, human.Int(c.caps))
}

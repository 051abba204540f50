package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"stargate/internal/gctune"
	"stargate/internal/human"
	"stargate/server"
)

func init() { register(newServerCmd) }

type serverFlags struct {
	src              fleetSource
	sched            schedulerFlags
	data             string
	listen           string
	store            string
	tlsCert, tlsKey  string
	metricsPublic    bool
	maxPending       int
	leaderTTL        time.Duration
	heartbeatTimeout time.Duration
	reconcileEvery   time.Duration
	measureEvery     time.Duration
	readPerPass      int
	logKeep          int64
	resetAdmin       bool
	secretKeyFile    string
	id               string
	memoryLimit      string
	verbose          bool
}

func newServerCmd() *cobra.Command {
	var f serverFlags
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane: API, durable store, scheduler loop, metrics",
		Long: `Server runs the Stargate control plane. It keeps jobs, nodes, events and
tokens in a durable store (SQLite in --data by default; PostgreSQL with
--store postgres://...), serves the HTTP API under /v1 with bearer tokens,
exposes Prometheus metrics on /metrics, and runs the reconcile loop.

On first start it writes an admin token to DATA/admin.token (mode 0600).
Mint more with 'stargate token create'. The last admin token cannot be
revoked; an installation that lost every admin token gets a new one with
--reset-admin. Several replicas may share one
PostgreSQL database: one of them, the leader, runs the scheduler; another
takes over within about --leader-ttl when it dies.

The API is described by GET /v1/openapi.json. Agents ('stargate agent')
register nodes of the fleet file with join tokens (role agent), get a
credential for their node alone, send heartbeats with their measured draw
and telemetry, run the jobs placed on their node and ship their output; a
node silent for --heartbeat-timeout is lost and its jobs are requeued. Every decision (placement, preemption, power cap) is
committed to the store before nodes learn it.`,
		Example: `  stargate server                                   # ./stargate-data, 127.0.0.1:7070
  stargate server --data /var/lib/stargate --listen 0.0.0.0:7070 -f fleet.yaml
  stargate server --store postgres://stargate@db/stargate --leader-ttl 5s
  stargate server --tls-cert cert.pem --tls-key key.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServer(cmd.Context(), &f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	f.src.addFlags(cmd, "small")
	f.sched.add(cmd)
	fl.StringVar(&f.data, "data", defaultDataDir(), "data directory: the SQLite database and admin.token ($"+envData+" sets the default)")
	fl.StringVar(&f.listen, "listen", "127.0.0.1:7070", "address to serve the API on")
	fl.StringVar(&f.store, "store", "sqlite", "store: sqlite (in --data), sqlite:PATH, or a postgres:// URL")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "serve HTTPS with this certificate (PEM)")
	fl.StringVar(&f.tlsKey, "tls-key", "", "the certificate's private key (PEM)")
	fl.BoolVar(&f.metricsPublic, "metrics-public", false, "serve /metrics without a token")
	fl.IntVar(&f.maxPending, "max-pending-per-tenant", server.DefaultMaxPendingPerTenant, "the most pending jobs one tenant may have: a submit beyond it is refused with 429 (0: no bound)")
	fl.DurationVar(&f.leaderTTL, "leader-ttl", 10*time.Second, "leader lease lifetime: the bound on failover time")
	fl.DurationVar(&f.heartbeatTimeout, "heartbeat-timeout", 30*time.Second, "a node not heard from for this long is lost and its jobs requeued")
	fl.DurationVar(&f.reconcileEvery, "reconcile-every", time.Second, "period of the reconcile loop")
	fl.DurationVar(&f.measureEvery, "measure-every", 5*time.Second, "how often the power controller reads every node's measured draw")
	fl.IntVar(&f.readPerPass, "read-per-pass", 50_000, "pending jobs a new leader reads into its queue per reconcile pass: a queue of millions is read over passes of bounded work, and under fifo, priority and backfill placed from the head already read")
	fl.Int64Var(&f.logKeep, "log-keep", server.DefaultLogKeep, "bytes of output kept of each job per node and attempt (the oldest is trimmed)")
	fl.StringVar(&f.secretKeyFile, "secret-key-file", "", "key that seals jobs' secret_env at rest (default DATA/"+server.SecretKeyFile+", made on first start with SQLite; with PostgreSQL every replica must be given the same one)")
	fl.BoolVar(&f.resetAdmin, "reset-admin", false, "break glass: mint a new admin token into DATA/admin.token (other tokens are kept), then serve")
	fl.StringVar(&f.id, "id", "", "this replica's name in the leader lease (default host:DATA)")
	fl.StringVar(&f.memoryLimit, "memory-limit", "", "soft bound on the server's memory, e.g. 2600MiB or 3GiB: near it the collector works harder (default $GOMEMLIMIT, else none; without it the heap grows to 5× what is live while that is small, then 1 GiB past it, never less than 2×)")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log debug messages")
	return cmd
}

func runServer(ctx context.Context, f *serverFlags, stdout, stderr io.Writer) error {
	if err := serverGC(ctx, f.memoryLimit); err != nil {
		return err
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return fmt.Errorf("give both --tls-cert and --tls-key, or neither")
	}
	if f.readPerPass < 1 {
		return fmt.Errorf("--read-per-pass %d: want at least 1 job a pass", f.readPerPass)
	}
	level := slog.LevelInfo
	if f.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	fl, err := f.src.load()
	if err != nil {
		return err
	}
	unlock, err := lockDataDir(f.data)
	if err != nil {
		return err
	}
	defer unlock()
	if f.id == "" {
		// A restarted server is the same replica: it takes its lease back
		// at once instead of waiting for it to expire. The lock above
		// makes the name unique on this host.
		host, _ := os.Hostname()
		abs, _ := filepath.Abs(f.data)
		f.id = host + ":" + abs
	}
	sched, err := f.sched.scheduler(fl, log)
	if err != nil {
		return err
	}
	tenants, err := f.sched.tenantConfigs()
	if err != nil {
		return err
	}
	if f.secretKeyFile == "" {
		f.secretKeyFile = filepath.Join(f.data, server.SecretKeyFile)
	}
	var secretKey []byte
	if _, statErr := os.Stat(f.secretKeyFile); statErr != nil && strings.HasPrefix(f.store, "postgres") {
		// Replicas sharing PostgreSQL must share one key: making one here
		// would seal with a key the others lack.
		log.Warn("no secret key: jobs with secret_env are refused; give every replica the same --secret-key-file", "file", f.secretKeyFile)
	} else if secretKey, err = server.LoadOrCreateSecretKey(f.secretKeyFile); err != nil {
		return err
	}
	st, desc, err := server.OpenStore(ctx, f.store, f.data)
	if err != nil {
		return err
	}
	defer st.Close()
	srv, err := server.New(server.Config{
		Store: st, Fleet: fl, Log: log, MetricsPublic: f.metricsPublic,
		LeaderTTL: f.leaderTTL, HeartbeatTimeout: f.heartbeatTimeout, ReconcileEvery: f.reconcileEvery, MeasureEvery: f.measureEvery, ID: f.id,
		Committers: committersFor(f.store), Scheduler: sched, LogKeep: f.logKeep, SecretKey: secretKey, Tenants: tenants,
		MaxPendingPerTenant: maxPendingOf(f.maxPending), ReadPerPass: f.readPerPass,
	})
	if err != nil {
		return err
	}
	path, err := srv.Bootstrap(ctx, f.data)
	if err == nil && path == "" && f.resetAdmin {
		path, err = srv.ResetAdmin(ctx, f.data)
	}
	if err != nil {
		return err
	}
	if path != "" {
		fmt.Fprintf(stdout, "wrote an admin token to %s (mode 0600); use it with --token-file or $%s\n", path, envToken)
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return err
	}
	scheme := "http"
	if f.tlsCert != "" {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "serving %s://%s (store %s, fleet %s: %d nodes, %d accelerators, replica %s)\n",
		scheme, ln.Addr(), desc, f.src.name(), len(fl.Nodes), fl.Accelerators, srv.ID())
	if fl, ok := stdout.(*os.File); ok {
		fl.Sync()
	}
	return srv.Serve(ctx, server.ServeOptions{Listener: ln, TLSCert: f.tlsCert, TLSKey: f.tlsKey})
}

// maxPendingOf maps the flag's 0 (no bound) to the server's negative.
func maxPendingOf(flag int) int {
	if flag <= 0 {
		return -1
	}
	return flag
}

// serverGC trades memory for CPU while the heap is small: the control
// plane's requests allocate briskly, so the collector lets the heap grow
// to 5× what is live instead of 2× while that is at most 256 MiB, then
// 1 GiB past it, and never less than 2× (gctune.Server; unless $GOGC
// says otherwise): a queue of millions would otherwise hold gigabytes of
// garbage. limit, when given, bounds the heap softly (as $GOMEMLIMIT does),
// and the collector runs more often near it. The tuning lasts as ctx.
func serverGC(ctx context.Context, limit string) error {
	if limit != "" { // else the runtime has read $GOMEMLIMIT
		n, err := human.ParseBytes(limit)
		if err != nil || n < 64<<20 {
			return fmt.Errorf("--memory-limit %q: want a size of at least 64MiB, such as 2600MiB or 3GiB", limit)
		}
		debug.SetMemoryLimit(n)
	}
	if os.Getenv("GOGC") == "" {
		t := &gctune.Tuner{Policy: gctune.Server}
		t.Step()
		go t.Run(ctx, 100*time.Millisecond)
	}
	return nil
}

// lockDataDir takes an exclusive lock on DIR/lock, so that two servers
// never share a data directory; the lock dies with the process.
func lockDataDir(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	fd, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(fd.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		fd.Close()
		return nil, fmt.Errorf("data directory %s is in use by another stargate server", dir)
	}
	return func() { fd.Close() }, nil
}

// committersFor is the number of concurrent group commits: SQLite has one
// writer; PostgreSQL gains from a few transactions in flight.
func committersFor(store string) int {
	if len(store) > 8 && store[:8] == "postgres" {
		return 4
	}
	return 1
}

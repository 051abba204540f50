package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"stargate/fleet"
	"stargate/store"
)

// Config configures a Server. Store and Fleet are required; the zero
// value of every other field is a sensible default.
type Config struct {
	Store store.Store
	Fleet *fleet.Fleet
	Clock Clock        // default SystemClock
	Log   *slog.Logger // default: discard
	// Scheduler decides placements in the reconcile loop; nil: jobs stay
	// pending (the loop still marks silent nodes lost).
	Scheduler Scheduler
	// MaxBody bounds request bodies (default DefaultMaxBody).
	MaxBody int64
	// MetricsPublic serves /metrics without a token.
	MetricsPublic bool
	// MaxBatch bounds the jobs committed in one transaction (default
	// 2048); Committers is the number of concurrent committing
	// transactions (default 1, right for SQLite's single writer).
	MaxBatch, Committers int
	// ReconcileEvery is the reconcile loop's period (default 1s).
	ReconcileEvery time.Duration
	// HeartbeatTimeout marks a node lost when it has not been heard from
	// for this long (default 30s). A replica declares nodes lost only
	// once it has led for this long: silence while no replica led (the
	// server was down, the store stalled) is not held against a node.
	HeartbeatTimeout time.Duration
	// MeasureEvery is how often the reconcile loop reads every node's
	// measured draw for the power controller (default 5s).
	MeasureEvery time.Duration
	// ReadPerPass bounds the pending jobs a reconcile pass reads into a
	// new queue (after a start, a new leadership or a failed pass), so
	// that a queue of millions is read over passes of bounded work
	// (default 50,000: under 2 s a pass reading two million on two
	// cores). A scheduler of a static order (PrefixKeeper) decides from
	// the part read; any other once the queue is whole.
	ReadPerPass int
	// LeaderTTL is the leader lease's lifetime (default 10s): a replica
	// takes over at most LeaderTTL plus a third of it after the leader
	// stopped renewing. Lease times come from each replica's Clock, so
	// replicas' clocks must agree to well within LeaderTTL.
	LeaderTTL time.Duration
	// ID names this replica in the lease (default host:pid).
	ID string
	// LogKeep bounds the output kept of each job on each node, per
	// attempt, in bytes: the oldest is trimmed (default 8 MiB).
	LogKeep int64
	// MaxPendingPerTenant bounds each tenant's pending jobs: a submit
	// beyond it is a 429 (default DefaultMaxPendingPerTenant; negative:
	// no bound).
	MaxPendingPerTenant int
	// Tenants are the tenants' fair-share weights and quotas, as the
	// Scheduler has them, for GET /v1/tenants.
	Tenants map[string]TenantConfig
	// SecretKey seals jobs' secret_env values at rest (32 bytes, AES-256);
	// without one, jobs with secret_env are refused. Replicas sharing a
	// store must share it (see LoadOrCreateSecretKey).
	SecretKey []byte
}

// Server is the control plane. Create it with New, serve Handler, and run
// the background loops with Run.
type Server struct {
	cfg    Config
	store  store.Store
	fleet  *fleet.Fleet
	clock  Clock
	log    *slog.Logger
	nodeIx map[string]int // fleet node name -> index
	tokens tokenCache
	ids    idGen

	submits chan *submitReq
	beats   chan *beatReq
	stopped chan struct{} // closed when Run returns
	leader  atomic.Bool
	epoch   atomic.Int64
	// leaderSince is when this replica took the lease, and leaseUntil
	// when its last successful renewal runs out, in UnixNano of the Clock.
	leaderSince, leaseUntil atomic.Int64
	// generation changes whenever a Scheduler's kept state may be stale.
	generation atomic.Uint64
	metrics    *metrics
	handler    http.Handler
	reconMu    sync.Mutex // one reconcile pass at a time; guards live
	live       liveCache
	telemetry  telemetry
	feasible   *feasibility
	powerView  powerCache
	sessions   sessions
	pending    pendingGate
	energy     energyMeter
	history    drawHistory
	closing    chan struct{} // closed when Serve begins to shut down: event streams end
	closeOnce  sync.Once
	countsView countsCache
}

// LeaseName is the name of the scheduler's leader lease.
const LeaseName = "scheduler"

// New checks the configuration and builds a server.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Fleet == nil {
		return nil, errors.New("server: Config needs a Store and a Fleet")
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 2048
	}
	if cfg.Committers <= 0 {
		cfg.Committers = 1
	}
	if cfg.ReconcileEvery <= 0 {
		cfg.ReconcileEvery = time.Second
	}
	if cfg.HeartbeatTimeout <= 0 {
		cfg.HeartbeatTimeout = 30 * time.Second
	}
	if cfg.MeasureEvery <= 0 {
		cfg.MeasureEvery = 5 * time.Second
	}
	if cfg.ReadPerPass <= 0 {
		cfg.ReadPerPass = 50_000
	}
	if n := len(cfg.SecretKey); n != 0 && n != 32 {
		return nil, fmt.Errorf("server: the secret key must be 32 bytes, not %d", n)
	}
	if cfg.MaxPendingPerTenant == 0 {
		cfg.MaxPendingPerTenant = DefaultMaxPendingPerTenant
	}
	if cfg.LogKeep <= 0 {
		cfg.LogKeep = DefaultLogKeep
	}
	if cfg.LeaderTTL <= 0 {
		cfg.LeaderTTL = 10 * time.Second
	}
	if cfg.ID == "" {
		host, _ := os.Hostname()
		cfg.ID = host + ":" + strconv.Itoa(os.Getpid()) + ":" + randomString(3)
	}
	s := &Server{
		cfg: cfg, store: cfg.Store, fleet: cfg.Fleet, clock: cfg.Clock, log: cfg.Log,
		nodeIx:  make(map[string]int, len(cfg.Fleet.Nodes)),
		tokens:  tokenCache{m: map[string]cachedToken{}},
		submits: make(chan *submitReq, 8192),
		beats:   make(chan *beatReq, 8192),
		stopped: make(chan struct{}),
		closing: make(chan struct{}),
	}
	for i := range cfg.Fleet.Nodes {
		s.nodeIx[cfg.Fleet.NodeName(i)] = i
	}
	s.store = powerStore{Store: cfg.Store, s: s}
	s.feasible = newFeasibility(cfg.Fleet)
	s.metrics = newMetrics(s)
	s.handler = s.routes()
	return s, nil
}

// Handler returns the HTTP handler of the API.
func (s *Server) Handler() http.Handler { return s.handler }

// Registry returns the server's Prometheus registry, for more metrics of
// the process. GET /metrics serves Metrics: the registry's and the power
// domains'.
func (s *Server) Registry() *prometheus.Registry { return s.metrics.reg }

// Metrics gathers what GET /metrics serves.
func (s *Server) Metrics() prometheus.Gatherer { return s.metrics.gatherer() }

// IsLeader reports whether this replica runs the scheduler now: it took
// the lease and the last renewal has not yet run out by its Clock. A
// replica whose renewals hang (a stalled store) stops claiming to lead
// when the lease runs out, without waiting for the store to answer.
func (s *Server) IsLeader() bool { return s.holdsLease(s.clock.Now()) }

// holdsLease reports whether this replica holds the lease at a time.
func (s *Server) holdsLease(now time.Time) bool {
	return s.leader.Load() && now.UnixNano() < s.leaseUntil.Load()
}

// ID returns the replica's name in the leader lease.
func (s *Server) ID() string { return s.cfg.ID }

// Run runs the background work until ctx ends: the submit committers, the
// leader election and the reconcile loop. Submits are accepted only while
// Run runs.
func (s *Server) Run(ctx context.Context) error {
	if _, err := s.SeedTenants(ctx); err != nil {
		s.log.Warn("the tenants of the flags were not stored", "err", err)
	}
	var wg sync.WaitGroup
	for i := 0; i < s.cfg.Committers; i++ {
		wg.Go(func() { s.commitLoop(ctx) })
	}
	wg.Go(func() { s.beatLoop(ctx) })
	wg.Go(func() { s.sampleLoop(ctx) })
	wg.Go(func() { s.meterLoop(ctx) })
	wg.Go(func() { s.leaderLoop(ctx) })
	wg.Wait()
	close(s.stopped)
	return nil
}

// ServeOptions says where and how Serve listens.
type ServeOptions struct {
	Listener net.Listener
	// TLSCert and TLSKey, when set, serve HTTPS.
	TLSCert, TLSKey string
}

// Serve serves the API on a listener and runs the background loops, until
// ctx ends; then it stops accepting requests, lets those in flight finish
// (their submits committed) and returns.
func (s *Server) Serve(ctx context.Context, o ServeOptions) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if o.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
		if err != nil {
			return fmt.Errorf("server: TLS: %w", err)
		}
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	hs.RegisterOnShutdown(func() { s.closeOnce.Do(func() { close(s.closing) }) })
	bg, stopBG := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(bg); close(done) }()
	errc := make(chan error, 1)
	go func() {
		if hs.TLSConfig != nil {
			errc <- hs.ServeTLS(o.Listener, "", "")
		} else {
			errc <- hs.Serve(o.Listener)
		}
	}()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	hs.Shutdown(sctx)
	cancel()
	stopBG()
	<-done
	if s.IsLeader() {
		s.store.ReleaseLease(context.Background(), LeaseName, s.cfg.ID)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

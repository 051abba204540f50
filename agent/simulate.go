package agent

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"stargate/agent/device"
	"stargate/client"
	"stargate/server"
	"stargate/store"
)

// Simulated nodes: many nodes of a fleet in one process, for demos and
// load tests. Each registers with the join token, heartbeats on its own
// goroutine with its own credential and with fake devices built from the
// hardware the server answers, "runs" the jobs placed on it for their
// duration_s of wall time, reports them succeeded (or, with a failure
// rate, some of them failed part-way), and applies their power caps. A node's logic (simNode) is a state machine without I/O: report
// builds a heartbeat, apply acts on the reply; the goroutine around it
// sends the requests.

// SimConfig configures a Simulator. Server, JoinToken and Nodes are
// required; the zero value of every other field is a default.
type SimConfig struct {
	// Server is the control plane's URL; JoinToken an agent (join) token.
	Server, JoinToken string
	// Nodes are the fleet's names of the nodes to simulate.
	Nodes []string
	// Address is the address the nodes register (default "127.0.0.1").
	Address string
	// Heartbeat is each node's heartbeat period (default 5s); every period
	// is jittered, and the nodes start spread over the first one.
	Heartbeat time.Duration
	// JobDuration is how long a job whose spec gives no duration_s runs
	// (default 60s).
	JobDuration time.Duration
	// Seed seeds the nodes' start offsets and the failures.
	Seed uint64
	// FailureRate is the fraction of job attempts that fail part-way
	// through, as a process exiting with code 1 would (default 0: none).
	// Whether an attempt fails, on which node of its gang and when is
	// drawn from a stream seeded by Seed and the attempt, so that every
	// node of a gang agrees and a run can be replayed.
	FailureRate float64
	// HTTP is the client every node's requests share (default: a
	// client.New transport), so that thousands of nodes reuse a few
	// connections.
	HTTP *http.Client
	// Clock tells the time (default: the system clock).
	Clock server.Clock
	Log   *slog.Logger
	// OnBeat, when set, hears every heartbeat: its latency as the node saw
	// it, and its error (nil when it succeeded). OnStart hears every job
	// attempt a node starts, with the time the node saw it. Both are called
	// from the nodes' goroutines, concurrently.
	OnBeat  func(node string, latency time.Duration, err error)
	OnStart func(node string, job store.Job, seen time.Time)
}

// SimStats counts what the simulated nodes did so far.
type SimStats struct {
	Nodes      int   `json:"nodes"`
	Registered int   `json:"registered"` // nodes that registered at least once
	Refused    int   `json:"refused"`    // nodes whose registration was refused
	Beats      int64 `json:"beats"`      // heartbeats answered 200
	BeatErrors int64 `json:"beat_errors"`
	Running    int64 `json:"running"` // job attempts running now
	Started    int64 `json:"started"`
	Finished   int64 `json:"finished"` // attempts reported succeeded (or timed out)
	Failed     int64 `json:"failed"`   // attempts reported failed (FailureRate)
}

// Simulator runs simulated nodes; see SimConfig.
type Simulator struct {
	cfg  SimConfig
	join *client.Client

	registered, refused        atomic.Int64
	beats, beatErrors          atomic.Int64
	running, started, finished atomic.Int64
	failed                     atomic.Int64
	refuseOnce                 sync.Once
	firstRefusal               error
}

// NewSimulator checks the configuration and prepares the nodes; Run
// starts them.
func NewSimulator(cfg SimConfig) (*Simulator, error) {
	if cfg.Server == "" || cfg.JoinToken == "" || len(cfg.Nodes) == 0 {
		return nil, errors.New("agent: simulate: missing server, join token or nodes")
	}
	if !(cfg.FailureRate >= 0 && cfg.FailureRate <= 1) {
		return nil, fmt.Errorf("agent: simulate: the failure rate must be between 0 and 1, got %g", cfg.FailureRate)
	}
	if cfg.Address == "" {
		cfg.Address = "127.0.0.1"
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 5 * time.Second
	}
	if cfg.JobDuration <= 0 {
		cfg.JobDuration = time.Minute
	}
	if cfg.Clock == nil {
		cfg.Clock = server.SystemClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	join := client.New(cfg.Server, cfg.JoinToken)
	if cfg.HTTP == nil {
		cfg.HTTP = join.HTTP
	}
	join.HTTP = cfg.HTTP
	return &Simulator{cfg: cfg, join: join}, nil
}

// Stats returns the counts so far; it is safe to call while Run runs.
func (s *Simulator) Stats() SimStats {
	return SimStats{Nodes: len(s.cfg.Nodes), Registered: int(s.registered.Load()), Refused: int(s.refused.Load()),
		Beats: s.beats.Load(), BeatErrors: s.beatErrors.Load(), Running: s.running.Load(),
		Started: s.started.Load(), Finished: s.finished.Load(), Failed: s.failed.Load()}
}

// Run runs every node until ctx ends, and returns then. A node whose
// registration the server refuses stops; Run then returns an error
// wrapping ErrRefused (at once when every node was refused).
func (s *Simulator) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for i, name := range s.cfg.Nodes {
		wg.Go(func() { s.runNode(ctx, i, name) })
	}
	wg.Wait()
	if n := s.refused.Load(); n > 0 {
		return fmt.Errorf("agent: simulate: %d of %d nodes refused; the first: %w", n, len(s.cfg.Nodes), s.firstRefusal)
	}
	return nil
}

// runNode runs one node: a start spread over the first period, then
// registration and heartbeats until ctx ends or the server refuses it.
func (s *Simulator) runNode(ctx context.Context, i int, name string) {
	rng := rand.New(rand.NewPCG(s.cfg.Seed, uint64(i)))
	if !sleep(ctx, time.Duration(rng.Float64()*float64(s.cfg.Heartbeat))) {
		return
	}
	n := newSimNode(name, s.cfg.JobDuration, s.cfg.Log.With("node", name))
	n.failRate, n.seed = s.cfg.FailureRate, s.cfg.Seed
	counted := 0 // of n's running attempts, those in s.running
	track := func() {
		r := n.running()
		s.running.Add(int64(r - counted))
		counted = r
	}
	defer func() { s.running.Add(-int64(counted)) }()
	c, ok := s.register(ctx, n)
	if !ok {
		return
	}
	s.registered.Add(1)
	fails, rejoined := 0, false
	for {
		hb, reported := n.report(s.cfg.Clock.Now())
		track()
		t0 := s.cfg.Clock.Now()
		reply, err := c.Heartbeat(ctx, name, hb)
		seen := s.cfg.Clock.Now()
		if ctx.Err() != nil {
			return
		}
		if s.cfg.OnBeat != nil {
			s.cfg.OnBeat(name, seen.Sub(t0), err)
		}
		var ce *client.Error
		switch {
		case err == nil:
			fails, rejoined = 0, false
			s.beats.Add(1)
			ok, failed := n.reported(reported)
			s.finished.Add(int64(ok))
			s.failed.Add(int64(failed))
			for _, j := range n.apply(reply, seen) {
				s.started.Add(1)
				if s.cfg.OnStart != nil {
					s.cfg.OnStart(name, j, seen)
				}
			}
			track()
		case errors.As(err, &ce) && (ce.Status == http.StatusUnauthorized || ce.Status == http.StatusNotFound) && !rejoined:
			// The server forgot the node or its credential: join again,
			// and beat at once (once: a server that keeps refusing gets
			// the backoff below, not a tight loop).
			s.beatErrors.Add(1)
			n.log.Debug("heartbeat refused; registering again", "err", err)
			if c, ok = s.register(ctx, n); !ok {
				return
			}
			rejoined = true
			continue
		default:
			s.beatErrors.Add(1)
			fails, rejoined = fails+1, false
			n.log.Debug("heartbeat failed", "err", err, "failures", fails)
		}
		if !sleep(ctx, backoff(s.cfg.Heartbeat, fails)) {
			return
		}
	}
}

// register joins a node with the join token, retrying with backoff until
// it is accepted (ok), refused or ctx ends (not ok). It returns a client
// with the node's credential on the shared transport.
func (s *Simulator) register(ctx context.Context, n *simNode) (*client.Client, bool) {
	for fails := 0; ; fails++ {
		reg := server.NodeRegistration{Name: n.name, Address: s.cfg.Address, Accelerators: n.count(),
			Labels: map[string]string{"simulated": "true"}}
		out, err := s.join.Register(ctx, reg)
		if err == nil {
			if err := n.connect(out.Hardware, s.cfg.Clock); err != nil {
				s.refuse(n, err)
				return nil, false
			}
			n.log.Debug("registered", "model", out.Hardware.Model)
			return &client.Client{Base: s.join.Base, Token: out.Credential, HTTP: s.cfg.HTTP}, true
		}
		if ctx.Err() != nil {
			return nil, false
		}
		var ce *client.Error
		if errors.As(err, &ce) && ce.Status >= 400 && ce.Status < 500 {
			s.refuse(n, fmt.Errorf("%w: %s: %v", ErrRefused, n.name, err))
			return nil, false
		}
		n.log.Debug("cannot register yet", "err", err)
		if !sleep(ctx, backoff(time.Second, fails)) {
			return nil, false
		}
	}
}

// refuse records a node the server will not take; the first is logged.
func (s *Simulator) refuse(n *simNode, err error) {
	if !errors.Is(err, ErrRefused) {
		err = fmt.Errorf("%w: %s: %v", ErrRefused, n.name, err)
	}
	s.refuseOnce.Do(func() {
		s.firstRefusal = err
		s.cfg.Log.Error("registration refused; the node stops", "node", n.name, "err", err)
	})
	s.refused.Add(1)
}

// simNode is one simulated node: its fake devices and the job attempts it
// "runs". It does no I/O and is used by one goroutine.
type simNode struct {
	name     string
	dur      time.Duration // run time of a job without duration_s
	hw       server.NodeHardware
	devices  device.Devices
	attempts map[string]*simAttempt // by key(job, attempt)
	log      *slog.Logger
	// shell is the device half of a real node's agent: the simulated node
	// reads telemetry and applies caps with the very code a real node
	// runs (Agent.telemetry, Agent.applyCap), on its fake devices.
	shell *Agent
	// failRate and seed draw the attempts that fail (see
	// SimConfig.FailureRate).
	failRate float64
	seed     uint64
}

// simAttempt is one attempt of a job on a simulated node.
type simAttempt struct {
	job      string
	attempt  int
	devices  []int
	load     float64
	run      time.Duration // its run time without a time limit
	end      time.Time
	ended    bool // its run time is over
	reported bool // its end reached the server
	timeout  bool // it ends at its time limit, before its duration
	failed   bool // it ends failed, part-way through its duration
}

func newSimNode(name string, dur time.Duration, log *slog.Logger) *simNode {
	return &simNode{name: name, dur: dur, attempts: map[string]*simAttempt{}, log: log}
}

// count is the number of devices, 0 before the first registration.
func (n *simNode) count() int {
	if n.devices == nil {
		return 0
	}
	return n.devices.Count()
}

// connect gives the node the hardware the server answered: fake devices
// the first time (they are kept across registrations, with their energy
// counters, caps and loads).
func (n *simNode) connect(hw server.NodeHardware, clock server.Clock) error {
	if n.devices != nil {
		return nil
	}
	n.hw = hw
	if hw.Accelerators == 0 {
		n.devices = device.None{}
	} else {
		m := device.FakeModel{Node: n.name, Model: hw.Accelerator, Count: hw.Accelerators, TDPW: hw.TDPW, IdleW: hw.IdleW,
			MemoryMiB: hw.MemoryGB * 1024, Clock: clock.Now}
		if err := m.Validate(); err != nil {
			return fmt.Errorf("agent: simulate: the server's hardware of %s: %w", n.name, err)
		}
		n.devices = device.NewFake(m)
	}
	n.shell = &Agent{hw: hw, devices: n.devices, caps: map[string]server.CapAck{}, log: n.log}
	return nil
}

// running is the number of attempts whose run time is not over.
func (n *simNode) running() int {
	k := 0
	for _, at := range n.attempts {
		if !at.ended {
			k++
		}
	}
	return k
}

// report ends the attempts whose run time is over at now and returns the
// heartbeat to send: their outcomes, the devices' telemetry (with the
// node's overhead, as a real node reports it) and the caps' acks. keys
// are the attempts it reports ended, for reported.
func (n *simNode) report(now time.Time) (hb server.Heartbeat, keys []string) {
	for k, at := range n.attempts {
		if !at.ended && !now.Before(at.end) {
			at.ended = true
		}
		if at.ended && !at.reported {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		at := n.attempts[k]
		o := server.JobOutcome{Job: at.job, Attempt: at.attempt, State: store.JobSucceeded}
		switch {
		case at.failed:
			o.State, o.Message = store.JobFailed, "exit code 1"
		case at.timeout:
			o.State, o.Message = store.JobTimeout, "time limit reached"
		}
		hb.Finished = append(hb.Finished, o)
	}
	n.setLoads()
	hb.Accelerators, hb.DrawW, hb.Unhealthy = n.shell.telemetry()
	caps := make([]string, 0, len(n.shell.caps))
	for k := range n.shell.caps {
		caps = append(caps, k)
	}
	sort.Strings(caps)
	for _, k := range caps {
		hb.Caps = append(hb.Caps, n.shell.caps[k])
	}
	return hb, keys
}

// reported records that a heartbeat carried these attempts' ends, and
// returns how many of them ended well (or at their time limit) and how
// many failed.
func (n *simNode) reported(keys []string) (ok, failed int) {
	for _, k := range keys {
		at, known := n.attempts[k]
		if known {
			at.reported = true
		}
		if known && at.failed {
			failed++
		} else {
			ok++
		}
	}
	return ok, failed
}

// apply makes the node run what a heartbeat reply assigns it, as seen at
// now: it starts the attempts it does not know (never one twice: an
// attempt is known until the server stops assigning it), drops those the
// reply no longer lists, and applies the running ones' caps. It returns
// the jobs it started.
func (n *simNode) apply(reply server.HeartbeatReply, now time.Time) []store.Job {
	want := map[string]Placement{}
	for _, j := range reply.Jobs {
		if p, ok := Locate(j, n.name, reply.Addresses, n.hw.Vendor); ok {
			want[key(j.ID, j.Attempts)] = p
		}
	}
	for k := range n.attempts {
		if _, ok := want[k]; !ok {
			delete(n.attempts, k)
			delete(n.shell.caps, k)
		}
	}
	var started []store.Job
	for k, p := range want {
		at, ok := n.attempts[k]
		if !ok {
			if p.Job.Placement[p.Rank].Done {
				continue // it ended well here before this process knew it
			}
			at = newSimAttempt(p, n.dur, n.count(), now)
			n.maybeFail(at, p, now)
			n.attempts[k] = at
			started = append(started, p.Job)
			n.log.Debug("started job", "job", p.Job.ID, "attempt", p.Job.Attempts, "devices", at.devices, "until", at.end)
		}
		if !at.ended {
			n.shell.applyCap(k, p.Job.CapW, at.devices)
		}
	}
	n.setLoads()
	sort.Slice(started, func(a, b int) bool { return started[a].ID < started[b].ID })
	return started
}

// newSimAttempt starts a node's share of a job at now on the devices it
// has of those allocated, for the spec's duration (dur when it gives
// none) or up to its time limit, at its power fraction (DefaultLoad when
// it gives none).
func newSimAttempt(p Placement, dur time.Duration, count int, now time.Time) *simAttempt {
	j := p.Job
	if j.Spec.DurationS > 0 {
		dur = time.Duration(j.Spec.DurationS) * time.Second
	}
	load := j.Spec.Power
	if load <= 0 {
		load = DefaultLoad
	}
	var devs []int
	for _, d := range p.Devices {
		if d >= 0 && d < count {
			devs = append(devs, d)
		}
	}
	at := &simAttempt{job: j.ID, attempt: j.Attempts, devices: devs, load: load, run: dur, end: now.Add(dur)}
	if limit := time.Duration(j.Spec.TimeLimitS) * time.Second; limit > 0 && limit < dur {
		at.end, at.timeout = now.Add(limit), true
	}
	return at
}

// maybeFail decides whether a new attempt fails on this node, and when.
// The draw is the attempt's, not the node's: a stream seeded by the
// simulator's seed and the job's ID and attempt says whether the attempt
// fails (with probability failRate), on which rank of its gang, and how
// far into its run (10% to 90%), so every node of a gang draws the same
// and exactly one of them fails. An attempt that would reach its time
// limit first ends as a timeout.
func (n *simNode) maybeFail(at *simAttempt, p Placement, now time.Time) {
	if n.failRate <= 0 {
		return
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d", p.Job.ID, p.Job.Attempts)
	rng := rand.New(rand.NewPCG(n.seed, h.Sum64()))
	if rng.Float64() >= n.failRate {
		return
	}
	rank := rng.IntN(max(len(p.Job.Placement), 1))
	frac := 0.1 + 0.8*rng.Float64()
	if rank != p.Rank {
		return
	}
	end := now.Add(time.Duration(frac * float64(at.run)))
	if !end.Before(at.end) {
		return // its time limit comes first
	}
	at.end, at.failed, at.timeout = end, true, false
}

// setLoads sets each device's load to that of the attempt running on it
// (the highest, should two share one), 0 when idle.
func (n *simNode) setLoads() {
	load := make([]float64, n.count())
	for _, at := range n.attempts {
		if at.ended {
			continue
		}
		for _, d := range at.devices {
			load[d] = max(load[d], at.load)
		}
	}
	for i, l := range load {
		n.devices.SetLoad(i, l)
	}
}

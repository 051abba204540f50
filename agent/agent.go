package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"stargate/agent/device"
	"stargate/client"
	"stargate/server"
	"stargate/store"
)

// Config configures an Agent. Server, JoinToken, Node, DataDir and Shim
// are required; the zero value of every other field is a default.
type Config struct {
	// Server is the control plane's URL; JoinToken an agent (join) token,
	// used only to register.
	Server, JoinToken string
	// Node is the fleet's name of this node, "site/hall/row/rack/nN".
	Node string
	// Address is where the node's processes are reached (MASTER_ADDR of
	// the jobs whose rank 0 runs here; default: the host name).
	Address string
	// DataDir keeps the node's credential and its jobs' directories.
	DataDir string
	// Devices is the kind of devices: auto, nvml, fake or none (default
	// auto); see device.Open.
	Devices string
	// Heartbeat is the period of heartbeats (default 5s).
	Heartbeat time.Duration
	// LogLimit bounds the output kept of each job on this node (default
	// 16 MiB): the oldest is trimmed.
	LogLimit int64
	// RunAs, when set, is the user the jobs' processes run as.
	RunAs string
	// Shim is the command that runs a job's supervisor; the attempt's
	// directory is appended (e.g. the stargate binary and "agent", "shim").
	Shim []string
	// Listen, when set, is where the agent serves Prometheus /metrics:
	// the devices' telemetry under dcgm-exporter's names.
	Listen string
	// Clock tells the time (default: the system clock).
	Clock server.Clock
	Log   *slog.Logger
}

// Agent runs one node: it registers it, heartbeats, runs the jobs the
// server places there, stops those it no longer does, applies power caps
// and ships the jobs' output.
type Agent struct {
	cfg     Config
	join    *client.Client
	shipMu  sync.Mutex     // one log upload at a time
	mu      sync.Mutex     // guards node
	node    *client.Client // with the node's credential
	hw      server.NodeHardware
	devices device.Devices
	runner  *ProcessRunner
	caps    map[string]server.CapAck // by attempt key: the last cap applied
	log     *slog.Logger
}

// ErrRefused wraps a registration the server refused: the node is not in
// the fleet, or its hardware does not match the fleet file. Retrying
// cannot help.
var ErrRefused = errors.New("agent: registration refused")

// credFile keeps the node credential in the data directory.
const credFile = "credential.json"

type credential struct {
	Node       string              `json:"node"`
	Credential string              `json:"credential"`
	Hardware   server.NodeHardware `json:"hardware"`
}

// New checks the configuration and prepares the agent; Run starts it.
func New(cfg Config) (*Agent, error) {
	var missing []string
	for name, v := range map[string]string{"server": cfg.Server, "join token": cfg.JoinToken, "node": cfg.Node, "data directory": cfg.DataDir} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(cfg.Shim) == 0 {
		missing = append(missing, "supervisor command")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("agent: missing %s", strings.Join(missing, ", "))
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 5 * time.Second
	}
	if cfg.LogLimit <= 0 {
		cfg.LogLimit = 16 << 20
	}
	if cfg.Address == "" {
		cfg.Address, _ = os.Hostname()
	}
	if cfg.Clock == nil {
		cfg.Clock = server.SystemClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	r, err := NewProcessRunner(cfg.DataDir, cfg.Shim, cfg.LogLimit, cfg.RunAs)
	if err != nil {
		return nil, err
	}
	return &Agent{cfg: cfg, join: client.New(cfg.Server, cfg.JoinToken), runner: r,
		caps: map[string]server.CapAck{}, log: cfg.Log}, nil
}

// Run registers the node and runs it until ctx ends. Jobs keep running
// when Run returns (or the agent dies): the next agent adopts them. It
// returns an error wrapping ErrRefused when the server refuses the node.
func (a *Agent) Run(ctx context.Context) error {
	if err := a.connect(ctx); err != nil {
		return err
	}
	defer a.devices.Close()
	if a.cfg.Listen != "" {
		stop, err := a.serveMetrics()
		if err != nil {
			return err
		}
		defer stop()
	}
	shipDone := make(chan struct{})
	go func() { a.shipLoop(ctx); close(shipDone) }()
	defer func() { <-shipDone }()
	fails := 0
	for {
		err := a.beat(ctx)
		var ce *client.Error
		switch {
		case err == nil:
			fails = 0
		case ctx.Err() != nil:
			return nil
		case errors.As(err, &ce) && (ce.Status == http.StatusUnauthorized || ce.Status == http.StatusNotFound):
			// The server forgot the node or its credential: join again.
			a.log.Warn("heartbeat refused; registering again", "err", err)
			if err := a.register(ctx); err != nil {
				if errors.Is(err, ErrRefused) || ctx.Err() != nil {
					return err
				}
				fails++
				a.log.Warn("cannot register again yet; jobs run on", "err", err, "failures", fails)
				break
			}
			continue
		default:
			fails++
			a.log.Warn("heartbeat failed; jobs run on", "err", err, "failures", fails)
		}
		if !sleep(ctx, backoff(a.cfg.Heartbeat, fails)) {
			return nil
		}
	}
}

// backoff is the wait before the next heartbeat after fails failures in a
// row: the period, doubled per failure up to a minute, with jitter, so
// that many agents returning together do not arrive together.
func backoff(period time.Duration, fails int) time.Duration {
	d := period
	for i := 0; i < fails && d < time.Minute; i++ {
		d *= 2
	}
	d = min(d, max(time.Minute, period))
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// connect finds the node's credential (kept from an earlier run, or got
// by registering) and opens its devices.
func (a *Agent) connect(ctx context.Context) error {
	var c credential
	b, err := os.ReadFile(filepath.Join(a.cfg.DataDir, credFile))
	if err == nil && json.Unmarshal(b, &c) == nil && c.Node == a.cfg.Node && c.Credential != "" {
		a.setNode(client.New(a.cfg.Server, c.Credential))
		a.hw = c.Hardware
	} else {
		for fails := 0; ; fails++ {
			err := a.register(ctx)
			if err == nil {
				break
			}
			if errors.Is(err, ErrRefused) || ctx.Err() != nil {
				return err
			}
			a.log.Warn("cannot register yet", "err", err)
			if !sleep(ctx, backoff(time.Second, fails)) {
				return ctx.Err()
			}
		}
	}
	fake := device.FakeModel{Node: a.cfg.Node, Model: a.hw.Accelerator, Count: a.hw.Accelerators,
		TDPW: a.hw.TDPW, IdleW: a.hw.IdleW, MemoryMiB: a.hw.MemoryGB * 1024, Clock: a.cfg.Clock.Now}
	d, desc, err := device.Open(a.cfg.Devices, fake)
	if err != nil {
		return fmt.Errorf("agent: devices: %w", err)
	}
	if n := d.Count(); n > 0 && n != a.hw.Accelerators {
		d.Close()
		return fmt.Errorf("%w: the fleet file gives %s %d accelerators (%s), this machine has %d", ErrRefused, a.cfg.Node, a.hw.Accelerators, a.hw.Accelerator, n)
	}
	// Caps are the server's to give: every device starts at its default
	// limit, and the first heartbeat's reply caps the jobs it capped.
	for i := range d.Count() {
		d.SetCap(i, 0)
	}
	a.devices = d
	a.log.Info("devices", "kind", desc)
	return nil
}

// register joins the node with the join token and keeps the credential it
// answers.
func (a *Agent) register(ctx context.Context) error {
	reg := server.NodeRegistration{Name: a.cfg.Node, Address: a.cfg.Address}
	if a.devices != nil && a.devices.Count() > 0 {
		reg.Accelerators = a.devices.Count()
	}
	out, err := a.join.Register(ctx, reg)
	var ce *client.Error
	if errors.As(err, &ce) && ce.Status >= 400 && ce.Status < 500 {
		return fmt.Errorf("%w: %v", ErrRefused, err)
	}
	if err != nil {
		return err
	}
	c := credential{Node: a.cfg.Node, Credential: out.Credential, Hardware: out.Hardware}
	b, _ := json.Marshal(c)
	if err := writeSynced(filepath.Join(a.cfg.DataDir, credFile), b); err != nil {
		return fmt.Errorf("agent: keep credential: %w", err)
	}
	a.setNode(client.New(a.cfg.Server, out.Credential))
	a.hw = out.Hardware
	a.log.Info("registered", "node", a.cfg.Node, "model", out.Hardware.Model)
	return nil
}

// beat sends one heartbeat and acts on the reply.
func (a *Agent) beat(ctx context.Context) error {
	a.runner.Recover(max(2*a.cfg.Heartbeat, 2*time.Second))
	attempts := a.runner.Attempts()
	var hb server.Heartbeat
	var reported []Attempt
	load := make([]float64, a.devices.Count())
	for _, at := range attempts {
		if at.Ended == nil {
			for _, d := range at.Devices {
				if d >= 0 && d < len(load) {
					load[d] = max(load[d], at.Load)
				}
			}
			continue
		}
		if !at.Reported {
			o := server.JobOutcome{Job: at.Job, Attempt: at.Attempt, State: store.JobFailed, Message: at.Ended.Message}
			switch {
			case at.Ended.Succeeded:
				o.State = store.JobSucceeded
			case at.Ended.TimedOut:
				o.State = store.JobTimeout
			}
			hb.Finished = append(hb.Finished, o)
			reported = append(reported, at)
		}
	}
	if len(reported) > 0 {
		a.flush(ctx)
	}
	for i, l := range load {
		a.devices.SetLoad(i, l)
	}
	hb.Accelerators, hb.DrawW, hb.Unhealthy = a.telemetry()
	for _, c := range a.caps {
		hb.Caps = append(hb.Caps, c)
	}
	reply, err := a.nodeClient().Heartbeat(ctx, a.cfg.Node, hb)
	if err != nil {
		return err
	}
	for _, at := range reported {
		a.runner.Reported(at.Job, at.Attempt)
	}
	a.reconcile(reply, attempts)
	return nil
}

// telemetry reads the devices: per-accelerator readings, the node's draw
// (the devices plus the node's overhead at their mean load; nil when
// there are no devices), and why the node is unhealthy ("" when it is
// not).
func (a *Agent) telemetry() ([]server.AcceleratorReading, *float64, string) {
	rs, err := a.devices.Read()
	if err != nil {
		return nil, nil, "devices: " + err.Error()
	}
	if len(rs) == 0 {
		return nil, nil, ""
	}
	out := make([]server.AcceleratorReading, len(rs))
	var sum, util float64
	var fatal []string
	for i, r := range rs {
		out[i] = server.AcceleratorReading{Index: r.Index, UUID: r.UUID, PowerW: r.PowerW, EnergyJ: r.EnergyJ, Util: r.Util,
			MemUsedMiB: r.MemUsedMiB, MemTotalMiB: r.MemTotalMiB, TempC: r.TempC, SMClockMHz: r.SMClockMHz, CapW: r.CapW, Fatal: r.Fatal}
		sum += r.PowerW
		util += r.Util
		if r.Fatal != "" {
			fatal = append(fatal, fmt.Sprintf("accelerator %d: %s", r.Index, r.Fatal))
		}
	}
	util /= float64(len(rs))
	draw := sum + a.hw.OverheadIdleW + util*(a.hw.OverheadW-a.hw.OverheadIdleW)
	return out, &draw, strings.Join(fatal, "; ")
}

// reconcile makes the node run what the server assigns it: it starts the
// attempts it does not know, stops those no longer assigned, forgets the
// ended ones whose news and output reached the server, and applies caps.
func (a *Agent) reconcile(reply server.HeartbeatReply, known []Attempt) {
	want := map[string]store.Job{}
	for _, j := range reply.Jobs {
		want[key(j.ID, j.Attempts)] = j
	}
	have := map[string]Attempt{}
	for _, at := range known {
		k := key(at.Job, at.Attempt)
		have[k] = at
		_, wanted := want[k]
		switch {
		case at.Ended == nil && !wanted:
			a.log.Info("stopping job: no longer assigned here", "job", at.Job, "attempt", at.Attempt)
			a.runner.Stop(at.Job, at.Attempt)
		case at.Ended != nil && at.Reported && !wanted:
			a.runner.Forget(at.Job, at.Attempt)
		}
		if c, capped := a.caps[k]; capped && at.Ended != nil {
			// Its processes are gone: the next job on these devices
			// starts at the default limit, as the server believes.
			if c.WantW != 0 {
				for _, d := range at.Devices {
					if _, err := a.devices.SetCap(d, 0); err != nil {
						a.log.Warn("cannot lift a cap", "accelerator", d, "err", err)
					}
				}
			}
			delete(a.caps, k)
		}
	}
	// Devices still held by attempts being stopped (within their grace
	// period): a new attempt waits for them rather than share them.
	stopping := map[int]bool{}
	for k, at := range have {
		if _, wanted := want[k]; at.Ended == nil && !wanted {
			for _, d := range at.Devices {
				stopping[d] = true
			}
		}
	}
	for k, j := range want {
		p, ok := Locate(j, a.cfg.Node, reply.Addresses, a.hw.Vendor)
		if !ok {
			continue
		}
		at, running := have[k]
		if !running {
			if slices.ContainsFunc(p.Devices, func(d int) bool { return stopping[d] }) {
				a.log.Info("job waits for its devices: an earlier job is stopping", "job", j.ID, "attempt", j.Attempts)
				continue
			}
			a.start(p)
			continue
		}
		if at.Ended == nil {
			a.applyCap(k, j.CapW, p.Devices)
		}
	}
}

// start starts an attempt; a job that cannot start is recorded as failed
// so that the next heartbeat says why.
func (a *Agent) start(p Placement) {
	j := p.Job
	procs, err := Procs(p, baseEnv(a.cfg.RunAs))
	if err != nil {
		// It can never run here: say so once, as its outcome.
		a.log.Error("cannot run job", "job", j.ID, "err", err)
		if err := a.runner.Refuse(p, strings.TrimPrefix(err.Error(), "agent: ")); err != nil {
			a.log.Error("cannot record job", "job", j.ID, "err", err)
		}
		return
	}
	if err := a.runner.Start(p, procs, j.Spec.GraceS); err != nil {
		a.log.Error("cannot start job; trying again at the next heartbeat", "job", j.ID, "err", err)
		return
	}
	a.log.Info("started job", "job", j.ID, "attempt", j.Attempts, "rank", p.Rank, "devices", p.Devices)
	a.applyCap(key(j.ID, j.Attempts), j.CapW, p.Devices)
}

// applyCap puts a job's cap on its devices (0: lifts it) when it changed,
// and keeps the acknowledgement for the next heartbeat.
func (a *Agent) applyCap(k string, want float64, devs []int) {
	if c, ok := a.caps[k]; ok && c.WantW == want {
		return
	}
	if _, ok := a.caps[k]; !ok && want == 0 {
		return // never capped: nothing to lift
	}
	job, _, _ := strings.Cut(k, ".")
	ack := server.CapAck{Job: job, WantW: want}
	var errs []string
	for _, d := range devs {
		applied, err := a.devices.SetCap(d, want)
		if err != nil {
			errs = append(errs, fmt.Sprintf("accelerator %d: %v", d, err))
			continue
		}
		ack.AppliedW = applied
	}
	ack.Error = strings.Join(errs, "; ")
	a.caps[k] = ack
	a.log.Info("cap", "job", job, "want_w", want, "applied_w", ack.AppliedW, "err", ack.Error)
}

// baseEnv is the environment a job's processes start from: the agent's
// PATH and locale, and the home of the user they run as. Nothing else of
// the agent's environment (its tokens among it) reaches a job.
func baseEnv(runAs string) map[string]string {
	env := map[string]string{"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	for _, k := range []string{"PATH", "LANG", "LC_ALL", "TZ"} {
		if v, ok := os.LookupEnv(k); ok {
			env[k] = v
		}
	}
	if runAs != "" {
		env["USER"], env["LOGNAME"] = runAs, runAs
	}
	if h, err := os.UserHomeDir(); err == nil && runAs == "" {
		env["HOME"] = h
	}
	return env
}

// shipLoop ships the jobs' output every second, or at once while a full
// upload leaves more.
func (a *Agent) shipLoop(ctx context.Context) {
	for {
		wait := time.Second
		switch more, err := a.ship(ctx); {
		case err != nil && ctx.Err() != nil:
		case err != nil:
			a.log.Warn("log upload failed", "err", err)
			wait = 5 * time.Second
		case more:
			wait = 10 * time.Millisecond
		}
		if !sleep(ctx, wait) {
			// One last try, so that a stopping agent leaves little behind.
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			a.ship(sctx)
			cancel()
			return
		}
	}
}

// ship uploads one batch of output not yet shipped; more says whether
// there was any (and so perhaps more behind it). Uploads are serialized,
// so that the heartbeat's flush and the loop do not send the same output.
func (a *Agent) ship(ctx context.Context) (more bool, err error) {
	a.shipMu.Lock()
	defer a.shipMu.Unlock()
	pieces := a.runner.Pending()
	if len(pieces) == 0 {
		return false, nil
	}
	res, err := a.nodeClient().UploadLogs(ctx, a.cfg.Node, server.LogUpload{Chunks: pieces})
	var ce *client.Error
	if errors.As(err, &ce) && ce.Status == http.StatusBadRequest {
		// The server will never take these: drop them rather than block
		// what follows.
		a.log.Warn("log upload refused; output dropped", "err", err)
		err = nil
	}
	for _, p := range res.Refused {
		a.log.Warn("log piece refused; dropped", "piece", p.Field, "why", p.Message)
	}
	if err != nil {
		return false, err
	}
	a.runner.Shipped(pieces)
	return true, nil
}

// flush ships all output not yet shipped, before the agent reports that
// jobs ended: whoever sees a job end then finds its whole output. It
// gives up on the first failure (the loop ships the rest later).
func (a *Agent) flush(ctx context.Context) {
	for {
		more, err := a.ship(ctx)
		if err != nil || !more {
			return
		}
	}
}

func (a *Agent) setNode(c *client.Client) {
	a.mu.Lock()
	a.node = c
	a.mu.Unlock()
}

// nodeClient is the client with the node's credential.
func (a *Agent) nodeClient() *client.Client {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.node
}

// serveMetrics serves the devices' telemetry on /metrics, under
// dcgm-exporter's names so that existing dashboards work.
func (a *Agent) serveMetrics() (stop func(), err error) {
	host, _ := os.Hostname()
	reg := prometheus.NewRegistry()
	reg.MustRegister(device.NewCollector(a.devices, host))
	ln, err := net.Listen("tcp", a.cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("agent: metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	a.log.Info("serving metrics", "addr", ln.Addr().String())
	return func() { hs.Close() }, nil
}

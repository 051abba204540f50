package sim

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"stargate/engine"
	"stargate/trace"
)

// Config sets up a simulation. Zero fields take the defaults of Default.
type Config struct {
	// Engine configures the scheduling engine (policy by name, preemption...).
	Engine engine.Config
	// Seed drives every random stream (failures, phases).
	Seed uint64
	// Start is the virtual clock's origin; hourly energy profiles are read
	// at its hour of the year in UTC. Default: 2026-01-01 00:00 UTC.
	Start time.Time

	// Utilization is a training job's mean load between idle (0) and TDP (1).
	Utilization float64
	// Swing is the amplitude of the compute/communication swing, as a
	// fraction of TDP − idle, and SwingPeriod its period.
	Swing       float64
	SwingPeriod time.Duration
	// ReactionDelay is how long the power controller takes to act after a
	// domain passes its threshold.
	ReactionDelay time.Duration

	// Failures turns accelerator failures on. MTBF is the mean time between
	// failures of one accelerator; RepairTime how long a failed node is out.
	Failures   bool
	MTBF       time.Duration
	RepairTime time.Duration
	// Checkpoint is the checkpoint interval of trace jobs; work since the
	// last checkpoint is lost on a failure or preemption (0: no
	// checkpoints, all work is lost).
	Checkpoint time.Duration

	// PassInterval is the least time between two scheduling passes.
	PassInterval time.Duration
	// SampleInterval is the period of the time series (0 = about 2,000
	// samples over the workload's span).
	SampleInterval time.Duration
	// Horizon stops the run (0 = when every job has finished).
	Horizon time.Duration
	// Inference, when set, runs one inference service beside the jobs,
	// its load following a request trace.
	Inference *Inference
	// Services, when set, runs long-running inference services beside
	// the jobs (see Services).
	Services *Services
	// GridEvents are the grid events of the run (see GridEventSpec), and
	// ResponseWindow how long a scope has from an event's start to come
	// under its target before time over it counts. The engine's
	// Grid.Naive sheds them as a plain controller would.
	GridEvents     []GridEventSpec
	ResponseWindow time.Duration
	// Progress, when set, is called now and then with the virtual time
	// reached and the jobs completed; it must not block.
	Progress func(now time.Duration, completed, total int)
}

// Services are inference services that hold accelerators for the run:
// Count services of Accelerators each, pinned to the fleet's sites in
// proportion to their accelerators (a site serves its own users; each
// service goes to the site where services hold the smallest share after
// it, ties to the first), each accelerator loaded at Load
// (0..1) from time 0 for Span. They run at priority 100, are never
// preempted and are not flexible: a grid event caps them only when no
// flexible work is left in its scope, and never stops them.
type Services struct {
	Count, Accelerators int
	Load                float64
	Span                time.Duration
}

// Inference is a long-running inference service: Accelerators held from
// time 0 for len(Load) buckets, each accelerator loaded at Load[k] (0..1)
// during bucket k. It runs at high priority and is never preempted; caps
// on it are counted but do not stretch it, since its load is given.
type Inference struct {
	Accelerators int
	Load         []float64
	Bucket       time.Duration
}

// InferenceLoad turns requests into the load of a service of accelerators
// that each serve tokensPerS tokens a second (context and generated alike):
// in each bucket, the tokens asked over the tokens it could serve, at most 1.
func InferenceLoad(reqs []trace.Request, accelerators int, tokensPerS float64, bucket time.Duration) []float64 {
	if len(reqs) == 0 || accelerators < 1 || tokensPerS <= 0 || bucket <= 0 {
		return nil
	}
	span := reqs[len(reqs)-1].Time
	n := int(span/bucket.Seconds()) + 1
	tokens := make([]float64, n)
	for _, r := range reqs {
		tokens[min(n-1, int(r.Time/bucket.Seconds()))] += float64(r.ContextTokens + r.GeneratedTokens)
	}
	capacity := float64(accelerators) * tokensPerS * bucket.Seconds()
	for i := range tokens {
		tokens[i] = min(1, tokens[i]/capacity)
	}
	return tokens
}

// LlamaMTBF is the per-accelerator mean time between failures implied by
// the Llama 3 report: 419 unexpected interruptions in 54 days on 16,384
// GPUs, that is 16,384 × 54 × 24 h / 419 = 50,677 hours, rounded.
const LlamaMTBF = 50_680 * time.Hour

// Default returns the default configuration: backfill scheduling, 80%
// utilization with a ±10% swing of 20 s, a 5 s controller, failures off
// with the Llama 3 MTBF and 4 h repairs when on, 30 min checkpoints.
func Default() Config {
	return Config{
		Engine:         engine.Config{Queue: "backfill"},
		Seed:           1,
		Start:          time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Utilization:    0.8,
		Swing:          0.1,
		SwingPeriod:    20 * time.Second,
		ReactionDelay:  5 * time.Second,
		ResponseWindow: DefaultResponseWindow,
		MTBF:           LlamaMTBF,
		RepairTime:     4 * time.Hour,
		Checkpoint:     30 * time.Minute,
		PassInterval:   10 * time.Second,
	}
}

// withDefaults fills the fields whose zero value cannot be meant: the
// engine's queue policy and the clock's origin. Every other field is taken
// as given (a zero reaction delay is instant, zero utilization is idle);
// start from Default to change only some.
func (c *Config) withDefaults() {
	d := Default()
	if c.Engine.Queue == "" {
		c.Engine.Queue = d.Engine.Queue
	}
	if c.Start.IsZero() {
		c.Start = d.Start
	}
}

// Validate reports every bad setting at once.
func (c *Config) Validate() error {
	var p []string
	if !(c.Utilization >= 0 && c.Utilization <= 1) {
		p = append(p, fmt.Sprintf("utilization must be in [0, 1], got %g", c.Utilization))
	}
	if c.Swing < 0 || c.Swing > 1 || math.IsNaN(c.Swing) {
		p = append(p, fmt.Sprintf("swing must be in [0, 1], got %g", c.Swing))
	}
	if c.SwingPeriod <= 0 {
		p = append(p, fmt.Sprintf("swing period must be > 0, got %s", c.SwingPeriod))
	}
	if c.Failures && (c.MTBF <= 0 || c.RepairTime <= 0) {
		p = append(p, fmt.Sprintf("failures need MTBF and repair time > 0, got %s and %s", c.MTBF, c.RepairTime))
	}
	for name, d := range map[string]time.Duration{"reaction delay": c.ReactionDelay, "checkpoint interval": c.Checkpoint, "pass interval": c.PassInterval} {
		if d < 0 {
			p = append(p, fmt.Sprintf("%s must be >= 0, got %s", name, d))
		}
	}
	if in := c.Inference; in != nil {
		if in.Accelerators < 1 || len(in.Load) == 0 || in.Bucket <= 0 {
			p = append(p, "inference service needs accelerators >= 1, a load and a bucket > 0")
		}
		for _, x := range in.Load {
			if x < 0 || x > 1 || math.IsNaN(x) {
				p = append(p, fmt.Sprintf("inference load must be in [0, 1], got %g", x))
				break
			}
		}
	}
	if sv := c.Services; sv != nil && (sv.Count < 0 || sv.Accelerators < 1 || !(sv.Load >= 0 && sv.Load <= 1) || sv.Span <= 0) {
		p = append(p, fmt.Sprintf("inference services need count >= 0, accelerators >= 1, a load in [0, 1] and a span > 0, got %+v", *sv))
	}
	for _, ev := range c.GridEvents {
		if ev.Duration <= 0 || ev.Start < 0 || ev.Notice < 0 || ev.TargetMW < 0 || !(ev.TargetFraction >= 0 && ev.TargetFraction <= 1) {
			p = append(p, fmt.Sprintf("grid event %s: needs a duration > 0, a start and notice >= 0 and a target >= 0 (a fraction at most 1)", ev))
		}
	}
	if c.ResponseWindow < 0 {
		p = append(p, "response window must be >= 0")
	}
	if c.SampleInterval < 0 || c.Horizon < 0 {
		p = append(p, "sample interval and horizon must be >= 0")
	}
	if len(p) > 0 {
		sort.Strings(p)
		return fmt.Errorf("sim: %s", strings.Join(p, "; "))
	}
	return nil
}

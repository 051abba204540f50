// Package gctune sets the collector's GOGC from the live heap, as a
// server's heap grows and shrinks.
//
// A control plane with a small heap allocates briskly per request: there,
// letting the heap grow to several times what is live (a high GOGC) saves
// collections. A queue of millions makes the live heap large, and the same
// percentage would hold gigabytes of garbage: there, the heap may grow past
// what is live by a bounded amount of bytes, never by less than Go's
// default percentage.
package gctune

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Policy says how far past its live heap the heap may grow.
type Policy struct {
	// MaxPercent is GOGC for a small live heap.
	MaxPercent int
	// MinPercent is the least GOGC, however large the live heap.
	MinPercent int
	// Headroom is how many bytes past the live heap the heap may grow,
	// while MaxPercent and MinPercent allow.
	Headroom uint64
}

// Server is the server's policy: a heap up to 5× what is live while that
// is at most 256 MiB, then 1 GiB past it, and at least 2× it.
var Server = Policy{MaxPercent: 400, MinPercent: 100, Headroom: 1 << 30}

// Percent is GOGC for a live heap of live bytes.
func (p Policy) Percent(live uint64) int {
	if live == 0 {
		return p.MaxPercent
	}
	pct := p.Headroom * 100 / live
	return int(min(max(pct, uint64(p.MinPercent)), uint64(p.MaxPercent)))
}

// liveMetric is the heap the last collection found live.
const liveMetric = "/gc/heap/live:bytes"

// LiveHeap reads the heap the last collection found live, in bytes.
func LiveHeap() uint64 {
	s := []metrics.Sample{{Name: liveMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// Tuner applies a Policy: each Step reads the live heap and sets GOGC.
type Tuner struct {
	Policy Policy
	// Live and Set default to LiveHeap and debug.SetGCPercent.
	Live func() uint64
	Set  func(int) int
	last int
}

// Step sets GOGC for the live heap now, and returns it.
func (t *Tuner) Step() int {
	live, set := t.Live, t.Set
	if live == nil {
		live = LiveHeap
	}
	if set == nil {
		set = debug.SetGCPercent
	}
	pct := t.Policy.Percent(live())
	if pct != t.last {
		set(pct)
		t.last = pct
	}
	return pct
}

// Run steps every interval until ctx ends. A collection takes seconds on
// a heap of gigabytes, so a tenth of a second follows it closely.
func (t *Tuner) Run(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		t.Step()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

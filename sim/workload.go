package sim

// The default synthetic workload of `stargate sim`: a burst that the
// fleet cannot absorb at once, so that jobs queue and queue policies
// differ.

import (
	"time"

	"stargate/trace"
)

// DefaultLoad and DefaultSpan shape the default synthetic workload: jobs
// arrive for DefaultSpan offering DefaultLoad times the accelerator-hours
// the fleet has in that time. Above 1 the fleet fills and a queue forms
// while the jobs arrive, and drains after: fifo, backfill and fair then
// give different waits. (The earlier default, a day at 0.5, never
// queued on the example fleet: every policy gave the same run.)
const (
	DefaultLoad = 1.5
	DefaultSpan = 6 * time.Hour
)

// JobsForLoad returns how many jobs of syn (its sizes and durations)
// offer load times the accelerator-hours of a fleet of accelerators
// during syn.Span: load × accelerators × span / the mean work of a job,
// at least 1.
func JobsForLoad(syn *trace.Synthetic, accelerators int, load float64) int {
	return max(1, int(load*float64(accelerators)*syn.Span/syn.MeanAcceleratorSeconds()))
}

// DefaultWorkload returns the synthetic workload `stargate sim` runs
// with no trace on a fleet of accelerators: trace.DefaultSynthetic's
// sizes, durations and tenants, arriving over DefaultSpan at DefaultLoad,
// drawn from seed.
func DefaultWorkload(accelerators int, seed uint64) trace.Synthetic {
	syn := trace.DefaultSynthetic()
	syn.Span, syn.Seed = DefaultSpan.Seconds(), seed
	syn.Jobs = JobsForLoad(&syn, accelerators, DefaultLoad)
	return syn
}

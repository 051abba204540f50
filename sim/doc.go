// Package sim is Stargate's digital twin: a discrete-event simulation of
// a fleet on a virtual clock, driving the same scheduling engine as the
// live server.
//
// A run takes a *fleet.Fleet, a workload (trace.Job arrivals, and
// optionally inference request load) and a Config; it replays arrivals,
// asks the engine for decisions, applies them to its own model of the
// world, and measures what happens: job completion and queueing times,
// utilization, power at every level of the power tree against its limit,
// caps and the slowdown they cause, failures and the work they lose,
// energy, emissions and cost.
//
// The power model (per accelerator): a job at utilization u with swing
// amplitude a draws idle + (TDP − idle)·(u ± a), swinging between compute
// and communication phases of one period; node overhead follows the same
// load. Jobs in a domain are taken to swing in phase (synchronous training,
// the worst case), so a domain's peak is its mean plus its swing. A cap C
// per accelerator slows a job by the cube-root law of DVFS: dynamic power
// grows as f·V² ≈ f³, so progress runs at (C / demand)^(1/3) of full speed.
// The power controller acts Config.ReactionDelay after a domain's peak
// passes its threshold, so peaks above a limit are visible and counted.
//
// Failures arrive as a Poisson process over accelerators with a mean time
// between failures per accelerator; a failed node's jobs restart from their
// last checkpoint, and the work since is counted as lost.
//
// Runs are deterministic: every random stream derives from Config.Seed,
// and nothing reads the wall clock except the reported wall time.
package sim

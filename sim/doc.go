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
// Grid events (Config.GridEvents) ask a site or a region to cut its draw
// for a while. The simulator hands them to the engine, carries out its
// shed (caps, stops, moves out of the scope) as the controller reacts,
// and measures each event at the scope's facility meter (IT draw × PUE,
// peak of the swing): its baseline at the start, the peak and the time
// over the target after Config.ResponseWindow, the time to comply, the
// energy not drawn and its cost and emissions, the accelerator-hours run
// under caps and the work lost by the jobs stopped, the jobs stopped and
// moved, and the share of the inference services' demand served (a capped
// service serves at its cube-root speed). Config.Services adds such
// services; engine.GridConfig.Naive sheds as a plain controller would,
// for comparison.
//
// Runs are deterministic: every random stream derives from Config.Seed,
// and nothing reads the wall clock except the reported wall time.
package sim

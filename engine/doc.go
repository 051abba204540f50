// Package engine is Stargate's scheduling engine: it decides which pending
// job starts where, which running job is preempted, capped or uncapped,
// and to which site a job is dispatched. It is the part of the pipeline
// between the fleet model and the two drivers:
//
//	fleet.Load ──► NewSnapshot ──► Engine.Schedule / Engine.Control ──► []Decision
//	                                   ▲                                   │
//	          Submit, Cancel, Release, FailNode, SetMeasured   simulator (virtual clock)
//	                                   └───────────────────── server (real clock, store)
//
// The engine is a pure library: it never reads a clock, a file, the
// network or a random source. Time is the now argument; the same calls in
// the same order give the same decisions.
//
// # Objects
//
// A Snapshot is the world as the engine sees it: the fleet's accelerators
// and which are free, the running jobs (Alloc) and their accelerators, node
// health, and the expected and measured draw at every level of the power
// tree (site, hall, row, rack). It is built once per fleet with
// NewSnapshot(f) and then changed incrementally: every change updates the
// free-count indexes of the node, its rack, row, hall and site in O(1)
// each, and the pool's heaps of running jobs (by expected end, for
// backfill; by start, for preemption) in O(log n), so no decision rescans
// the fleet or the running jobs.
//
// An Engine holds the pending queue, the queue and site policies (by name,
// from a Registry that rejects duplicates) and the tenants' fair-share
// usage. It is configured once with New(Config).
//
// # Driving the engine
//
// A driver (the simulator, the server, a test) does this:
//
//	f, _ := fleet.Load("fleet.yaml")
//	snap, _ := engine.NewSnapshot(f)
//	eng, _ := engine.New(engine.Config{Queue: "backfill", Preemption: true})
//
//	eng.Submit(engine.Job{ID: 1, Tenant: "a", Accelerators: 64, Duration: time.Hour}, now)
//	res := eng.Schedule(snap, now)
//	for _, d := range res.Decisions {
//		switch d.Action {
//		case engine.Place:   // start d.Job on d.Slots (fleet.Nodes[slot.Node], bit i = accelerator i)
//		case engine.Preempt: // stop d.Job; the engine has already requeued it
//		case engine.Dispatch: // d.Job goes to site d.Site (a Place follows)
//		}
//	}
//	for _, w := range eng.Waits() { /* show snap.Describe(w.Reason) */ }
//
//	snap.Release(id, now)         // a job completed or was cancelled while running
//	eng.FailNode(snap, node, now) // a node was lost: its jobs are requeued with backoff
//	snap.SetNodeState(node, engine.Drained)
//	snap.SetMeasured(fleet.LevelRow, row, watts)
//	n, _ := snap.Node("site/hall/row/rack/n3") // node index by name
//	caps := eng.Control(snap, now) // Cap / Uncap decisions from measured draw
//
// Schedule and Control apply their decisions to the snapshot and the queue
// before they return them ("decide over a snapshot, write through one
// door"): a placed job holds its accelerators in the snapshot and has left
// the queue; a preempted job is released and requeued. The driver carries
// the decisions out in its own world: the simulator schedules completion
// events on its virtual clock; the server commits them to its store, then
// tells the agents. A server that cannot commit rebuilds its snapshot from
// the store (NewSnapshot and New, then Snapshot.Restore and SetCap for
// every running job, then Submit for every pending one in submission
// order); so does a server that restarts.
//
// # Decisions and reasons
//
// Every decision and every waiting job carries a Reason: a stable Code
// (fits, backfilled, preempting, preempted-for, over-limit, headroom;
// no-matching-accelerators, no-domain-large-enough, slice-shape,
// insufficient-free, fragmented, power, quota, fifo-blocked, reserved,
// backoff) and, for power, the domain whose headroom refused the job.
// Snapshot.Describe formats one for people: "power:row/lab/hall-a/row-1",
// "slice-shape:tpu-v6e-host(1x1,2x2,2x4,4x4,4x8,8x8,8x16,16x16)".
//
// # Placement
//
// A job is a gang: all its accelerators are placed at once or none are.
// Accelerators of one node model in one site form a pool; each pool keeps,
// for nodes, racks, rows and halls, the domains bucketed by free count
// with a bitset of non-empty buckets. A placement takes the smallest
// topology level whose domains can hold the job and the domain there with
// the fewest free accelerators that is still enough (best fit), checks
// that the job's expected draw fits the headroom of that domain and every
// level above it (limit × the site's oversubscription; a site's limit is
// its substation's IT share), and fills it largest children first,
// best-fitting the remainder. Jobs may require a topology level (node,
// NVLink domain, rack, row, hall, site), an accelerator model, a per-node
// shape, a region or a site.
//
// A model's scale-up domain (what TopologyNVLink names) may span racks: a
// supernode or a pod, a run of racks in one row (fleet.ScaleUp). Its pool
// then also buckets those groups by free count; placement tries them
// between the rack and the row, and a job that requires the domain goes
// into one group or waits. A model that hands out slices (a TPU pod's
// "2x2x1" … "16x16x24") takes only jobs whose size is a shape's volume,
// refused otherwise with slice-shape; a slice within a host takes one
// host, up to the largest rack (a cube) whole hosts of one rack, and
// beyond, whole cubes of one group. The engine checks a slice's size and
// bounds, not its position in the torus.
//
// # Policies
//
// Queue policies order the queue and say what a pass does after a job
// that cannot start: fifo (strict order; a blocked head holds back every
// later job), priority (priority, then submission; skip what does not
// fit), fair (tenants interleaved by weighted, decayed usage), backfill
// (priority order with EASY backfill: the first blocked job gets a
// reservation at the time running jobs are expected to free enough
// capacity, and later jobs start only if they do not delay it) and las
// (Tiresias's least attained service: queues by accelerator-seconds run,
// then submission). A pass reads the queue only as far as something could
// still start; Result.Waiting lists the jobs it tried, and Engine.Reason
// and Engine.Waits say why every pending job waits. Site
// policies rank sites for multi-site dispatch: pack (best fit anywhere),
// capacity, price and carbon (the site's energy mix at now);
// Engine.RankSites shows a policy's order for a job without placing it. A
// job never spans sites or node models.
//
// With Config.Preemption, a job that cannot start may stop running
// preemptible jobs of lower rank (their priority; under las, a later
// queue as of now) in the sites it may use (of any
// node model there: they share the breakers). The engine stops the
// cheapest set of victims with which the job can then be placed, by this
// order: the lowest highest rank stopped, then the fewest
// accelerators, then the least work lost since their last checkpoints,
// then the fewest jobs. Among up to 10 candidates it tries every subset,
// cheapest first; among more, it takes the cheapest set that frees
// enough accelerators in one domain (an exact covering search by count),
// adds candidates in cost order while power or shape still refuse the
// job, and drops every victim the job can do without, so no victim is
// ever unneeded, though such a set may cost more than the cheapest when
// power is what binds. Victims are requeued with exponential backoff and
// Config.MinRuntime protects jobs that just started, so preemption cannot
// storm.
//
// Backfill's reservation holds, for the rest of the pass, the
// accelerators the blocked head is expected to get when running jobs end
// and the watts it will then draw in every domain of its path; a later
// job that would still run then may start only where it takes neither.
// Result.Reservation reports the promise.
//
// Control compares measured draw with rated limits through a
// power.Controller: over the upper threshold it caps the lowest-priority
// jobs until the excess is shed; below the lower threshold it lifts caps,
// highest priority first.
//
// # Grid events and ramps
//
// A driver gives the engine the grid events it must plan for
// (SetGridEvents): a scope of sites, a start and an end, a notice, a
// target in facility watts, mandatory or voluntary with a price. From its
// announcement the pass keeps flexible work (Job.IsFlexible: training and
// batch, not inference, unless the job says otherwise) that would still
// run at the start out of the scope beyond the target, so that pending
// work goes to sites outside it (a Dispatch with Code grid) or waits
// (grid). Past its start, Control sheds with the least harm, each step
// only as far as needed: it moves flexible jobs that checkpoint to where
// they fit outside the scope, caps flexible jobs lowest priority first
// (cube-root slowdown), stops flexible jobs when caps cannot reach the
// target, and caps protected jobs only once no flexible job runs in the
// scope; it never stops them. A voluntary event takes a step only when
// its price pays for the work it costs (GridConfig states the value
// model). Caps are lifted during an event only with room under the
// target, and after it as the ramps allow; jobs stopped for the grid wait
// in the queue without backoff. The engine estimates a scope's draw from
// its jobs' expected draw, calibrated to each site's draw measured since
// the last pass or Control (Snapshot.SetMeasured), and aims
// GridConfig.Margin under the target, shedding once past half of it.
//
// A site's ramp limit (fleet.Site.RampMWPerMin) bounds the rise of its
// draw in any minute: starts and uncaps wait (ramp) until the minute's
// allowance has room, at all times, not only after events.
package engine

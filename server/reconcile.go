package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"stargate/api"
	"strings"
	"time"

	"stargate/fleet"
	"stargate/store"
)

// Scheduler is the engine as the reconcile loop drives it: given the live
// state at a time, it decides. It is called by one goroutine at a time,
// only on the leader. An implementation that keeps state between calls
// (the engine keeps its queue) must rebuild it when Generation changes:
// the decisions of an earlier call may not have been committed.
type Scheduler interface {
	Schedule(ctx context.Context, in ScheduleInput) ([]Decision, error)
}

// ScheduleInput is the live state a pass decides on. The slices are the
// loop's own: a Scheduler must neither keep nor modify them.
type ScheduleInput struct {
	Now   time.Time
	Fleet *fleet.Fleet
	// Nodes are the registered nodes; only ready ones take new work.
	Nodes []store.Node
	// Pending jobs in submission order (job IDs sort that way), and
	// running jobs with their placements.
	Pending, Running []store.Job
	// Generation changes whenever the state may differ from what the
	// previous call's decisions implied.
	Generation uint64
	// Tenants are the tenants' weights and quotas as the store has them
	// now (a tenant not listed has weight 1 and no quota).
	Tenants map[string]TenantConfig
	// GridEvents are the grid events in force (active, with the scope's
	// draw at their start) or announced (scheduled), by start.
	GridEvents []api.GridEvent
	// MeasuredAt is when the nodes' measured draw (Node.DrawW) was read;
	// between two reads it stays the same, and a power controller should
	// not act twice on one reading.
	MeasuredAt time.Time
}

// Action is what a Decision does.
type Action string

// Actions of a Decision.
const (
	ActPlace   Action = "place"   // start a pending job on Placement
	ActPreempt Action = "preempt" // stop a running job and requeue it
	ActWait    Action = "wait"    // leave a pending job waiting, for Reasons
	ActCap     Action = "cap"     // cap a running job's accelerators at CapW watts
	ActUncap   Action = "uncap"   // lift a running job's cap
)

// Decision is one decision of a pass about one job.
type Decision struct {
	Action    Action
	Job       string
	Placement []store.Allocation
	Reasons   []string
	// CapW is the per-accelerator cap in watts (ActCap).
	CapW float64
}

// Reconcile runs one pass: it marks silent nodes lost and requeues their
// jobs (once this replica has led for HeartbeatTimeout), then asks the Scheduler for decisions and commits them, fenced by
// the leader lease, before anything acts on them. Callers other than the
// leader loop (tests) may call it directly; it fails with
// store.ErrNotLeader on a replica that does not hold the lease.
func (s *Server) Reconcile(ctx context.Context) error {
	s.reconMu.Lock()
	defer s.reconMu.Unlock()
	start := time.Now() // a latency measurement, not logic
	defer func() { s.metrics.passLatency.Observe(time.Since(start).Seconds()) }()
	decided, err := s.reconcile(ctx)
	if err != nil && decided {
		// the decisions may not all have been committed: the scheduler
		// rebuilds its state, and the loop reads the queue again
		s.generation.Add(1)
	}
	return err
}

// commitBatch bounds the jobs of one change set of a pass's decisions, and
// batchTimeout the time its commit may take: a pass over a queue of
// millions commits in batches, each of its own deadline, and what one
// committed stands when a later one fails.
var (
	commitBatch  = 5000
	batchTimeout = 5 * time.Second
)

// reconcile runs a pass, and reports whether it asked the scheduler for
// decisions (after which a failure leaves the scheduler's state stale).
func (s *Server) reconcile(ctx context.Context) (decided bool, err error) {
	now := s.clock.Now().UTC()
	fence := &store.Fence{Lease: LeaseName, Holder: s.cfg.ID, Now: now}
	if err := s.refreshNodes(ctx, now); err != nil {
		return false, err
	}
	tenants, err := s.tenantConfigs(ctx)
	if err != nil {
		return false, fmt.Errorf("server: reconcile: tenants: %w", err)
	}
	if err := s.refreshJobs(ctx, tenants, now); err != nil {
		return false, err
	}
	if s.live.loading {
		// A scheduler of a static order decides from the head of the
		// queue read so far; any other waits for the whole queue.
		s.log.Info("reading the queue", "after", s.live.after, "deciding", s.live.order != LoadWhole)
		if s.live.order == LoadWhole {
			return false, nil
		}
	}

	// Silent nodes are lost; their jobs go back to the queue. Silence
	// counts only from when this replica took the lease: stored heartbeat
	// times say nothing of the time no replica was there to hear them.
	var silent []store.Node
	if s.judgesSilence(now) {
		if silent, err = s.store.SilentNodes(ctx, now.Add(-s.cfg.HeartbeatTimeout)); err != nil {
			return false, err
		}
	}
	if len(silent) > 0 {
		c := store.Changes{Fence: fence}
		lost := map[string]bool{}
		for _, n := range silent {
			lost[n.Name] = true
			c.Events = append(c.Events, store.Event{Time: now, Kind: "node-lost", Node: n.Name,
				Message: fmt.Sprintf("no heartbeat since %s", n.HeartbeatAt.Format(time.RFC3339))})
			n.State = store.NodeLost
			c.Nodes = append(c.Nodes, n)
		}
		for _, j := range s.live.runningJobs() {
			var on []string
			for _, a := range j.Placement {
				if lost[a.Node] {
					on = append(on, a.Node)
				}
			}
			if len(on) == 0 {
				continue
			}
			why := "requeued: node lost: " + strings.Join(on, ", ")
			j.State, j.Placement, j.Reasons, j.CapW = store.JobPending, nil, []string{why}, 0
			c.Jobs = append(c.Jobs, j)
			c.Events = append(c.Events, store.Event{Time: now, Kind: "requeued", Job: j.ID, Message: why})
		}
		if err := s.commit(ctx, c); err != nil {
			return false, fmt.Errorf("server: reconcile: lost nodes: %w", err)
		}
		s.metrics.decisions.WithLabelValues("requeue").Add(float64(len(c.Jobs)))
		s.log.Warn("nodes lost", "nodes", len(lost), "requeued", len(c.Jobs))
		s.live.haveNodes = false
		if err := s.refreshNodes(ctx, now); err != nil {
			return false, err
		}
	}

	if s.cfg.Scheduler == nil {
		return false, nil
	}
	running := s.live.runningJobs()
	pending := s.live.keptPending()
	c := store.Changes{Fence: fence}
	// Held jobs, and jobs whose dependencies are not met, are not the
	// scheduler's yet.
	pending = withoutHeld(&c, pending)
	pending = arrayLimit(&c, pending, running)
	if pending, err = s.holdBack(ctx, &c, pending); err != nil {
		return false, fmt.Errorf("server: reconcile: dependencies: %w", err)
	}
	pending = s.quotaLimit(&c, pending, running, tenants)
	grid, err := s.advanceGridEvents(ctx, now)
	if err != nil {
		return false, fmt.Errorf("server: reconcile: grid events: %w", err)
	}
	in := ScheduleInput{Now: now, Fleet: s.fleet, Nodes: s.live.nodes, Running: running,
		Generation: s.live.gen, MeasuredAt: s.live.nodesAt, Tenants: tenants, GridEvents: grid}
	if keeper, ok := s.cfg.Scheduler.(QueueKeeper); ok {
		if err := s.feed(keeper, pending, now); err != nil {
			return true, fmt.Errorf("server: reconcile: queue: %w", err)
		}
	} else {
		in.Pending = pending
	}
	decisions, err := s.cfg.Scheduler.Schedule(ctx, in)
	if err != nil {
		return true, fmt.Errorf("server: reconcile: schedule: %w", err)
	}
	// The limits' reasons and cancellations are written with the waits,
	// after the decisions that move jobs.
	var moves store.Changes
	waits := c
	counts := map[Action]int{}
	for _, d := range decisions {
		j, ok := s.live.jobs[d.Job]
		if !ok {
			q, queued := s.live.queue[d.Job]
			if !queued {
				return true, fmt.Errorf("server: reconcile: decision about unknown job %s", d.Job)
			}
			j = s.live.queuedJob(d.Job, q)
		}
		to := &moves
		switch d.Action {
		case ActPlace:
			if j.State != store.JobPending {
				return true, fmt.Errorf("server: reconcile: place of %s job %s", j.State, j.ID)
			}
			j.State, j.StartedAt, j.Placement, j.Reasons, j.CapW = store.JobRunning, now, d.Placement, d.Reasons, 0
			j.Attempts++
			to.Events = append(to.Events, store.Event{Time: now, Kind: "placed", Job: j.ID, Message: placementText(d.Placement)})
		case ActPreempt:
			if j.State != store.JobRunning {
				return true, fmt.Errorf("server: reconcile: preempt of %s job %s", j.State, j.ID)
			}
			j.State, j.Placement, j.Reasons, j.CapW = store.JobPending, nil, d.Reasons, 0
			to.Events = append(to.Events, store.Event{Time: now, Kind: "preempted", Job: j.ID, Message: strings.Join(d.Reasons, "; ")})
		case ActCap, ActUncap:
			if j.State != store.JobRunning {
				return true, fmt.Errorf("server: reconcile: %s of %s job %s", d.Action, j.State, j.ID)
			}
			msg := "cap lifted"
			if d.Action == ActCap {
				if d.CapW <= 0 {
					return true, fmt.Errorf("server: reconcile: cap of job %s at %g W", j.ID, d.CapW)
				}
				j.CapW = d.CapW
				msg = fmt.Sprintf("capped at %.0f W per accelerator", d.CapW)
			} else {
				j.CapW = 0
			}
			if len(d.Reasons) > 0 {
				msg += ": " + strings.Join(d.Reasons, "; ")
			}
			to.Events = append(to.Events, store.Event{Time: now, Kind: string(d.Action), Job: j.ID, Message: msg})
		case ActWait:
			if slices.Equal(j.Reasons, d.Reasons) {
				continue // nothing new to say: no write
			}
			j.Reasons = d.Reasons
			to = &waits
		default:
			return true, fmt.Errorf("server: reconcile: unknown action %q", d.Action)
		}
		counts[d.Action]++
		to.Jobs = append(to.Jobs, j)
	}
	for a, n := range counts {
		s.metrics.decisions.WithLabelValues(string(a)).Add(float64(n))
	}
	// Decisions that move jobs first, in their order (a preemption before
	// the placement on its devices), then the waits. A failed batch of
	// moves fails the pass: the scheduler's state assumed them. A failed
	// batch of waits only leaves reasons to the next pass.
	moves.Fence = fence
	dropped, err := s.commitBatches(ctx, moves)
	if err != nil {
		return true, fmt.Errorf("server: reconcile: commit decisions: %w", err)
	}
	if s.live.keeper {
		// A job the scheduler stopped is back in its queue already, put
		// there by the scheduler itself: one the loop keeps whole must be
		// known to be there, so that a hold or a cancel takes it out.
		for _, j := range moves.Jobs {
			if k, ok := s.live.jobs[j.ID]; ok && j.State == store.JobPending && k.State == store.JobPending {
				s.live.fed[j.ID] = true
			}
		}
	}
	waits.Fence = fence
	n, err := s.commitBatches(ctx, waits)
	dropped += n
	if err != nil {
		s.log.Warn("reconcile: wait reasons not written", "err", err)
	}
	if dropped > 0 {
		s.log.Info("decisions about jobs that changed meanwhile were dropped", "dropped", dropped)
	}
	return true, nil
}

// commitBatches commits a change set in batches of commitBatch jobs, each
// with its events and a deadline of batchTimeout, and stops at the first
// that fails: those before it stand.
func (s *Server) commitBatches(ctx context.Context, c store.Changes) (dropped int, err error) {
	for _, b := range batches(c, commitBatch) {
		bctx, cancel := context.WithTimeout(ctx, batchTimeout)
		n, err := s.commitDecisions(bctx, b)
		cancel()
		dropped += n
		if err != nil {
			return dropped, err
		}
	}
	return dropped, nil
}

// batches splits a change set into sets of at most n jobs, in order, each
// with the events of its jobs (events of no job go with the first).
func batches(c store.Changes, n int) []store.Changes {
	if len(c.Jobs) <= n {
		if len(c.Jobs) == 0 && len(c.Events) == 0 && len(c.Nodes) == 0 {
			return nil
		}
		return []store.Changes{c}
	}
	var out []store.Changes
	at := map[string]int{}
	for i, j := range c.Jobs {
		if i%n == 0 {
			out = append(out, store.Changes{Fence: c.Fence})
		}
		b := &out[len(out)-1]
		b.Jobs = append(b.Jobs, j)
		at[j.ID] = len(out) - 1
	}
	out[0].Nodes = c.Nodes
	for _, e := range c.Events {
		b := &out[at[e.Job]]
		b.Events = append(b.Events, e)
	}
	return out
}

// commitDecisions commits a pass's decisions. A decision about a job
// that ended after the pass read it (cancelled, or reported ended by its
// nodes) fails the change set with a version conflict: such decisions are
// dropped and the rest committed, instead of the whole pass; the ended
// job leaves the scheduler's state at the next pass by itself. So is a
// decision that leaves a job in its state (a wait reason, a cap) about a
// job that changed meanwhile (a heartbeat said one node of its gang is
// done). A conflict on a placement or a preemption fails the pass as a
// whole (and the scheduler rebuilds), since other decisions may rest on it.
func (s *Server) commitDecisions(ctx context.Context, c store.Changes) (dropped int, err error) {
	for try := 0; ; try++ {
		conflict := s.commit(ctx, c)
		if !errors.Is(conflict, store.ErrConflict) || try == 3 {
			return dropped, conflict
		}
		ids := make([]string, len(c.Jobs))
		for i, j := range c.Jobs {
			ids[i] = j.ID
		}
		fresh, err := s.store.JobsByID(ctx, ids)
		if err != nil {
			return dropped, err
		}
		stored := make(map[string]store.Job, len(fresh))
		for _, j := range fresh {
			stored[j.ID] = j
		}
		gone := map[string]bool{}
		keep := make([]store.Job, 0, len(c.Jobs))
		for _, j := range c.Jobs {
			f, ok := stored[j.ID]
			if ok && f.Version == j.Version {
				keep = append(keep, j)
				continue
			}
			if ok && !f.State.Final() && j.State != f.State {
				// Still active, and the decision moved it (a placement
				// or a preemption): other decisions of the pass may rest
				// on it (a placement on the devices of a preemption), so
				// none of them is safe to keep.
				return dropped, conflict
			}
			// Ended meanwhile, or a decision that leaves the job where
			// it is (a wait reason, a cap): nothing else rests on it,
			// and the next pass decides it again.
			gone[j.ID] = true
		}
		if len(gone) == 0 {
			return dropped, conflict // not about these jobs: give up the pass
		}
		dropped += len(gone)
		c.Jobs = keep
		events := c.Events[:0]
		for _, e := range c.Events {
			if !gone[e.Job] {
				events = append(events, e)
			}
		}
		c.Events = events
		if len(c.Jobs) == 0 {
			return dropped, nil
		}
	}
}

// judgesSilence reports whether this replica has led for at least the
// heartbeat timeout at now, so that a node silent for that long was
// silent while this replica could hear it.
func (s *Server) judgesSilence(now time.Time) bool {
	since := s.leaderSince.Load()
	return since != 0 && now.Sub(time.Unix(0, since)) >= s.cfg.HeartbeatTimeout
}

// placedNodes reads the node names back from a placementText.
func placedNodes(text string) []string {
	var out []string
	for _, part := range strings.Split(text, ", ") {
		if name, _, ok := strings.Cut(part, "×"); ok {
			out = append(out, name)
		}
	}
	return out
}

// placementText describes a placement in a "placed" event: "node×8, ...".
func placementText(p []store.Allocation) string {
	var b strings.Builder
	for i, a := range p {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s×%d", a.Node, len(a.Accelerators))
	}
	return b.String()
}

// leaderLoop takes and renews the leader lease, and runs reconcile passes
// while this replica holds it. Every store call of the loop has a
// deadline within the lease, so that a stalled store cannot keep a
// replica acting as leader past it.
func (s *Server) leaderLoop(ctx context.Context) {
	renewEvery := s.cfg.LeaderTTL / 3
	tick := min(renewEvery, s.cfg.ReconcileEvery)
	t := time.NewTicker(tick)
	defer t.Stop()
	var lastRenew, lastPass time.Time
	again := false // the queue is being read: the next pass runs at once
	for {
		now := s.clock.Now()
		if lastRenew.IsZero() || now.Sub(lastRenew) >= renewEvery || !s.holdsLease(now) {
			s.renewLease(ctx, now)
			lastRenew = now
		}
		if s.IsLeader() && (again || lastPass.IsZero() || now.Sub(lastPass) >= s.cfg.ReconcileEvery) {
			again = false
			// The pass's store calls must end while the lease is held.
			left := time.Duration(s.leaseUntil.Load() - s.clock.Now().UnixNano())
			pctx, cancel := context.WithTimeout(ctx, left)
			err := s.Reconcile(pctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				if errors.Is(err, store.ErrNotLeader) {
					s.leader.Store(false)
				}
				s.log.Warn("reconcile pass failed", "err", err)
			}
			lastPass = s.clock.Now()
			if err == nil && s.QueueLoading() && ctx.Err() == nil {
				again = true
				continue
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// renewLease takes or renews the lease. The store call has a deadline of
// a third of the lease, the renewal period: a renewal that cannot finish
// by then fails, and leadership lapses when the lease runs out.
func (s *Server) renewLease(ctx context.Context, now time.Time) {
	flagged := s.leader.Load()
	was := s.holdsLease(now)
	rctx, cancel := context.WithTimeout(ctx, s.cfg.LeaderTTL/3)
	l, err := s.store.AcquireLease(rctx, LeaseName, s.cfg.ID, now, s.cfg.LeaderTTL)
	cancel()
	is := err == nil && l.Holder == s.cfg.ID && l.ExpiresAt.After(now)
	if is {
		s.leaseUntil.Store(l.ExpiresAt.UnixNano())
		if !was {
			// Taken afresh (or again after lapsing): silence is judged
			// from now on.
			s.leaderSince.Store(now.UnixNano())
		}
	}
	s.leader.Store(is)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("leader lease", "err", err)
	}
	switch {
	case is && !was:
		s.epoch.Store(l.Epoch)
		s.generation.Add(1)
		s.log.Info("became leader", "id", s.cfg.ID, "epoch", l.Epoch,
			"judges_silence_from", now.Add(s.cfg.HeartbeatTimeout).UTC().Format(time.RFC3339))
	case !is && flagged:
		s.generation.Add(1)
		s.log.Warn("lost leadership", "id", s.cfg.ID, "holder", l.Holder)
	}
}

package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// ScheduleInput is the live state a pass decides on. The slices belong to
// the call and must not be kept.
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
}

// Action is what a Decision does.
type Action string

// Actions of a Decision.
const (
	ActPlace   Action = "place"   // start a pending job on Placement
	ActPreempt Action = "preempt" // stop a running job and requeue it
	ActWait    Action = "wait"    // leave a pending job waiting, for Reasons
)

// Decision is one decision of a pass about one job.
type Decision struct {
	Action    Action
	Job       string
	Placement []store.Allocation
	Reasons   []string
}

// Reconcile runs one pass: it marks silent nodes lost and requeues their
// jobs, then asks the Scheduler for decisions and commits them, fenced by
// the leader lease, before anything acts on them. Callers other than the
// leader loop (tests) may call it directly; it fails with
// store.ErrNotLeader on a replica that does not hold the lease.
func (s *Server) Reconcile(ctx context.Context) error {
	s.reconMu.Lock()
	defer s.reconMu.Unlock()
	start := time.Now() // a latency measurement, not logic
	defer func() { s.metrics.passLatency.Observe(time.Since(start).Seconds()) }()
	err := s.reconcile(ctx)
	if err != nil {
		s.generation.Add(1)
	}
	return err
}

func (s *Server) reconcile(ctx context.Context) error {
	now := s.clock.Now().UTC()
	fence := &store.Fence{Lease: LeaseName, Holder: s.cfg.ID, Now: now}
	nodes, err := s.store.Nodes(ctx)
	if err != nil {
		return err
	}
	running, err := s.store.Jobs(ctx, store.JobQuery{States: []store.JobState{store.JobRunning}})
	if err != nil {
		return err
	}

	// Silent nodes are lost; their jobs go back to the queue.
	c := store.Changes{Fence: fence}
	lost := map[string]bool{}
	for i := range nodes {
		n := &nodes[i]
		if n.State != store.NodeLost && now.Sub(n.HeartbeatAt) > s.cfg.HeartbeatTimeout {
			n.State = store.NodeLost
			lost[n.Name] = true
			c.Nodes = append(c.Nodes, *n)
			c.Events = append(c.Events, store.Event{Time: now, Kind: "node-lost", Node: n.Name,
				Message: fmt.Sprintf("no heartbeat since %s", n.HeartbeatAt.Format(time.RFC3339))})
		}
	}
	if len(lost) > 0 {
		kept := running[:0]
		for _, j := range running {
			var on []string
			for _, a := range j.Placement {
				if lost[a.Node] {
					on = append(on, a.Node)
				}
			}
			if len(on) == 0 {
				kept = append(kept, j)
				continue
			}
			why := "requeued: node lost: " + strings.Join(on, ", ")
			j.State, j.Placement, j.Reasons = store.JobPending, nil, []string{why}
			c.Jobs = append(c.Jobs, j)
			c.Events = append(c.Events, store.Event{Time: now, Kind: "requeued", Job: j.ID, Message: why})
		}
		running = kept
		if err := s.store.Apply(ctx, c); err != nil {
			return fmt.Errorf("server: reconcile: lost nodes: %w", err)
		}
		s.metrics.decisions.WithLabelValues("requeue").Add(float64(len(c.Jobs)))
		s.log.Warn("nodes lost", "nodes", len(lost), "requeued", len(c.Jobs))
	}

	if s.cfg.Scheduler == nil {
		return nil
	}
	pending, err := s.store.Jobs(ctx, store.JobQuery{States: []store.JobState{store.JobPending}})
	if err != nil {
		return err
	}
	decisions, err := s.cfg.Scheduler.Schedule(ctx, ScheduleInput{Now: now, Fleet: s.fleet, Nodes: nodes,
		Pending: pending, Running: running, Generation: s.generation.Load()})
	if err != nil {
		return fmt.Errorf("server: reconcile: schedule: %w", err)
	}
	jobs := make(map[string]*store.Job, len(pending)+len(running))
	for i := range pending {
		jobs[pending[i].ID] = &pending[i]
	}
	for i := range running {
		jobs[running[i].ID] = &running[i]
	}
	c = store.Changes{Fence: fence}
	counts := map[Action]int{}
	for _, d := range decisions {
		j, ok := jobs[d.Job]
		if !ok {
			return fmt.Errorf("server: reconcile: decision about unknown job %s", d.Job)
		}
		switch d.Action {
		case ActPlace:
			if j.State != store.JobPending {
				return fmt.Errorf("server: reconcile: place of %s job %s", j.State, j.ID)
			}
			j.State, j.StartedAt, j.Placement, j.Reasons = store.JobRunning, now, d.Placement, d.Reasons
			j.Attempts++
			c.Events = append(c.Events, store.Event{Time: now, Kind: "placed", Job: j.ID, Message: placementText(d.Placement)})
		case ActPreempt:
			if j.State != store.JobRunning {
				return fmt.Errorf("server: reconcile: preempt of %s job %s", j.State, j.ID)
			}
			j.State, j.Placement, j.Reasons = store.JobPending, nil, d.Reasons
			c.Events = append(c.Events, store.Event{Time: now, Kind: "preempted", Job: j.ID, Message: strings.Join(d.Reasons, "; ")})
		case ActWait:
			if slices.Equal(j.Reasons, d.Reasons) {
				continue // nothing new to say: no write
			}
			j.Reasons = d.Reasons
		default:
			return fmt.Errorf("server: reconcile: unknown action %q", d.Action)
		}
		counts[d.Action]++
		c.Jobs = append(c.Jobs, *j)
	}
	if len(c.Jobs) == 0 {
		return nil
	}
	if err := s.store.Apply(ctx, c); err != nil {
		return fmt.Errorf("server: reconcile: commit decisions: %w", err)
	}
	for a, n := range counts {
		s.metrics.decisions.WithLabelValues(string(a)).Add(float64(n))
	}
	return nil
}

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
// while this replica holds it.
func (s *Server) leaderLoop(ctx context.Context) {
	renewEvery := s.cfg.LeaderTTL / 3
	tick := min(renewEvery, s.cfg.ReconcileEvery)
	t := time.NewTicker(tick)
	defer t.Stop()
	var lastRenew, lastPass time.Time
	for {
		now := s.clock.Now()
		if lastRenew.IsZero() || now.Sub(lastRenew) >= renewEvery || !s.leader.Load() {
			s.renewLease(ctx, now)
			lastRenew = now
		}
		if s.leader.Load() && (lastPass.IsZero() || now.Sub(lastPass) >= s.cfg.ReconcileEvery) {
			if err := s.Reconcile(ctx); err != nil && ctx.Err() == nil {
				if errors.Is(err, store.ErrNotLeader) {
					s.leader.Store(false)
				}
				s.log.Warn("reconcile pass failed", "err", err)
			}
			lastPass = s.clock.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) renewLease(ctx context.Context, now time.Time) {
	l, err := s.store.AcquireLease(ctx, LeaseName, s.cfg.ID, now, s.cfg.LeaderTTL)
	is := err == nil && l.Holder == s.cfg.ID && l.ExpiresAt.After(now)
	was := s.leader.Swap(is)
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.Warn("leader lease", "err", err)
	case is && !was:
		s.epoch.Store(l.Epoch)
		s.generation.Add(1)
		s.log.Info("became leader", "id", s.cfg.ID, "epoch", l.Epoch)
	case !is && was:
		s.generation.Add(1)
		s.log.Warn("lost leadership", "id", s.cfg.ID, "holder", l.Holder)
	}
}

package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"stargate/store"
)

// A dry run (POST /v1/jobs?dry_run=true, 'stargate submit --dry-run')
// answers what would happen to a job if it were submitted now, as
// 'nomad job plan' and 'sbatch --test-only' do: where the next pass would
// place it, or why it would wait and behind what. Nothing is stored. The
// scheduler decides on the store's present state with a scratch copy of
// itself, so the answer is the pass's own logic, not an estimate.

// WhatIf is a Scheduler that can say what it would decide on an input
// (a pass's, with one more job) without changing its own state.
type WhatIf interface {
	WhatIf(ctx context.Context, in ScheduleInput) ([]Decision, error)
}

// dryRun decides a validated job against the present state.
func (s *Server) dryRun(w http.ResponseWriter, r *http.Request, job store.Job) error {
	ctx := r.Context()
	id := job.ID
	out := DryRun{Job: redact(job)}
	out.Job.ID = DryRunID
	if job.Held {
		out.Reasons = []string{heldReason}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	wi, ok := s.cfg.Scheduler.(WhatIf)
	if !ok {
		return errorf(http.StatusNotImplemented, "this server's scheduler cannot answer dry runs")
	}
	nodes, err := s.store.Nodes(ctx)
	if err != nil {
		return err
	}
	active, err := s.store.Jobs(ctx, store.JobQuery{States: []store.JobState{store.JobPending, store.JobRunning}})
	if err != nil {
		return err
	}
	var pending, running []store.Job
	for _, j := range active {
		if j.State == store.JobRunning {
			running = append(running, j)
		} else {
			pending = append(pending, j)
		}
	}
	var scratch store.Changes
	scratch.Fence = &store.Fence{Now: s.clock.Now().UTC()}
	pending = withoutHeld(&scratch, append(pending, job))
	pending = arrayLimit(&scratch, pending, running)
	if pending, err = s.holdBack(ctx, &scratch, pending); err != nil {
		return err
	}
	tenants, err := s.tenantConfigs(ctx)
	if err != nil {
		return err
	}
	pending = s.quotaLimit(&scratch, pending, running, tenants)
	if why := reasonOf(scratch.Jobs, id); why != "" {
		out.Reasons = []string{why} // a dependency, an array's bound or a quota holds it back
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	out.Queued = len(pending) - 1
	decisions, err := wi.WhatIf(ctx, ScheduleInput{Now: s.clock.Now().UTC(), Fleet: s.fleet, Nodes: nodes,
		Pending: pending, Running: running, Tenants: tenants})
	if err != nil {
		return err
	}
	decided := false
	for _, d := range decisions {
		switch {
		case d.Job == id && d.Action == ActPlace:
			out.Starts, out.Placement, decided = true, d.Placement, true
		case d.Job == id && d.Action == ActWait:
			out.Reasons, decided = d.Reasons, true
		case d.Action == ActPreempt:
			out.Preempts = append(out.Preempts, d.Job)
		}
	}
	if !out.Starts {
		out.Preempts = nil // stopped for others, not for this job
	}
	if len(out.Reasons) == 1 && out.Reasons[0] == "fifo-blocked" {
		// strict FIFO: name the head it waits behind, and why that waits
		for _, d := range decisions {
			if d.Action == ActWait && d.Job != id && len(d.Reasons) > 0 && d.Reasons[0] != "fifo-blocked" {
				out.Reasons = []string{fmt.Sprintf("fifo-blocked: behind %s, the head of the queue, which waits: %s", d.Job, strings.Join(d.Reasons, "; "))}
				break
			}
		}
	}
	if !decided {
		out.Reasons = []string{fmt.Sprintf("not reached: none of the %d pending jobs ahead of it in the queue could start either", out.Queued)}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// reasonOf returns the reason a change set gives a job, if any.
func reasonOf(jobs []store.Job, id string) string {
	for _, j := range jobs {
		if j.ID == id {
			return strings.Join(j.Reasons, "; ")
		}
	}
	return ""
}

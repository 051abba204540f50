package server

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"stargate/store"
)

// maxDependencies bounds a job's depends_on.
const maxDependencies = 64

// checkDependencies checks that every job a spec depends on exists and
// is the caller's to see, and that each kind is known.
func (s *Server) checkDependencies(ctx context.Context, tok store.Token, deps []store.Dependency) ([]Problem, error) {
	var ps []Problem
	if len(deps) > maxDependencies {
		return []Problem{{Field: "depends_on", Message: fmt.Sprintf("at most %d jobs", maxDependencies)}}, nil
	}
	for i, d := range deps {
		field := fmt.Sprintf("depends_on[%d]", i)
		switch d.Kind {
		case store.AfterOK, store.AfterNotOK, store.AfterAny:
		default:
			ps = append(ps, Problem{Field: field + ".kind", Message: "must be afterok, afternotok or afterany"})
		}
		j, err := s.store.Job(ctx, d.Job)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if err != nil || !canSee(tok, j.Tenant) {
			ps = append(ps, Problem{Field: field + ".job", Message: fmt.Sprintf("no job %q", d.Job)})
		}
	}
	return ps, nil
}

// depVerdict is what a pending job's dependencies say now.
type depVerdict int

const (
	depReady depVerdict = iota // every dependency is met
	depWait                    // some job it waits for has not ended
	depNever                   // some job ended as its kind does not want
)

// judgeDependencies reads the state of every job the pending jobs depend
// on (the active ones from the pass's cache, the others from the store)
// and judges each pending job: the verdict and, unless ready, why.
func (s *Server) judgeDependencies(ctx context.Context, pending []store.Job) (map[string]depVerdict, map[string]string, error) {
	state := map[string]store.JobState{}
	var missing []string
	for _, j := range pending {
		for _, d := range j.Spec.DependsOn {
			if _, ok := state[d.Job]; ok {
				continue
			}
			if a, ok := s.live.jobs[d.Job]; ok {
				state[d.Job] = a.State
			} else {
				state[d.Job] = ""
				missing = append(missing, d.Job)
			}
		}
	}
	if len(missing) > 0 {
		ended, err := s.store.JobsByID(ctx, missing)
		if err != nil {
			return nil, nil, err
		}
		for _, j := range ended {
			state[j.ID] = j.State
		}
	}
	verdicts, why := map[string]depVerdict{}, map[string]string{}
	for _, j := range pending {
		v, w := depReady, ""
		for _, d := range j.Spec.DependsOn {
			st := state[d.Job]
			switch {
			case st == "": // purged from the store: it will never end as asked
				v, w = depNever, fmt.Sprintf("job %s is gone (%s)", d.Job, d.Kind)
			case !st.Final():
				if v == depReady {
					v, w = depWait, fmt.Sprintf("waiting for job %s (%s)", d.Job, d.Kind)
				}
			case d.Kind == store.AfterOK && st != store.JobSucceeded,
				d.Kind == store.AfterNotOK && st == store.JobSucceeded:
				v, w = depNever, fmt.Sprintf("job %s ended %s (%s)", d.Job, st, d.Kind)
			}
			if v == depNever {
				break
			}
		}
		if v != depReady {
			verdicts[j.ID], why[j.ID] = v, w
		}
	}
	return verdicts, why, nil
}

// holdBack takes out of a pass the pending jobs whose dependencies are
// not met: those that wait keep waiting, with the reason; those that can
// never run are cancelled, saying why. It returns the jobs the scheduler
// may consider.
func (s *Server) holdBack(ctx context.Context, c *store.Changes, pending []store.Job) ([]store.Job, error) {
	anyDeps := false
	for _, j := range pending {
		anyDeps = anyDeps || len(j.Spec.DependsOn) > 0
	}
	if !anyDeps {
		return pending, nil
	}
	verdicts, why, err := s.judgeDependencies(ctx, pending)
	if err != nil {
		return nil, err
	}
	now := c.Fence.Now
	keep := pending[:0]
	for _, j := range pending {
		switch verdicts[j.ID] {
		case depReady:
			keep = append(keep, j)
		case depWait:
			if r := []string{why[j.ID]}; !slices.Equal(j.Reasons, r) {
				j.Reasons = r
				c.Jobs = append(c.Jobs, j)
			}
		case depNever:
			msg := "cancelled: dependency never satisfied: " + why[j.ID]
			j.State, j.EndedAt, j.Reasons = store.JobCancelled, now, []string{msg}
			c.Jobs = append(c.Jobs, j)
			c.Events = append(c.Events, store.Event{Time: now, Kind: "cancelled", Job: j.ID, Message: msg})
		}
	}
	return keep, nil
}

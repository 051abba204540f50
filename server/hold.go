package server

import (
	"errors"
	"net/http"

	"stargate/store"
)

// A held job is pending but out of the scheduler's queue until it is
// released, as Slurm's scontrol hold and release: submitted with
// hold: true, or held while pending (POST /v1/jobs/{id}/hold).

// heldReason is the wait reason of a held job.
const heldReason = "held: it waits until released ('stargate release ID')"

// holdJob handles POST /v1/jobs/{id}/hold: a pending job leaves the
// queue. Holding a held job is a no-op; a job that runs or ended is a
// conflict.
func (s *Server) holdJob(w http.ResponseWriter, r *http.Request, tok store.Token) error {
	return s.setHeld(w, r, tok, true)
}

// releaseJob handles POST /v1/jobs/{id}/release: a held job goes back to
// the queue. Releasing a job that is not held is a no-op.
func (s *Server) releaseJob(w http.ResponseWriter, r *http.Request, tok store.Token) error {
	return s.setHeld(w, r, tok, false)
}

func (s *Server) setHeld(w http.ResponseWriter, r *http.Request, tok store.Token, held bool) error {
	id := r.PathValue("id")
	verb, kind := "held", "held"
	if !held {
		verb, kind = "released", "released"
	}
	for attempt := 0; ; attempt++ {
		j, err := s.visibleJob(r, tok, id)
		if err != nil {
			return err
		}
		if j.State != store.JobPending {
			return errorf(http.StatusConflict, "job %s is %s: only a pending job can be %s", id, j.State, verb)
		}
		if j.Held == held {
			writeJSON(w, http.StatusOK, redact(j))
			return nil
		}
		now := s.clock.Now().UTC()
		msg := verb + " by " + string(tok.Role) + " token " + tok.ID
		j.Held, j.Reasons = held, []string{heldReason}
		if !held {
			j.Reasons = []string{msg + "; waiting for the next pass"}
		}
		err = s.store.Apply(r.Context(), store.Changes{Jobs: []store.Job{j},
			Events: []store.Event{{Time: now, Kind: kind, Job: id, Message: msg}}})
		if errors.Is(err, store.ErrConflict) && attempt < 5 {
			continue
		}
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, redact(j))
		return nil
	}
}

// withoutHeld takes the held jobs out of a pass's pending jobs, and gives
// those that do not say so yet their reason.
func withoutHeld(c *store.Changes, pending []store.Job) []store.Job {
	keep := pending[:0]
	for _, j := range pending {
		if !j.Held {
			keep = append(keep, j)
			continue
		}
		if len(j.Reasons) != 1 || j.Reasons[0] != heldReason {
			j.Reasons = []string{heldReason}
			c.Jobs = append(c.Jobs, j)
		}
	}
	return keep
}

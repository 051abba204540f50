package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"stargate/store"
)

// DefaultLogKeep is how much output the server keeps of each job on each
// node, per attempt, when Config.LogKeep is not set.
const DefaultLogKeep = 8 << 20

// maxLogPieces bounds the pieces of one upload.
const maxLogPieces = 1024

func (s *Server) uploadLogs(w http.ResponseWriter, r *http.Request, tok store.Token) error {
	node := r.PathValue("name")
	if err := speaksFor(tok, node); err != nil {
		return err
	}
	if _, ok := s.nodeIx[node]; !ok {
		return errorf(http.StatusNotFound, "%s is not a node of the fleet", node)
	}
	body, err := readBody(w, r, s.cfg.MaxBody)
	if err != nil {
		return err
	}
	var up LogUpload
	if ps := decodeStrict(body, &up); len(ps) > 0 {
		return badRequest(ps)
	}
	if len(up.Chunks) > maxLogPieces {
		return badRequest([]Problem{{Field: "chunks", Message: fmt.Sprintf("at most %d", maxLogPieces)}})
	}
	// Each piece is judged alone: one the server will never take (its job
	// is gone, say) must not hold back the others.
	out := LogStored{Refused: []Problem{}}
	chunks := make([]store.LogChunk, 0, len(up.Chunks))
	ran := map[string]bool{} // job/attempt -> placed on this node
	for i, c := range up.Chunks {
		field := fmt.Sprintf("chunks[%d]", i)
		if c.Offset < 0 || c.Offset > maxLogOffset || c.Attempt < 1 {
			out.Refused = append(out.Refused, Problem{Field: field, Message: fmt.Sprintf("offset must be between 0 and %d, attempt >= 1", int64(maxLogOffset))})
			continue
		}
		k := c.Job + "/" + strconv.Itoa(c.Attempt)
		ok, seen := ran[k]
		if !seen {
			if ok, err = s.ranOn(r.Context(), c.Job, c.Attempt, node); err != nil {
				return err
			}
			ran[k] = ok
		}
		// A node writes only the output of attempts it ran; an attempt
		// may have ended (its last output comes after).
		if !ok {
			out.Refused = append(out.Refused, Problem{Field: field + ".job", Message: fmt.Sprintf("attempt %d of job %q did not run on %s", c.Attempt, c.Job, node)})
			continue
		}
		chunks = append(chunks, store.LogChunk{Job: c.Job, Attempt: c.Attempt, Node: node, Offset: c.Offset, Data: c.Data})
	}
	if err := s.store.AppendLogs(r.Context(), chunks, s.cfg.LogKeep); err != nil {
		return err
	}
	out.Stored = len(chunks)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// maxLogOffset bounds a piece's offset: 2^53, exact in every store's
// arithmetic.
const maxLogOffset = 1 << 53

// ranOn reports whether attempt of a job was placed on node: for the
// running attempt its placement says; for an earlier one, the attempt-th
// "placed" event of the job does.
func (s *Server) ranOn(ctx context.Context, id string, attempt int, node string) (bool, error) {
	j, err := s.store.Job(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil || attempt > j.Attempts {
		return false, err
	}
	if j.State == store.JobRunning && attempt == j.Attempts {
		for _, a := range j.Placement {
			if a.Node == node {
				return true, nil
			}
		}
		return false, nil
	}
	evs, err := s.store.Events(ctx, store.EventQuery{Job: id})
	if err != nil {
		return false, err
	}
	n := 0
	for _, e := range evs {
		if e.Kind != "placed" {
			continue
		}
		if n++; n == attempt {
			return slices.Contains(placedNodes(e.Message), node), nil
		}
	}
	return false, nil
}

// Bounds of a log read.
const (
	defaultLogLimit = 1000
	maxLogLimit     = 10000
)

func (s *Server) jobLogs(w http.ResponseWriter, r *http.Request, tok store.Token) error {
	j, err := s.visibleJob(r, tok, r.PathValue("id"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if ps := unknownParams(q, "node", "after", "limit"); len(ps) > 0 {
		return badRequest(ps)
	}
	lq := store.LogQuery{Job: j.ID, Node: q.Get("node"), Limit: defaultLogLimit}
	var ps []Problem
	if v := q.Get("after"); v != "" {
		if lq.After, err = strconv.ParseInt(v, 10, 64); err != nil || lq.After < 0 {
			ps = append(ps, Problem{Field: "after", Message: "must be a cursor (an integer >= 0)"})
		}
	}
	if v := q.Get("limit"); v != "" {
		if lq.Limit, err = strconv.Atoi(v); err != nil || lq.Limit < 1 || lq.Limit > maxLogLimit {
			ps = append(ps, Problem{Field: "limit", Message: fmt.Sprintf("must be between 1 and %d", maxLogLimit)})
		}
	}
	if len(ps) > 0 {
		return badRequest(ps)
	}
	chunks, err := s.store.Logs(r.Context(), lq)
	if err != nil {
		return err
	}
	out := JobLogs{Chunks: chunks, Next: lq.After}
	if out.Chunks == nil {
		out.Chunks = []store.LogChunk{}
	}
	if len(chunks) > 0 {
		out.Next = chunks[len(chunks)-1].Seq
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

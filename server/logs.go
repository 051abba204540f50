package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"stargate/store"
)

// DefaultLogKeep is how much output the server keeps of each job on each
// node, per attempt, when Config.LogKeep is not set.
const DefaultLogKeep = 8 << 20

// LogUpload is the body of POST /v1/nodes/{name}/logs: output of the
// node's job processes, shipped by its agent. Chunks are keyed by job,
// attempt and offset, so that an upload retried after a lost answer is
// stored once.
type LogUpload struct {
	Chunks []LogPiece `json:"chunks"`
}

// LogPiece is a piece of a job's output on the uploading node.
type LogPiece struct {
	Job     string `json:"job"`
	Attempt int    `json:"attempt"`
	// Offset is where Data starts in the job's output on this node in
	// this attempt: bytes trimmed by the agent leave a gap.
	Offset int64  `json:"offset"`
	Data   []byte `json:"data"`
}

// JobLogs is the body of GET /v1/jobs/{id}/logs.
type JobLogs struct {
	Chunks []store.LogChunk `json:"chunks"`
	// Next is the cursor to pass as ?after= to read on (the last chunk's
	// Seq, or the cursor given when there was none).
	Next int64 `json:"next"`
}

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
	var ps []Problem
	if len(up.Chunks) > maxLogPieces {
		ps = append(ps, Problem{Field: "chunks", Message: fmt.Sprintf("at most %d", maxLogPieces)})
	}
	chunks := make([]store.LogChunk, 0, len(up.Chunks))
	jobs := map[string]store.Job{}
	for i, c := range up.Chunks {
		field := fmt.Sprintf("chunks[%d]", i)
		if c.Offset < 0 || c.Attempt < 1 {
			ps = append(ps, Problem{Field: field, Message: "offset must be >= 0 and attempt >= 1"})
			continue
		}
		j, seen := jobs[c.Job]
		if !seen {
			if j, err = s.store.Job(r.Context(), c.Job); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			jobs[c.Job] = j
		}
		// A node writes only the output of attempts that were started;
		// an attempt may have ended (its last output comes after).
		if j.ID == "" || c.Attempt > j.Attempts {
			ps = append(ps, Problem{Field: field + ".job", Message: fmt.Sprintf("no attempt %d of job %q", c.Attempt, c.Job)})
			continue
		}
		chunks = append(chunks, store.LogChunk{Job: c.Job, Attempt: c.Attempt, Node: node, Offset: c.Offset, Data: c.Data})
	}
	if len(ps) > 0 {
		return badRequest(ps)
	}
	if err := s.store.AppendLogs(r.Context(), chunks, s.cfg.LogKeep); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int{"stored": len(chunks)})
	return nil
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

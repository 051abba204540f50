package agent

import (
	"path/filepath"
	"strconv"

	"stargate/server"
)

// Output travels to the server: the agent ships each attempt's output in
// pieces keyed by offset, and the server keeps it (bounded) in its store,
// where `stargate logs` reads it with the caller's token and tenant rules.
// Logs so outlive the node, the agent and the job; a retried upload is
// stored once.

// Bounds of one upload: base64 makes 512 KiB about 700 KB of JSON, well
// within the server's default body limit of 1 MiB.
const (
	maxPiece  = 128 << 10
	maxUpload = 512 << 10
)

// Pending lists the output not yet shipped, at most maxUpload bytes,
// oldest attempts first.
func (r *ProcessRunner) Pending() []server.LogPiece {
	var out []server.LogPiece
	total := 0
	for _, a := range r.Attempts() {
		if total >= maxUpload {
			break
		}
		dir := r.attemptDir(a.Job, a.Attempt)
		data, start, err := readLog(dir, shipped(dir), min(maxPiece, maxUpload-total))
		if err != nil || len(data) == 0 {
			continue
		}
		out = append(out, server.LogPiece{Job: a.Job, Attempt: a.Attempt, Offset: start, Data: data})
		total += len(data)
	}
	return out
}

// Shipped records that pieces reached the server.
func (r *ProcessRunner) Shipped(pieces []server.LogPiece) {
	for _, p := range pieces {
		dir := r.attemptDir(p.Job, p.Attempt)
		end := p.Offset + int64(len(p.Data))
		if end > shipped(dir) {
			writeSynced(filepath.Join(dir, shippedFile), []byte(strconv.FormatInt(end, 10)))
		}
	}
}

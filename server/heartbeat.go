package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"sync"

	"stargate/store"
)

// telemetry keeps the latest report of every node, in memory: it is a
// reading, not state, and the next heartbeat brings it again.
type telemetry struct {
	mu sync.Mutex
	m  map[string]NodeTelemetry
}

func (t *telemetry) set(node string, v NodeTelemetry) {
	t.mu.Lock()
	if t.m == nil {
		t.m = map[string]NodeTelemetry{}
	}
	t.m[node] = v
	t.mu.Unlock()
}

func (t *telemetry) get(node string) (NodeTelemetry, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.m[node]
	return v, ok
}

// Bounds of a heartbeat's lists.
const (
	maxFinished  = 1024
	maxCapAcks   = 1024
	maxReasonLen = 1024
)

// checkHeartbeat lists every problem of a heartbeat from a node.
func (s *Server) checkHeartbeat(name string, hb *Heartbeat) []Problem {
	var ps []Problem
	bad := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if p, isBad := s.checkDraw(name, hb.DrawW); isBad {
		ps = append(ps, p)
	}
	if len(hb.Finished) > maxFinished {
		bad("finished", "at most %d outcomes", maxFinished)
	}
	for i, o := range hb.Finished {
		if o.State != store.JobSucceeded && o.State != store.JobFailed && o.State != store.JobTimeout {
			bad(fmt.Sprintf("finished[%d].state", i), "must be succeeded, failed or timeout")
		}
		if o.Job == "" {
			bad(fmt.Sprintf("finished[%d].job", i), "required")
		}
		if o.Attempt < 0 {
			bad(fmt.Sprintf("finished[%d].attempt", i), "must be >= 0")
		}
		if len(o.Message) > maxReasonLen {
			bad(fmt.Sprintf("finished[%d].message", i), "at most %d bytes", maxReasonLen)
		}
	}
	maxAcc := 64
	if i, ok := s.nodeIx[name]; ok {
		maxAcc = s.fleet.NodeModel(i).Accelerators
	}
	if len(hb.Accelerators) > maxAcc {
		bad("accelerators", "the node has %d accelerators", maxAcc)
	}
	for i, a := range hb.Accelerators {
		for _, v := range []float64{a.PowerW, a.EnergyJ, a.Util, a.MemUsedMiB, a.MemTotalMiB, a.TempC, a.SMClockMHz, a.CapW} {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < -1e6 || v > 1e18 {
				bad(fmt.Sprintf("accelerators[%d]", i), "readings must be finite numbers")
				break
			}
		}
		if a.Index < 0 || a.Index >= maxAcc {
			bad(fmt.Sprintf("accelerators[%d].index", i), "must be between 0 and %d", maxAcc-1)
		}
		if len(a.UUID) > 128 || len(a.Fatal) > maxReasonLen {
			bad(fmt.Sprintf("accelerators[%d]", i), "uuid at most 128 bytes, fatal at most %d", maxReasonLen)
		}
	}
	if len(hb.Caps) > maxCapAcks {
		bad("caps", "at most %d", maxCapAcks)
	}
	for i, c := range hb.Caps {
		if math.IsNaN(c.AppliedW) || math.IsInf(c.AppliedW, 0) || math.IsNaN(c.WantW) || math.IsInf(c.WantW, 0) || len(c.Error) > maxReasonLen {
			bad(fmt.Sprintf("caps[%d]", i), "watts must be finite, error at most %d bytes", maxReasonLen)
		}
	}
	if len(hb.Unhealthy) > maxReasonLen {
		bad("unhealthy", "at most %d bytes", maxReasonLen)
	}
	// Its text goes to events and node records: none a store cannot keep.
	return append(ps, badStrings(reflect.ValueOf(*hb), "")...)
}

func (s *Server) heartbeat(w http.ResponseWriter, r *http.Request, tok store.Token) error {
	name := r.PathValue("name")
	if err := speaksFor(tok, name); err != nil {
		return err
	}
	// Checked before it joins a batch: a name no store can keep must not
	// fail the heartbeats committed with it.
	if _, ok := s.nodeIx[name]; !ok {
		return errorf(http.StatusNotFound, "%q is not a node of the fleet", name)
	}
	body, err := readBody(w, r, s.cfg.MaxBody)
	if err != nil {
		return err
	}
	var hb Heartbeat
	if len(body) > 0 {
		if ps := decodeStrict(body, &hb); len(ps) > 0 {
			return badRequest(ps)
		}
	}
	if ps := s.checkHeartbeat(name, &hb); len(ps) > 0 {
		return badRequest(ps)
	}
	draw := -1.0
	if hb.DrawW != nil {
		draw = *hb.DrawW
	}
	now := s.clock.Now().UTC()
	req := &beatReq{beat: store.Beat{Node: name, At: now, DrawW: draw}, done: make(chan beatRes, 1)}
	select {
	case s.beats <- req:
	case <-r.Context().Done():
		return r.Context().Err()
	}
	var res beatRes
	select {
	case res = <-req.done:
	case <-s.stopped:
		return errorf(http.StatusServiceUnavailable, "server is shutting down")
	}
	if res.err != nil {
		return res.err
	}
	if !res.found {
		return errorf(http.StatusNotFound, "node %s is not registered: POST /v1/nodes first", name)
	}
	s.telemetry.set(name, NodeTelemetry{At: now, Accelerators: hb.Accelerators, Caps: hb.Caps, Unhealthy: hb.Unhealthy})
	// The jobs that ran here since the last heartbeat, before those that
	// ended leave: the interval's energy is theirs.
	jobs, err := s.store.Jobs(r.Context(), store.JobQuery{Node: name, States: []store.JobState{store.JobRunning}})
	if err != nil {
		return err
	}
	s.meter(r.Context(), s.nodeIx[name], name, now, hb.Accelerators, jobs)
	for _, o := range hb.Finished {
		if err := s.finish(r.Context(), name, o); err != nil {
			return err
		}
	}
	n, err := s.setHealth(r.Context(), name, hb.Unhealthy)
	if err != nil {
		return err
	}
	if len(hb.Finished) > 0 {
		if jobs, err = s.store.Jobs(r.Context(), store.JobQuery{Node: name, States: []store.JobState{store.JobRunning}}); err != nil {
			return err
		}
	}
	if jobs == nil {
		jobs = []store.Job{}
	}
	// The node's own agent gets its jobs' secrets: it runs them; anyone
	// else speaking for the node (an admin) sees them redacted. A job
	// whose secrets do not open with this server's key (another replica
	// sealed them with another key) cannot run as asked: it fails, saying
	// so, rather than run without them.
	runnable := jobs[:0]
	for _, j := range jobs {
		if tok.Role != store.RoleNode {
			runnable = append(runnable, redact(j))
			continue
		}
		open, err := s.open(j)
		if err != nil {
			s.log.Error("a job's secrets do not open; failing it", "job", j.ID, "err", err)
			if err := s.failJob(r.Context(), j.ID, err.Error()+" (replicas sharing a store must share --secret-key-file)"); err != nil {
				return err
			}
			continue
		}
		runnable = append(runnable, open)
	}
	jobs = runnable
	reply := HeartbeatReply{Node: n, Jobs: jobs}
	for _, j := range jobs {
		first := j.Placement[0].Node
		if _, ok := reply.Addresses[first]; ok {
			continue
		}
		addr := n.Address
		if first != name {
			m, err := s.store.Node(r.Context(), first)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			addr = m.Address
		}
		if reply.Addresses == nil {
			reply.Addresses = map[string]string{}
		}
		reply.Addresses[first] = addr
	}
	writeJSON(w, http.StatusOK, reply)
	return nil
}

// setHealth records whether a node is healthy, as its heartbeat says: an
// unhealthy node takes no new work; a healthy one comes back ready, or
// draining when it was drained. It returns the node as stored.
func (s *Server) setHealth(ctx context.Context, name, unhealthy string) (store.Node, error) {
	for attempt := 0; ; attempt++ {
		n, err := s.store.Node(ctx, name)
		if err != nil {
			return n, err
		}
		var want store.NodeState
		switch {
		case n.State == store.NodeLost:
			return n, nil // the heartbeat brings it back; the next one judges
		case unhealthy != "":
			want = store.NodeUnhealthy
		case n.Drained:
			want = store.NodeDraining
		default:
			want = store.NodeReady
		}
		if n.State == want {
			return n, nil
		}
		kind, msg := "node-healthy", "healthy again"
		if want == store.NodeUnhealthy {
			kind, msg = "node-unhealthy", unhealthy
		}
		n.State = want
		now := s.clock.Now().UTC()
		err = s.store.Apply(ctx, store.Changes{Nodes: []store.Node{n},
			Events: []store.Event{{Time: now, Kind: kind, Node: name, Message: msg}}})
		if errors.Is(err, store.ErrConflict) && attempt < 5 {
			continue
		}
		n.Version++
		return n, err
	}
}

// maxDrawFactor bounds a reported draw: a node draws at most this many
// times its rated power (accelerators at TDP plus overhead). A larger
// figure is a broken meter, and would swamp every sum it is added to.
const maxDrawFactor = 4

// checkDraw checks a node's reported draw in watts (nil: not reported):
// finite, at least 0 and at most maxDrawFactor times the rated power of
// the fleet's node of that name (unknown names are reported elsewhere).
func (s *Server) checkDraw(name string, d *float64) (Problem, bool) {
	if d == nil {
		return Problem{}, false
	}
	if math.IsNaN(*d) || math.IsInf(*d, 0) || *d < 0 {
		return Problem{Field: "draw_w", Message: "must be a finite number of watts >= 0"}, true
	}
	i, ok := s.nodeIx[name]
	if !ok {
		return Problem{}, false
	}
	rated := s.fleet.NodeModel(i).MaxW(s.fleet.NodeAccelerator(i))
	if limit := maxDrawFactor * rated; *d > limit {
		return Problem{Field: "draw_w", Message: fmt.Sprintf("%g W is more than %d × the node's rated %.0f W (at most %.0f W)",
			*d, maxDrawFactor, rated, limit)}, true
	}
	return Problem{}, false
}

// beatReq is one heartbeat waiting for the heartbeat committer.
type beatReq struct {
	beat store.Beat
	done chan beatRes
}

type beatRes struct {
	found bool
	err   error
}

// beatLoop records heartbeats in batches, one transaction each: with
// thousands of nodes, one commit per heartbeat would not keep up.
func (s *Server) beatLoop(ctx context.Context) {
	batch := make([]*beatReq, 0, s.cfg.MaxBatch)
	beats := make([]store.Beat, 0, s.cfg.MaxBatch)
	for {
		var ok bool
		if batch, ok = gather(ctx, s.beats, batch, s.cfg.MaxBatch); !ok {
			return
		}
		beats = beats[:0]
		for _, req := range batch {
			beats = append(beats, req.beat)
		}
		found, err := s.store.Heartbeats(context.Background(), beats)
		if err != nil && len(batch) > 1 {
			// One bad heartbeat must not fail the others: record them
			// one by one, each answered with its own outcome.
			s.log.Warn("heartbeat batch failed; recording its heartbeats one by one", "beats", len(batch), "err", err)
			for _, req := range batch {
				f, err := s.store.Heartbeats(context.Background(), []store.Beat{req.beat})
				if err != nil {
					req.done <- beatRes{err: err}
				} else {
					req.done <- beatRes{found: f[0]}
				}
			}
			continue
		}
		for i, req := range batch {
			if err != nil {
				req.done <- beatRes{err: err}
			} else {
				req.done <- beatRes{found: found[i]}
			}
		}
	}
}

// failJob ends a running job failed, for why, without a restart.
func (s *Server) failJob(ctx context.Context, id, why string) error {
	for attempt := 0; ; attempt++ {
		j, err := s.store.Job(ctx, id)
		if err != nil || j.State.Final() {
			return err
		}
		now := s.clock.Now().UTC()
		j.State, j.EndedAt, j.Placement, j.Reasons, j.CapW = store.JobFailed, now, nil, []string{why}, 0
		err = s.store.Apply(ctx, store.Changes{Jobs: []store.Job{j},
			Events: []store.Event{{Time: now, Kind: string(store.JobFailed), Job: id, Message: why}}})
		if errors.Is(err, store.ErrConflict) && attempt < 5 {
			continue
		}
		return err
	}
}

// finish records that a job's processes on a node ended. A job succeeds
// when its processes ended well on every node of its placement; it fails
// when they failed on any one (the agents of the other nodes then stop
// theirs, since the job is no longer theirs to run), or is requeued when
// its spec allows another restart. A report about a job that is not
// running on that node in that attempt (cancelled meanwhile, requeued,
// reported twice) is ignored: the node learns from the reply what it
// should run.
func (s *Server) finish(ctx context.Context, node string, o JobOutcome) error {
	for attempt := 0; ; attempt++ {
		j, err := s.store.Job(ctx, o.Job)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		at := -1
		for i, a := range j.Placement {
			if a.Node == node {
				at = i
			}
		}
		if j.State != store.JobRunning || at < 0 || (o.Attempt != 0 && o.Attempt != j.Attempts) || j.Placement[at].Done {
			return nil
		}
		now := s.clock.Now().UTC()
		var ev store.Event
		switch {
		case o.State == store.JobSucceeded:
			j.Placement[at].Done = true
			all := true
			for _, a := range j.Placement {
				all = all && a.Done
			}
			ev = store.Event{Time: now, Kind: "node-done", Job: j.ID, Node: node, Message: "ended well on " + node}
			if all {
				ev.Kind, ev.Message = string(store.JobSucceeded), "succeeded on "+node
				if len(j.Placement) > 1 {
					ev.Message = fmt.Sprintf("succeeded on all %d nodes", len(j.Placement))
				}
				j.State, j.EndedAt, j.Placement, j.Reasons, j.CapW = store.JobSucceeded, now, nil, nil, 0
			}
		case o.State == store.JobTimeout:
			// Past its time limit: it ends, on every node (the others
			// stop it, no longer assigned it).
			why := "timeout on " + node
			if o.Message != "" {
				why += ": " + o.Message
			}
			j.State, j.EndedAt, j.Placement, j.Reasons, j.CapW = store.JobTimeout, now, nil, []string{why}, 0
			ev = store.Event{Time: now, Kind: string(store.JobTimeout), Job: j.ID, Node: node, Message: why}
		case j.Failures < j.Spec.MaxRestarts:
			j.Failures++
			why := fmt.Sprintf("requeued: failed on %s: %s (restart %d of %d)", node, o.Message, j.Failures, j.Spec.MaxRestarts)
			j.State, j.Placement, j.Reasons, j.CapW = store.JobPending, nil, []string{why}, 0
			ev = store.Event{Time: now, Kind: "requeued", Job: j.ID, Node: node, Message: why}
		default:
			j.Failures++
			why := "failed on " + node
			if o.Message != "" {
				why += ": " + o.Message
			}
			j.State, j.EndedAt, j.Placement, j.Reasons, j.CapW = store.JobFailed, now, nil, []string{why}, 0
			ev = store.Event{Time: now, Kind: string(store.JobFailed), Job: j.ID, Node: node, Message: why}
		}
		err = s.store.Apply(ctx, store.Changes{Jobs: []store.Job{j}, Events: []store.Event{ev}})
		if errors.Is(err, store.ErrConflict) && attempt < 5 {
			continue
		}
		return err
	}
}

package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"

	"stargate/store"
)

// NodeRegistration is the body of POST /v1/nodes.
type NodeRegistration struct {
	// Name is the fleet's node name, "site/hall/row/rack/nN".
	Name string `json:"name"`
	// Model and Accelerators, when given, must match the fleet file.
	Model        string            `json:"model,omitempty"`
	Accelerators int               `json:"accelerators,omitempty"`
	Address      string            `json:"address,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	// DrawW is the measured draw in watts (omit when unknown).
	DrawW *float64 `json:"draw_w,omitempty"`
}

// Heartbeat is the body of POST /v1/nodes/{name}/heartbeat.
type Heartbeat struct {
	DrawW *float64 `json:"draw_w,omitempty"`
	// Finished reports jobs of this node whose processes ended.
	Finished []JobOutcome `json:"finished,omitempty"`
}

// JobOutcome is how a job's processes on a node ended.
type JobOutcome struct {
	Job     string         `json:"job"`
	State   store.JobState `json:"state"` // succeeded or failed
	Message string         `json:"message,omitempty"`
}

// HeartbeatReply tells an agent what its node should run.
type HeartbeatReply struct {
	Node store.Node  `json:"node"`
	Jobs []store.Job `json:"jobs"`
}

// NodeInfo is a registered node with the fleet's view of it.
type NodeInfo struct {
	store.Node
	Rack string `json:"rack"`
	// Allocated counts the accelerators held by running jobs.
	Allocated int `json:"allocated"`
}

// NodeList is the body of GET /v1/nodes.
type NodeList struct {
	Nodes []NodeInfo `json:"nodes"`
}

func (s *Server) registerNode(w http.ResponseWriter, r *http.Request, _ store.Token) error {
	body, err := readBody(w, r, s.cfg.MaxBody)
	if err != nil {
		return err
	}
	var reg NodeRegistration
	if ps := decodeStrict(body, &reg); len(ps) > 0 {
		return badRequest(ps)
	}
	var ps []Problem
	i, ok := s.nodeIx[reg.Name]
	if !ok {
		ps = append(ps, Problem{Field: "name", Message: fmt.Sprintf("%q is not a node of the fleet (names look like %s)", reg.Name, s.fleet.NodeName(0))})
	} else {
		m := s.fleet.NodeModel(i)
		acc := s.fleet.NodeAccelerator(i)
		if reg.Model != "" && reg.Model != m.Name && s.fleet.Catalog.Accelerator(reg.Model) != s.fleet.Catalog.Accelerator(acc.Name) {
			ps = append(ps, Problem{Field: "model", Message: fmt.Sprintf("the fleet has a %s here, not %s", m.Name, reg.Model)})
		}
		if reg.Accelerators != 0 && reg.Accelerators != m.Accelerators {
			ps = append(ps, Problem{Field: "accelerators", Message: fmt.Sprintf("the fleet has %d here", m.Accelerators)})
		}
	}
	if p, bad := s.checkDraw(reg.Name, reg.DrawW); bad {
		ps = append(ps, p)
	}
	if len(ps) > 0 {
		return badRequest(ps)
	}
	now := s.clock.Now().UTC()
	m := s.fleet.NodeModel(i)
	n := store.Node{Name: reg.Name, Model: m.Name, Accelerators: m.Accelerators, Address: reg.Address, Labels: reg.Labels,
		RegisteredAt: now, HeartbeatAt: now, DrawW: -1}
	if reg.DrawW != nil {
		n.DrawW = *reg.DrawW
	}
	out, err := s.store.RegisterNode(r.Context(), n)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) heartbeat(w http.ResponseWriter, r *http.Request, _ store.Token) error {
	name := r.PathValue("name")
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
	draw := -1.0
	if hb.DrawW != nil {
		draw = *hb.DrawW
	}
	var ps []Problem
	if p, bad := s.checkDraw(name, hb.DrawW); bad {
		ps = append(ps, p)
	}
	for i, o := range hb.Finished {
		if o.State != store.JobSucceeded && o.State != store.JobFailed {
			ps = append(ps, Problem{Field: fmt.Sprintf("finished[%d].state", i), Message: "must be succeeded or failed"})
		}
		if o.Job == "" {
			ps = append(ps, Problem{Field: fmt.Sprintf("finished[%d].job", i), Message: "required"})
		}
	}
	if len(ps) > 0 {
		return badRequest(ps)
	}
	req := &beatReq{beat: store.Beat{Node: name, At: s.clock.Now().UTC(), DrawW: draw}, done: make(chan beatRes, 1)}
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
	for _, o := range hb.Finished {
		if err := s.finish(r, name, o); err != nil {
			return err
		}
	}
	n, err := s.store.Node(r.Context(), name)
	if err != nil {
		return err
	}
	jobs, err := s.store.Jobs(r.Context(), store.JobQuery{Node: name, States: []store.JobState{store.JobRunning}})
	if err != nil {
		return err
	}
	if jobs == nil {
		jobs = []store.Job{}
	}
	writeJSON(w, http.StatusOK, HeartbeatReply{Node: n, Jobs: jobs})
	return nil
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
		for i, req := range batch {
			if err != nil {
				req.done <- beatRes{err: err}
			} else {
				req.done <- beatRes{found: found[i]}
			}
		}
	}
}

// finish ends a running job that a node reports finished. A report about
// a job that is not running on that node (cancelled meanwhile, requeued,
// reported twice) is ignored: the node learns from the reply what it
// should run.
func (s *Server) finish(r *http.Request, node string, o JobOutcome) error {
	for attempt := 0; ; attempt++ {
		j, err := s.store.Job(r.Context(), o.Job)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		on := false
		for _, a := range j.Placement {
			on = on || a.Node == node
		}
		if j.State != store.JobRunning || !on {
			return nil
		}
		now := s.clock.Now().UTC()
		msg := string(o.State) + " on " + node
		if o.Message != "" {
			msg += ": " + o.Message
		}
		j.State, j.EndedAt, j.Placement, j.Reasons, j.CapW = o.State, now, nil, nil, 0
		if o.Message != "" {
			j.Reasons = []string{o.Message}
		}
		err = s.store.Apply(r.Context(), store.Changes{Jobs: []store.Job{j},
			Events: []store.Event{{Time: now, Kind: string(o.State), Job: j.ID, Node: node, Message: msg}}})
		if errors.Is(err, store.ErrConflict) && attempt < 5 {
			continue
		}
		return err
	}
}

func (s *Server) listNodes(w http.ResponseWriter, r *http.Request, _ store.Token) error {
	nodes, err := s.store.Nodes(r.Context())
	if err != nil {
		return err
	}
	alloc, err := s.allocated(r)
	if err != nil {
		return err
	}
	out := NodeList{Nodes: make([]NodeInfo, 0, len(nodes))}
	for _, n := range nodes {
		info := NodeInfo{Node: n, Allocated: alloc[n.Name]}
		if i, ok := s.nodeIx[n.Name]; ok {
			info.Rack = s.fleet.RackPath(int(s.fleet.Nodes[i].Rack))
		}
		out.Nodes = append(out.Nodes, info)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// allocated counts the accelerators running jobs hold, by node.
func (s *Server) allocated(r *http.Request) (map[string]int, error) {
	running, err := s.store.Jobs(r.Context(), store.JobQuery{States: []store.JobState{store.JobRunning}})
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, j := range running {
		for _, a := range j.Placement {
			out[a.Node] += len(a.Accelerators)
		}
	}
	return out, nil
}

// drainNode stops new work from landing on a node; its jobs keep running.
// The drain is kept while the node is lost and when it registers again,
// until undrainNode.
func (s *Server) drainNode(w http.ResponseWriter, r *http.Request, tok store.Token) error {
	return s.setDrain(w, r, tok, true)
}

// undrainNode returns a drained node to service: a draining node is ready
// again; a lost one comes back ready when it is heard from.
func (s *Server) undrainNode(w http.ResponseWriter, r *http.Request, tok store.Token) error {
	return s.setDrain(w, r, tok, false)
}

// setDrain records the drain intent of a node and the state that follows
// from it.
func (s *Server) setDrain(w http.ResponseWriter, r *http.Request, tok store.Token, drain bool) error {
	name := r.PathValue("name")
	kind := "undrain"
	if drain {
		kind = "drain"
	}
	for attempt := 0; ; attempt++ {
		n, err := s.store.Node(r.Context(), name)
		if errors.Is(err, store.ErrNotFound) {
			return errorf(http.StatusNotFound, "node %s is not registered", name)
		}
		if err != nil {
			return err
		}
		state := n.State
		switch {
		case state == store.NodeLost: // it comes back as the intent says
		case drain:
			state = store.NodeDraining
		default:
			state = store.NodeReady
		}
		if n.Drained == drain && n.State == state {
			writeJSON(w, http.StatusOK, n)
			return nil
		}
		n.State, n.Drained = state, drain
		now := s.clock.Now().UTC()
		c := store.Changes{Nodes: []store.Node{n},
			Events: []store.Event{{Time: now, Kind: kind, Node: name, Message: kind + "ed by " + string(tok.Role) + " token " + tok.ID}}}
		err = s.store.Apply(r.Context(), c)
		if errors.Is(err, store.ErrConflict) && attempt < 5 {
			continue
		}
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, c.Nodes[0])
		return nil
	}
}

// NodePath returns the API path of a node; its slashes are escaped.
func NodePath(name string) string { return "/v1/nodes/" + url.PathEscape(name) }

package server

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"

	"stargate/store"
)

func (s *Server) getNode(w http.ResponseWriter, r *http.Request, _ store.Token) error {
	name := r.PathValue("name")
	n, err := s.store.Node(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "node %s is not registered", name)
	}
	if err != nil {
		return err
	}
	running, err := s.store.Jobs(r.Context(), store.JobQuery{Node: name, States: []store.JobState{store.JobRunning}})
	if err != nil {
		return err
	}
	out := NodeDetail{NodeInfo: NodeInfo{Node: n}}
	for _, j := range running {
		for _, a := range j.Placement {
			if a.Node == name {
				out.Allocated += len(a.Accelerators)
			}
		}
	}
	if i, ok := s.nodeIx[name]; ok {
		out.Rack = s.fleet.RackPath(int(s.fleet.Nodes[i].Rack))
	}
	if t, ok := s.telemetry.get(name); ok {
		out.Telemetry = &t
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// Bounds of a node's free text: labels as Kubernetes bounds them.
const (
	maxLabels     = 64
	maxLabelKey   = 63
	maxLabelValue = 256
	maxAddress    = 256
)

// checkNodeText bounds a registration's address and labels.
func checkNodeText(reg NodeRegistration) []Problem {
	var ps []Problem
	if len(reg.Address) > maxAddress {
		ps = append(ps, Problem{Field: "address", Message: fmt.Sprintf("at most %d bytes", maxAddress)})
	}
	if len(reg.Labels) > maxLabels {
		ps = append(ps, Problem{Field: "labels", Message: fmt.Sprintf("at most %d labels", maxLabels)})
	}
	keys := make([]string, 0, len(reg.Labels))
	for k := range reg.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "" || len(k) > maxLabelKey || len(reg.Labels[k]) > maxLabelValue {
			ps = append(ps, Problem{Field: "labels", Message: fmt.Sprintf("label %.40q: a key of 1 to %d bytes, a value of at most %d", k, maxLabelKey, maxLabelValue)})
		}
	}
	return ps
}

// hardware describes the fleet's node i.
func (s *Server) hardware(i int) NodeHardware {
	m, a := s.fleet.NodeModel(i), s.fleet.NodeAccelerator(i)
	return NodeHardware{Model: m.Name, Accelerator: a.Name, Vendor: a.Vendor, Accelerators: m.Accelerators,
		TDPW: a.TDPW, IdleW: a.IdleW, MemoryGB: a.MemoryGB, OverheadW: m.OverheadW, OverheadIdleW: m.OverheadIdleW}
}

func (s *Server) registerNode(w http.ResponseWriter, r *http.Request, tok store.Token) error {
	body, err := readBody(w, r, s.cfg.MaxBody)
	if err != nil {
		return err
	}
	var reg NodeRegistration
	if ps := decodeStrict(body, &reg); len(ps) > 0 {
		return badRequest(ps)
	}
	if tok.Role == store.RoleAgent && !strings.HasPrefix(reg.Name, tok.NodePrefix) {
		return errorf(http.StatusForbidden, "this join token registers only nodes named %s…", tok.NodePrefix)
	}
	ps := append(checkNodeText(reg), badStrings(reflect.ValueOf(reg), "")...)
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
	// The credential is stored before the node: an agent that gets no
	// answer registers again, and that replaces it.
	secret, cred := s.newToken(store.RoleNode, "", "node credential")
	cred.Node = reg.Name
	if err := s.store.SetNodeToken(r.Context(), cred); err != nil {
		return fmt.Errorf("server: node credential: %w", err)
	}
	out, err := s.store.RegisterNode(r.Context(), n)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, NodeRegistered{Node: out, Credential: secret, Hardware: s.hardware(i)})
	return nil
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
		case state == store.NodeLost, state == store.NodeUnhealthy: // it comes back as the intent says
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

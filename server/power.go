package server

import (
	"context"
	"net/http"

	"stargate/fleet"
	"stargate/store"
)

// powerState is the draw at every level of the tree, by fleet index.
type powerState struct {
	site, hall, row, rack []float64
	nodes                 []int32   // live registered nodes per rack
	busy                  []int     // accelerators held by running jobs, per site
	contrib               []float64 // each node's part of the draw, or uncounted
	byState               map[store.NodeState]int
}

// measurePower computes the draw at every level from the registered nodes
// and the running jobs, as the store has them (powerNow keeps it).
func (s *Server) measurePower(ctx context.Context) (*powerState, error) {
	f := s.fleet
	nodes, err := s.store.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	running, err := s.store.Jobs(ctx, store.JobQuery{States: []store.JobState{store.JobRunning}})
	if err != nil {
		return nil, err
	}
	load := map[string]float64{} // accelerator-equivalents at full power, by node
	busy := make([]int, len(f.Sites))
	for _, j := range running {
		frac := j.Spec.Power
		if frac == 0 {
			frac = 1
		}
		for _, a := range j.Placement {
			load[a.Node] += float64(len(a.Accelerators)) * frac
			if i, ok := s.nodeIx[a.Node]; ok {
				busy[f.Path(i)[fleet.LevelSite]] += len(a.Accelerators)
			}
		}
	}
	ps := &powerState{site: make([]float64, len(f.Sites)), hall: make([]float64, len(f.Halls)),
		row: make([]float64, len(f.Rows)), rack: make([]float64, len(f.Racks)), nodes: make([]int32, len(f.Racks)),
		contrib: make([]float64, len(f.Nodes)), busy: busy}
	for i := range ps.contrib {
		ps.contrib[i] = uncounted
	}
	ps.byState = map[store.NodeState]int{store.NodeReady: 0, store.NodeDraining: 0, store.NodeLost: 0, store.NodeUnhealthy: 0}
	for _, n := range nodes {
		ps.byState[n.State]++
		i, ok := s.nodeIx[n.Name]
		if !ok || n.State == store.NodeLost {
			continue
		}
		draw := n.DrawW
		if draw < 0 {
			m, acc := f.NodeModel(i), f.NodeAccelerator(i)
			draw = m.DrawW(acc, min(1, load[n.Name]/float64(m.Accelerators)))
		}
		rack := f.Nodes[i].Rack
		ps.rack[rack] += draw
		ps.nodes[rack]++
		ps.contrib[i] = draw
	}
	for i, r := range f.Racks {
		ps.row[r.Parent] += ps.rack[i]
	}
	for i, r := range f.Rows {
		ps.hall[r.Parent] += ps.row[i]
	}
	for i, h := range f.Halls {
		ps.site[h.Parent] += ps.hall[i]
	}
	return ps, nil
}

var depthOf = map[string]fleet.Level{"site": fleet.LevelSite, "hall": fleet.LevelHall, "row": fleet.LevelRow, "rack": fleet.LevelRack}

func (s *Server) power(w http.ResponseWriter, r *http.Request, _ store.Token) error {
	q := r.URL.Query()
	depth := fleet.LevelRow
	var problems []Problem
	if d := q.Get("depth"); d != "" {
		l, ok := depthOf[d]
		if !ok {
			problems = append(problems, Problem{Field: "depth", Message: "must be site, hall, row or rack"})
		}
		depth = l
	}
	site := q.Get("site")
	if site != "" {
		found := false
		for _, st := range s.fleet.Sites {
			found = found || st.Name == site
		}
		if !found {
			problems = append(problems, Problem{Field: "site", Message: "no such site in the fleet"})
		}
	}
	problems = append(problems, unknownParams(q, "depth", "site")...)
	if len(problems) > 0 {
		return badRequest(problems)
	}
	ps, err := s.powerNow(r.Context())
	if err != nil {
		return err
	}
	f := s.fleet
	rep := PowerReport{Sites: []PowerDomain{}}
	for si := range f.Sites {
		st := &f.Sites[si]
		if site != "" && st.Name != site {
			continue
		}
		it := int64(float64(st.LimitW) / st.PUE)
		sd := PowerDomain{Level: "site", Name: st.Name, LimitW: st.LimitW, ITLimitW: it, PUE: st.PUE,
			DrawW: ps.site[si], HeadroomW: float64(it) - ps.site[si]}
		for hi := st.First; hi < st.End; hi++ {
			h := f.Halls[hi]
			hd := domain("hall", st.Name+"/"+h.Name, h.LimitW, ps.hall[hi])
			for ri := h.First; ri < h.End; ri++ {
				row := f.Rows[ri]
				rd := domain("row", hd.Name+"/"+row.Name, row.LimitW, ps.row[ri])
				for ki := row.First; ki < row.End; ki++ {
					kd := domain("rack", rd.Name+"/"+f.Racks[ki].Name, f.Racks[ki].LimitW, ps.rack[ki])
					kd.Nodes = int(ps.nodes[ki])
					rd.Nodes += kd.Nodes
					if depth >= fleet.LevelRack {
						rd.Children = append(rd.Children, kd)
					}
				}
				hd.Nodes += rd.Nodes
				if depth >= fleet.LevelRow {
					hd.Children = append(hd.Children, rd)
				}
			}
			sd.Nodes += hd.Nodes
			if depth >= fleet.LevelHall {
				sd.Children = append(sd.Children, hd)
			}
		}
		rep.Sites = append(rep.Sites, sd)
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func domain(level, name string, limit int64, draw float64) PowerDomain {
	return PowerDomain{Level: level, Name: name, LimitW: limit, DrawW: draw, HeadroomW: float64(limit) - draw}
}

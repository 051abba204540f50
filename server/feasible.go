package server

import (
	"fmt"
	"strings"

	"stargate/fleet"
	"stargate/store"
)

// A spec that no part of the fleet could ever hold (more accelerators of
// a model than one pool has, a required topology wider than its largest
// domain, ...) is refused at submit, naming the constraint, instead of
// pending for ever. As the engine places a job within one pool (the
// nodes of one model in one site), capacities are counted per pool once;
// a check costs a few lookups.

// capacity is what one pool holds: accelerators in all, accelerators per
// node, and its largest domain at each level.
type capacity struct {
	total                               int
	node, nvlink, rack, row, hall, site int
}

// best keeps, field by field, the larger of two pools' capacities: a job
// fits some pool only if it fits the best of each (and the check below
// then names what no pool offers).
func (c *capacity) best(o capacity) {
	c.total, c.node, c.nvlink = max(c.total, o.total), max(c.node, o.node), max(c.nvlink, o.nvlink)
	c.rack, c.row, c.hall, c.site = max(c.rack, o.rack), max(c.row, o.row), max(c.hall, o.hall), max(c.site, o.site)
}

// feasibility holds each pool's capacity: pools[node model][site].
type feasibility struct {
	fleet *fleet.Fleet
	pools [][]capacity
}

func newFeasibility(f *fleet.Fleet) *feasibility {
	fe := &feasibility{fleet: f, pools: make([][]capacity, len(f.Catalog.Nodes))}
	type dom struct {
		model uint16
		i     int32
	}
	racks, rows, halls := map[dom]int{}, map[dom]int{}, map[dom]int{}
	for m := range fe.pools {
		fe.pools[m] = make([]capacity, len(f.Sites))
	}
	for i := range f.Nodes {
		nd := &f.Nodes[i]
		n := f.Catalog.Nodes[nd.Model].Accelerators
		c := &fe.pools[nd.Model][f.SiteOfNode(i)]
		c.total += n
		c.node = max(c.node, n)
		path := f.Path(i)
		racks[dom{nd.Model, path[fleet.LevelRack]}] += n
		rows[dom{nd.Model, path[fleet.LevelRow]}] += n
		halls[dom{nd.Model, path[fleet.LevelHall]}] += n
	}
	for d, n := range racks {
		c := &fe.pools[d.model][f.Ancestor(fleet.LevelRack, d.i, fleet.LevelSite)]
		c.rack = max(c.rack, n)
	}
	for d, n := range rows {
		c := &fe.pools[d.model][f.Ancestor(fleet.LevelRow, d.i, fleet.LevelSite)]
		c.row = max(c.row, n)
	}
	for d, n := range halls {
		c := &fe.pools[d.model][f.Ancestor(fleet.LevelHall, d.i, fleet.LevelSite)]
		c.hall = max(c.hall, n)
	}
	// scale-up domains that span racks (supernodes, pods): the largest of
	// each model in each site
	spans := make([][]int, len(f.Catalog.Nodes))
	for m := range spans {
		spans[m] = make([]int, len(f.Sites))
	}
	for _, su := range f.ScaleUps {
		s := f.Ancestor(fleet.LevelRow, su.Row, fleet.LevelSite)
		spans[su.Model][s] = max(spans[su.Model][s], int(su.Accelerators))
	}
	for m := range fe.pools {
		model := &f.Catalog.Nodes[m]
		for s := range fe.pools[m] {
			c := &fe.pools[m][s]
			c.site = c.total
			switch {
			case model.SpansRacks():
				c.nvlink = spans[m][s]
			case model.NVLinkDomain == fleet.DomainRack:
				c.nvlink = c.rack
			default:
				c.nvlink = c.node
			}
		}
	}
	return fe
}

// check lists why no pool of the fleet could ever hold a spec whose
// fields are otherwise valid (model, site and region known).
func (fe *feasibility) check(sp *store.JobSpec) []Problem {
	f := fe.fleet
	want := -1
	where := ""
	if sp.Model != "" {
		want = f.Catalog.Accelerator(sp.Model)
		where = " of model " + sp.Model
	}
	var c capacity
	shapes := "" // the slice shapes of a model that took none of this size
	for m := range fe.pools {
		if want >= 0 && f.Catalog.NodeAccelerator(m) != want {
			continue
		}
		if model := &f.Catalog.Nodes[m]; fe.present(m) {
			if _, ok := model.SliceShape(sp.Accelerators); !ok {
				shapes = model.Name + " (" + strings.Join(model.SliceShapes, ", ") + ")"
				continue // pods take only slices of their shapes
			}
		}
		for s := range f.Sites {
			site := &f.Sites[s]
			if (sp.Site != "" && site.Name != sp.Site) || (sp.Region != "" && f.Regions[site.Region].Name != sp.Region) {
				continue
			}
			if fits(fe.pools[m][s], sp) {
				return nil
			}
			c.best(fe.pools[m][s])
		}
	}
	switch {
	case sp.Site != "":
		where += " in site " + sp.Site
	case sp.Region != "":
		where += " in region " + sp.Region
	}
	var ps []Problem
	bad := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if c.total == 0 && shapes != "" {
		bad("accelerators", "%s takes only slices of its shapes; %d accelerators is none of them", shapes, sp.Accelerators)
		return ps
	}
	if c.total < sp.Accelerators {
		bad("accelerators", "the largest pool (the nodes of one model in one site)%s has %d accelerators; the job asks %d, so it could never run", where, c.total, sp.Accelerators)
		return ps
	}
	if sp.PerNode > c.node {
		bad("per_node", "the largest node%s has %d accelerators; the job asks %d per node", where, c.node, sp.PerNode)
	}
	if sp.TopologyRequired && c.level(sp.Topology) < sp.Accelerators {
		bad("topology", "the largest %s domain%s holds %d accelerators; the job asks %d in one (topology_required)", sp.Topology, where, c.level(sp.Topology), sp.Accelerators)
	}
	if len(ps) == 0 { // each need is met by some pool, but none meets them all
		bad("", "no pool (the nodes of one model in one site)%s meets all of the job's needs at once: its size, per_node and topology", where)
	}
	return ps
}

// level is a capacity's largest domain at a topology level.
func (c capacity) level(topology string) int {
	return map[string]int{"node": c.node, "nvlink": c.nvlink, "rack": c.rack, "row": c.row, "hall": c.hall, "site": c.site}[topology]
}

// fits reports whether a spec fits a pool when the pool is empty.
func fits(c capacity, sp *store.JobSpec) bool {
	return c.total >= sp.Accelerators && sp.PerNode <= c.node && (!sp.TopologyRequired || c.level(sp.Topology) >= sp.Accelerators)
}

// present reports whether the fleet has nodes of node model m.
func (fe *feasibility) present(m int) bool {
	for _, c := range fe.pools[m] {
		if c.total > 0 {
			return true
		}
	}
	return false
}

package server

import (
	"fmt"

	"stargate/fleet"
	"stargate/store"
)

// A spec that no part of the fleet could ever hold (more accelerators of
// a model than a site has, a required topology wider than its largest
// domain, ...) is refused at submit, naming the constraint, instead of
// pending for ever. The fleet's capacities are counted once, per
// accelerator model and site; a check costs a few lookups.

// capacity is what part of a fleet holds of one accelerator model (or of
// any): accelerators in all, and the largest domain at each level.
type capacity struct {
	total                               int
	node, nvlink, rack, row, hall, site int
}

// merge adds another site's capacity: totals add, domains do not span
// sites, so the largest of each level is the larger.
func (c *capacity) merge(o capacity) {
	c.total += o.total
	c.node, c.nvlink, c.rack = max(c.node, o.node), max(c.nvlink, o.nvlink), max(c.rack, o.rack)
	c.row, c.hall, c.site = max(c.row, o.row), max(c.hall, o.hall), max(c.site, o.site)
}

// feasibility holds the capacities of a fleet by accelerator model and
// site: bySite[m+1][site], m = -1 for any model.
type feasibility struct {
	fleet  *fleet.Fleet
	bySite [][]capacity
}

func newFeasibility(f *fleet.Fleet) *feasibility {
	fe := &feasibility{fleet: f, bySite: make([][]capacity, len(f.Catalog.Accelerators)+1)}
	for m := -1; m < len(f.Catalog.Accelerators); m++ {
		racks := make([]int, len(f.Racks))
		nvlink := make([]int, len(f.Racks)) // rack-wide NVLink domains
		caps := make([]capacity, len(f.Sites))
		for i := range f.Nodes {
			model := int(f.Nodes[i].Model)
			if m >= 0 && f.Catalog.NodeAccelerator(model) != m {
				continue
			}
			nm := &f.Catalog.Nodes[model]
			n := nm.Accelerators
			c := &caps[f.SiteOfNode(i)]
			c.total += n
			c.node = max(c.node, n)
			if nm.NVLinkDomain == "rack" {
				nvlink[f.Nodes[i].Rack] += n
				if nm.NVLinkSize > 0 {
					nvlink[f.Nodes[i].Rack] = min(nvlink[f.Nodes[i].Rack], nm.NVLinkSize)
				}
			} else {
				c.nvlink = max(c.nvlink, n)
			}
			racks[f.Nodes[i].Rack] += n
		}
		rows := make([]int, len(f.Rows))
		for r, n := range racks {
			site := f.Halls[f.Rows[f.Racks[r].Parent].Parent].Parent
			caps[site].rack = max(caps[site].rack, n)
			caps[site].nvlink = max(caps[site].nvlink, nvlink[r])
			rows[f.Racks[r].Parent] += n
		}
		halls := make([]int, len(f.Halls))
		for r, n := range rows {
			site := f.Halls[f.Rows[r].Parent].Parent
			caps[site].row = max(caps[site].row, n)
			halls[f.Rows[r].Parent] += n
		}
		for h, n := range halls {
			site := f.Halls[h].Parent
			caps[site].hall = max(caps[site].hall, n)
		}
		for s := range caps {
			caps[s].site = caps[s].total
		}
		fe.bySite[m+1] = caps
	}
	return fe
}

// check lists why no part of the fleet could ever hold a spec whose
// fields are otherwise valid (model, site and region known).
func (fe *feasibility) check(sp *store.JobSpec) []Problem {
	f := fe.fleet
	m := -1
	where := ""
	if sp.Model != "" {
		m = f.Catalog.Accelerator(sp.Model)
		where = " of model " + sp.Model
	}
	var c capacity
	for s := range f.Sites {
		site := &f.Sites[s]
		switch {
		case sp.Site != "" && site.Name != sp.Site:
			continue
		case sp.Region != "" && f.Regions[site.Region].Name != sp.Region:
			continue
		}
		c.merge(fe.bySite[m+1][s])
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
	if c.total < sp.Accelerators {
		bad("accelerators", "the fleet has %d accelerators%s; the job asks %d, so it could never run", c.total, where, sp.Accelerators)
		return ps
	}
	if sp.PerNode > c.node {
		bad("per_node", "the largest node%s has %d accelerators; the job asks %d per node", where, c.node, sp.PerNode)
	}
	if sp.TopologyRequired {
		largest := map[string]int{"node": c.node, "nvlink": c.nvlink, "rack": c.rack, "row": c.row, "hall": c.hall, "site": c.site}[sp.Topology]
		if largest < sp.Accelerators {
			bad("topology", "the largest %s domain%s holds %d accelerators; the job asks %d in one (topology_required)", sp.Topology, where, largest, sp.Accelerators)
		}
	}
	return ps
}

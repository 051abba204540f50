package server

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"stargate/examples"
	"stargate/fleet"
	"stargate/store"
)

// A job no part of the fleet could ever hold is a 400 naming the
// constraint; one that fits is taken.
func TestInfeasibleJobsRefused(t *testing.T) {
	h := newHarness(t, nil) // the small fleet: racks of 4 DGX H100, 32 GPUs
	for spec, field := range map[string]string{
		`{"accelerators":64,"topology":"rack","topology_required":true}`: "topology",
		`{"accelerators":16,"topology":"node","topology_required":true}`: "topology",
		`{"accelerators":8,"model":"b200"}`:                              "accelerators",
		`{"accelerators":16,"per_node":16}`:                              "per_node",
		`{"accelerators":128,"topology":"row","topology_required":true}`: "topology",
	} {
		r := h.do("acme", "POST", "/v1/jobs", spec)
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), `"field":"`+field+`"`) {
			t.Errorf("%s: %d %s, want 400 on %s", spec, r.status, r.body, field)
		}
	}
	for _, spec := range []string{
		`{"accelerators":32,"topology":"rack","topology_required":true}`,
		`{"accelerators":64,"topology":"row","topology_required":true}`,
		`{"accelerators":128,"topology":"hall","topology_required":true}`,
		`{"accelerators":64,"topology":"rack"}`, // preferred, not required
		`{"accelerators":8,"model":"h100","per_node":8}`,
	} {
		h.submit("acme", spec)
	}
}

// The verdict agrees with a recount from the node list, by name, on a
// fleet of several sites, regions and models.
func TestFeasibilityAgreesWithARecount(t *testing.T) {
	r, err := examples.Open("stargate")
	if err != nil {
		t.Fatal(err)
	}
	f, err := fleet.Parse(r.(io.Reader))
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	fe := newFeasibility(f)
	models := []string{""}
	for _, a := range f.Catalog.Accelerators {
		models = append(models, a.Name)
	}
	topos := []string{"node", "nvlink", "rack", "row", "hall", "site"}
	nodes := recountNodes(f)
	rapid.Check(t, func(t *rapid.T) {
		sp := store.JobSpec{
			Accelerators:     rapid.IntRange(1, 200_000).Draw(t, "accelerators"),
			Model:            rapid.SampledFrom(models).Draw(t, "model"),
			Topology:         rapid.SampledFrom(topos).Draw(t, "topology"),
			TopologyRequired: rapid.Bool().Draw(t, "required"),
		}
		switch rapid.IntRange(0, 2).Draw(t, "size") {
		case 1:
			sp.Accelerators = rapid.IntRange(1, 200).Draw(t, "accelerators small")
		case 2: // near a domain's size, where off-by-one and sum-for-max bugs show
			base := rapid.SampledFrom([]int{8, 32, 64, 72, 128, 144, 256, 288, 512, 1024}).Draw(t, "base")
			sp.Accelerators = base + rapid.IntRange(-1, 1).Draw(t, "delta")
		}
		switch rapid.IntRange(0, 2).Draw(t, "where") {
		case 1:
			sp.Site = f.Sites[rapid.IntRange(0, len(f.Sites)-1).Draw(t, "site")].Name
		case 2:
			sp.Region = f.Regions[rapid.IntRange(0, len(f.Regions)-1).Draw(t, "region")].Name
		}
		if rapid.Bool().Draw(t, "per node") {
			sp.PerNode = rapid.SampledFrom([]int{1, 4, 8, 16}).Draw(t, "per_node")
		}
		got := len(fe.check(&sp)) == 0
		want := recountFits(f, nodes, sp)
		if got != want {
			t.Fatalf("%+v: feasible %v, the recount says %v (%v)", sp, got, want, fe.check(&sp))
		}
	})
}

// node is what the recount knows of a node, from its name and models.
type recountNode struct {
	model, site, region string
	accelerators        int
	rackNVLink          bool
	domains             map[string]string // level -> the name of its domain
}

func recountNodes(f *fleet.Fleet) []recountNode {
	out := make([]recountNode, len(f.Nodes))
	for i := range f.Nodes {
		site := &f.Sites[f.SiteOfNode(i)]
		name := f.NodeName(i)
		parts := strings.Split(name, "/") // site/hall/row/rack/nN
		m := f.NodeModel(i)
		out[i] = recountNode{model: f.NodeAccelerator(i).Name, site: site.Name, region: f.Regions[site.Region].Name,
			accelerators: m.Accelerators, rackNVLink: m.NVLinkDomain == "rack",
			domains: map[string]string{"site": parts[0], "hall": strings.Join(parts[:2], "/"),
				"row": strings.Join(parts[:3], "/"), "rack": strings.Join(parts[:4], "/"), "node": name}}
	}
	return out
}

// recountFits decides from the node list alone, grouping by the names'
// prefixes, whether some part of the fleet could hold a spec.
func recountFits(f *fleet.Fleet, nodes []recountNode, sp store.JobSpec) bool {
	sums := map[string]int{} // level and domain name -> accelerators
	largestNode, total := 0, 0
	for _, nd := range nodes {
		if (sp.Model != "" && nd.model != sp.Model) || (sp.Site != "" && nd.site != sp.Site) || (sp.Region != "" && nd.region != sp.Region) {
			continue
		}
		total += nd.accelerators
		largestNode = max(largestNode, nd.accelerators)
		if !sp.TopologyRequired {
			continue
		}
		if sp.Topology == "nvlink" {
			if nd.rackNVLink {
				sums[nd.domains["rack"]] += nd.accelerators
			} else {
				sums[nd.domains["node"]] += nd.accelerators
			}
			continue
		}
		sums[nd.domains[sp.Topology]] += nd.accelerators
	}
	if total < sp.Accelerators || sp.PerNode > largestNode {
		return false
	}
	if !sp.TopologyRequired {
		return true
	}
	for _, n := range sums {
		if sp.Topology == "nvlink" {
			n = min(n, nvlinkCap(f, sp.Model))
		}
		if n >= sp.Accelerators {
			return true
		}
	}
	return false
}

// nvlinkCap is the largest NVLink domain of the catalog's rack-scale
// models (of one accelerator model, or any).
func nvlinkCap(f *fleet.Fleet, model string) int {
	c := 0
	for i := range f.Catalog.Nodes {
		m := &f.Catalog.Nodes[i]
		if model != "" && f.Catalog.Accelerators[f.Catalog.NodeAccelerator(i)].Name != model {
			continue
		}
		if m.NVLinkDomain == "rack" {
			c = max(c, m.NVLinkSize)
		} else {
			c = max(c, m.Accelerators)
		}
	}
	return c
}

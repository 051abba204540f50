package server

import (
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
	f, err := examples.Fleet("stargate")
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
	// Pools do not add up: one more accelerator than the largest pool of
	// a model holds is refused, though the fleet has more of them.
	for _, a := range f.Catalog.Accelerators {
		largest := 0
		for m := range fe.pools {
			if f.Catalog.Accelerators[f.Catalog.NodeAccelerator(m)].Name == a.Name {
				for _, c := range fe.pools[m] {
					largest = max(largest, c.total)
				}
			}
		}
		if largest == 0 {
			continue
		}
		if ps := fe.check(&store.JobSpec{Accelerators: largest, Model: a.Name}); len(ps) > 0 {
			t.Errorf("%d %s, the largest pool: %v", largest, a.Name, ps)
		}
		if ps := fe.check(&store.JobSpec{Accelerators: largest + 1, Model: a.Name}); len(ps) == 0 {
			t.Errorf("%d %s, one more than the largest pool, was accepted", largest+1, a.Name)
		}
	}
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
		want := recountFits(nodes, sp)
		if got != want {
			t.Fatalf("%+v: feasible %v, the recount says %v (%v)", sp, got, want, fe.check(&sp))
		}
	})
}

// recountNode is what the recount knows of a node, from its name and
// models.
type recountNode struct {
	model, nodeModel, site, region string
	accelerators                   int
	rackNVLink                     bool
	domains                        map[string]string // level -> the name of its domain
}

func recountNodes(f *fleet.Fleet) []recountNode {
	out := make([]recountNode, len(f.Nodes))
	for i := range f.Nodes {
		site := &f.Sites[f.SiteOfNode(i)]
		name := f.NodeName(i)
		parts := strings.Split(name, "/") // site/hall/row/rack/nN
		m := f.NodeModel(i)
		out[i] = recountNode{model: f.NodeAccelerator(i).Name, nodeModel: m.Name, site: site.Name, region: f.Regions[site.Region].Name,
			accelerators: m.Accelerators, rackNVLink: m.NVLinkDomain == "rack",
			domains: map[string]string{"site": parts[0], "hall": strings.Join(parts[:2], "/"),
				"row": strings.Join(parts[:3], "/"), "rack": strings.Join(parts[:4], "/"), "node": name}}
	}
	return out
}

// recountFits decides from the node list alone whether one pool (the
// nodes of one model in one site, as the engine places a job) could hold
// a spec, grouping domains by the names' prefixes.
func recountFits(nodes []recountNode, sp store.JobSpec) bool {
	type pool struct{ site, model string }
	total, largestNode := map[pool]int{}, map[pool]int{}
	sums := map[pool]map[string]int{} // domain name -> accelerators
	for _, nd := range nodes {
		if (sp.Model != "" && nd.model != sp.Model) || (sp.Site != "" && nd.site != sp.Site) || (sp.Region != "" && nd.region != sp.Region) {
			continue
		}
		p := pool{nd.site, nd.nodeModel}
		total[p] += nd.accelerators
		largestNode[p] = max(largestNode[p], nd.accelerators)
		if sums[p] == nil {
			sums[p] = map[string]int{}
		}
		level := sp.Topology
		if level == "nvlink" {
			level = "node"
			if nd.rackNVLink {
				level = "rack"
			}
		}
		sums[p][nd.domains[level]] += nd.accelerators
	}
	for p, t := range total {
		if t < sp.Accelerators || sp.PerNode > largestNode[p] {
			continue
		}
		if !sp.TopologyRequired {
			return true
		}
		for _, n := range sums[p] {
			if n >= sp.Accelerators {
				return true
			}
		}
	}
	return false
}

// A scale-up domain that spans racks (a CloudMatrix supernode) holds an
// NVLink-required gang as large as itself, and no larger.
func TestFeasibilityOfSupernodes(t *testing.T) {
	f, err := examples.Fleet("sovereign")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(c *Config) { c.Fleet = f })
	h.submit("acme", `{"accelerators":256,"model":"ascend-910c","topology":"nvlink","topology_required":true}`)
	h.submit("acme", `{"accelerators":384,"model":"ascend-910c","topology":"nvlink","topology_required":true}`)
	// a TPU pod takes only slices of its shapes: 1 chip is none of them
	if r := h.do("acme", "POST", "/v1/jobs", `{"accelerators":1,"model":"tpu-v5p"}`); r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "2x2x1") {
		t.Errorf("one TPU v5p chip: %d %s", r.status, r.body)
	}
	h.submit("acme", `{"accelerators":4,"model":"tpu-v5p"}`)
	r := h.do("acme", "POST", "/v1/jobs", `{"accelerators":392,"model":"ascend-910c","topology":"nvlink","topology_required":true}`)
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), `"field":"topology"`) {
		t.Errorf("a gang larger than a supernode: %d %s", r.status, r.body)
	}
}

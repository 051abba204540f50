package fleet_test

import (
	"fmt"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	"pgregory.net/rapid"

	"stargate/fleet"
)

// genModels are the node models random trees draw from, with their
// accelerators and the accelerators' power at TDP.
var genModels = []struct {
	name   string
	accels int
	w      float64
}{
	{"dgx-h100", 8, 8 * 700},
	{"h200", 8, 8 * 700},
	{"b200", 8, 8 * 1000},
	{"gb200", 4, 4 * 1200},
	{"mi300x", 8, 8 * 750},
}

// templateRack is the rack template every random file defines.
const templateRack = 2 * 8 // 2 DGX H100

// genItems draws the items of one level: each named (with a base unique
// among its siblings) or unnamed, with an optional count. It returns the
// YAML items and, through child, the accelerators and power of one copy.
func genItems(t *rapid.T, label string, max int, child func(i int) (map[string]any, int, float64)) ([]any, int, float64) {
	n := rapid.IntRange(0, max).Draw(t, label+"s")
	var items []any
	accels, watts := 0, 0.0
	for i := range n {
		item, a, w := child(i)
		count := 1
		if rapid.Bool().Draw(t, label+" counted") {
			count = rapid.IntRange(1, 3).Draw(t, label+" count")
			item["count"] = count
		}
		if rapid.Bool().Draw(t, label+" named") {
			item["name"] = fmt.Sprintf("%s%d", label[:1], i)
		}
		items = append(items, item)
		accels += a * count
		watts += w * float64(count)
	}
	return items, accels, watts
}

// limitKW returns a limit that the given accelerator power fits, exactly
// or with room to spare.
func limitKW(t *rapid.T, label string, w float64) float64 {
	kw := w / 1e3 * rapid.SampledFrom([]float64{1, 1, 1.5, 4}).Draw(t, label+" headroom")
	return max(kw, 1)
}

type genFleet struct {
	doc    map[string]any
	sites  []int // accelerators by site
	total  int
	oversb float64
}

func drawFleet(t *rapid.T) genFleet {
	g := genFleet{oversb: rapid.SampledFrom([]float64{1, 1.25}).Draw(t, "oversubscription")}
	rack := func(int) (map[string]any, int, float64) {
		if rapid.Bool().Draw(t, "from template") {
			m := map[string]any{"template": "t"}
			if rapid.Bool().Draw(t, "override limit") {
				m["limit_kw"] = 200
			}
			return m, templateRack, templateRack * 700
		}
		groups := rapid.IntRange(0, 3).Draw(t, "node groups")
		var nodes []any
		a, w := 0, 0.0
		for range groups {
			m := genModels[rapid.IntRange(0, len(genModels)-1).Draw(t, "model")]
			c := rapid.IntRange(1, 4).Draw(t, "nodes")
			nodes = append(nodes, map[string]any{"model": m.name, "count": c})
			a += m.accels * c
			w += m.w * float64(c)
		}
		item := map[string]any{"limit_kw": limitKW(t, "rack", w/g.oversb)}
		if nodes != nil {
			item["nodes"] = nodes
		}
		return item, a, w
	}
	row := func(int) (map[string]any, int, float64) {
		racks, a, w := genItems(t, "rack", 3, rack)
		return map[string]any{"limit_kw": limitKW(t, "row", w/g.oversb), "racks": racks}, a, w
	}
	hall := func(int) (map[string]any, int, float64) {
		rows, a, w := genItems(t, "row", 3, row)
		return map[string]any{"limit_kw": limitKW(t, "hall", w/g.oversb), "rows": rows}, a, w
	}
	var regions []any
	for r := range rapid.IntRange(1, 3).Draw(t, "regions") {
		var sites []any
		for s := range rapid.IntRange(1, 2).Draw(t, "sites") {
			halls, a, w := genItems(t, "hall", 3, hall)
			pue := rapid.SampledFrom([]float64{1.1, 1.25, 1.5}).Draw(t, "pue")
			sites = append(sites, map[string]any{
				"name":          fmt.Sprintf("s%d-%d", r, s),
				"substation_mw": max(w/g.oversb*pue/1e6*2, 0.5),
				"pue":           pue,
				"energy":        []any{map[string]any{"source": "nuclear", "share": 1}},
				"halls":         halls,
			})
			g.sites = append(g.sites, a)
			g.total += a
		}
		regions = append(regions, map[string]any{"name": fmt.Sprintf("r%d", r), "sites": sites})
	}
	g.doc = map[string]any{
		"oversubscription": g.oversb,
		"templates": map[string]any{"racks": map[string]any{"t": map[string]any{
			"limit_kw": 20, "nodes": []any{map[string]any{"model": "dgx-h100", "count": 2}}}}},
		"regions": regions,
	}
	return g
}

// TestRandomFleets writes random valid trees as YAML, loads them, and
// checks the expanded Fleet's invariants and accelerator totals.
func TestRandomFleets(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		g := drawFleet(t)
		src, err := yaml.Marshal(g.doc)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		f, err := fleet.Parse(strings.NewReader(string(src)))
		if err != nil {
			t.Fatalf("Parse: %v\n%s", err, src)
		}
		checkInvariants(t, f)
		if f.Accelerators != g.total || len(f.Sites) != len(g.sites) {
			t.Fatalf("%d accelerators in %d sites, want %d in %d\n%s", f.Accelerators, len(f.Sites), g.total, len(g.sites), src)
		}
		for i, want := range g.sites {
			if got := int(f.Sites[i].Accelerators); got != want {
				t.Fatalf("site %d: %d accelerators, want %d\n%s", i, got, want, src)
			}
		}
		// Every node lies in the site its rack belongs to, and the
		// accelerator numbering of the node level agrees with the sites'.
		for i := range f.Nodes {
			s := f.Sites[f.SiteOfNode(i)]
			if a := f.Nodes[i].FirstAccel; a < s.FirstAccel || a >= s.FirstAccel+s.Accelerators {
				t.Fatalf("node %d (accelerator %d) outside its site %s", i, a, s.Name)
			}
		}
	})
}

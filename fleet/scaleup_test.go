package fleet_test

import (
	"errors"
	"strings"
	"testing"

	"stargate/fleet"
)

// supernodes is a site with one row of CloudMatrix 384 racks (4 nodes, 32
// NPUs each): 24 racks, two supernodes of 384, with a rack of DGX H100
// among them, and a second row of DGX H100 only.
const supernodes = `regions:
  - name: r
    sites:
      - name: s
        substation_mw: 3
        pue: 1.25
        energy:
          - source: nuclear
            share: 1
        halls:
          - name: hall
            limit_kw: 2000
            rows:
              - name: sn
                limit_kw: 1500
                racks:
                  - name: cm
                    count: 6
                    limit_kw: 50
                    nodes:
                      - model: cloudmatrix-384
                        count: 4
                  - name: other
                    limit_kw: 50
                    nodes:
                      - model: dgx-h100
                        count: 4
                  - name: cm-b
                    count: 18
                    limit_kw: 50
                    nodes:
                      - model: cloudmatrix-384
                        count: 4
              - name: gpu
                limit_kw: 100
                racks:
                  - name: rack
                    limit_kw: 50
                    nodes:
                      - model: dgx-h100
                        count: 4
`

func TestScaleUpDomains(t *testing.T) {
	f := mustParse(t, supernodes)
	if len(f.ScaleUps) != 2 {
		t.Fatalf("%d scale-up domains, want 2: %+v", len(f.ScaleUps), f.ScaleUps)
	}
	// racks: cm-1..6 (0-5), other (6), cm-b-1..18 (7-24); 12 racks a supernode
	for i, want := range []struct {
		name        string
		first, end  int32
		path        string
		firstNode   int
		otherInside bool
	}{
		{"supernode-1", 0, 13, "s/hall/sn/supernode-1", 0, true},
		{"supernode-2", 13, 25, "s/hall/sn/supernode-2", 52, false},
	} {
		su := f.ScaleUps[i]
		if su.Name != want.name || su.FirstRack != want.first || su.EndRack != want.end || su.Accelerators != 384 ||
			f.ScaleUpPath(i) != want.path || f.Catalog.Nodes[su.Model].Name != "cloudmatrix-384" || f.Rows[su.Row].Name != "sn" {
			t.Errorf("ScaleUps[%d] = %+v (%s), want %+v", i, su, f.ScaleUpPath(i), want)
		}
	}
	// Recount: every CloudMatrix node lies in the domain whose racks hold
	// it, each domain holds 48 of them, every other node in none.
	per := map[int]int{}
	for n := range f.Nodes {
		su := f.ScaleUpOf(n)
		if f.NodeModel(n).Name != "cloudmatrix-384" {
			if su != -1 {
				t.Errorf("node %s (%s) in scale-up domain %d", f.NodeName(n), f.NodeModel(n).Name, su)
			}
			continue
		}
		if su < 0 || f.Nodes[n].Rack < f.ScaleUps[su].FirstRack || f.Nodes[n].Rack >= f.ScaleUps[su].EndRack {
			t.Fatalf("node %s in domain %d", f.NodeName(n), su)
		}
		per[su]++
	}
	if per[0] != 48 || per[1] != 48 {
		t.Errorf("nodes per supernode %v, want 48 each", per)
	}
	plain := mustParse(t, base)
	if len(plain.ScaleUps) != 0 || plain.ScaleUpOf(0) != -1 {
		t.Errorf("a fleet without supernodes has %d, node 0 in %d", len(plain.ScaleUps), plain.ScaleUpOf(0))
	}
}

// A Trn2 UltraServer is 4 servers of 16; at 2 a rack it takes 2 racks.
func TestScaleUpUltraServer(t *testing.T) {
	src := edit(t, base, "model: dgx-h100\n                        count: 4", "model: trainium2\n                        count: 2")
	src = edit(t, src, "                  - name: rack\n", "                  - name: rack\n                    count: 4\n")
	src = edit(t, src, "limit_kw: 42", "limit_kw: 30")
	f := mustParse(t, src)
	if len(f.ScaleUps) != 2 || f.ScaleUps[0].FirstRack != 0 || f.ScaleUps[0].EndRack != 2 || f.ScaleUps[1].Name != "ultraserver-2" || f.ScaleUps[1].Accelerators != 64 {
		t.Errorf("ScaleUps = %+v", f.ScaleUps)
	}
}

func TestScaleUpProblems(t *testing.T) {
	for _, tc := range []struct {
		name, old, new, path, msg string
	}{
		{"a rack straddles two supernodes", "name: cm-b\n                    count: 18\n                    limit_kw: 50\n                    nodes:\n                      - model: cloudmatrix-384\n                        count: 4",
			"name: cm-b\n                    count: 18\n                    limit_kw: 50\n                    nodes:\n                      - model: cloudmatrix-384\n                        count: 5",
			"regions[0].sites[0].halls[0].rows[0].racks[2]", "straddles two supernodes of cloudmatrix-384"},
		{"the row ends part-way through a supernode", "count: 18", "count: 17",
			"regions[0].sites[0].halls[0].rows[0].racks", "the row's last supernode of cloudmatrix-384 holds 352 accelerators, not 384"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es := parseErrs(t, edit(t, supernodes, tc.old, tc.new))
			found := false
			for _, e := range es {
				if e.Path == tc.path && strings.Contains(e.Msg, tc.msg) && errors.Is(e, fleet.ErrRange) {
					found = true
				}
			}
			if !found {
				t.Errorf("want %s: %s..., got %v", tc.path, tc.msg, es)
			}
		})
	}
	catalog := "catalog:\n  nodes:\n    - name: box\n      accelerator: h100\n      accelerators: 4\n      overhead_w: 1000\n      NVL\nregions:"
	for _, tc := range []struct{ spec, path, msg string }{
		{"nvlink_domain: Super Node\n      nvlink_size: 8", "catalog.nodes[0].nvlink_domain", "must be node, rack or the name of a group of racks"},
		{"nvlink_domain: pod\n      nvlink_size: 10", "catalog.nodes[0].nvlink_size", "a pod spans whole nodes: must be a multiple of accelerators (4), got 10"},
		{"nvlink_domain: pod\n      nvlink_size: 0", "catalog.nodes[0].nvlink_size", "a pod spans whole nodes"},
		{"nvlink_domain: pod\n      nvlink_size: 16\n      slice_shapes: [2x2, 4x0]", "catalog.nodes[0].slice_shapes[1]", `slice shape "4x0"`},
		{"nvlink_domain: pod\n      nvlink_size: 16\n      slice_shapes: [2x2, 4x8]", "catalog.nodes[0].slice_shapes[1]", "slice 4x8 of 32 accelerators is larger than the scale-up domain (16)"},
	} {
		es := parseErrs(t, edit(t, base, "regions:", strings.Replace(catalog, "NVL", tc.spec, 1)))
		if len(es) != 1 || es[0].Path != tc.path || !strings.Contains(es[0].Msg, tc.msg) {
			t.Errorf("%s: got %v, want %s: %s", tc.spec, es, tc.path, tc.msg)
		}
	}
	// A file's own pod model loads and groups its racks.
	src := edit(t, base, "regions:", strings.Replace(catalog, "NVL", "nvlink_domain: pod\n      nvlink_size: 16\n      slice_shapes: [2x2, 4x4]", 1))
	src = edit(t, src, "model: dgx-h100", "model: box")
	f := mustParse(t, src)
	if len(f.ScaleUps) != 1 || f.ScaleUps[0].Name != "pod-1" || f.ScaleUps[0].Accelerators != 16 {
		t.Errorf("ScaleUps = %+v", f.ScaleUps)
	}
}

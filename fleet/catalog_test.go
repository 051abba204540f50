package fleet_test

import (
	"math"
	"strings"
	"testing"

	"stargate/fleet"
)

func TestNodeFor(t *testing.T) {
	c := fleet.DefaultCatalog()
	for _, tc := range []struct{ name, node string }{
		{"h100", "dgx-h100"},
		{"H100", "dgx-h100"},
		{"h100-sxm", "dgx-h100"},
		{"dgx-h100", "dgx-h100"},
		{"DGX-H100", "dgx-h100"},
		{"h200", "dgx-h200"},
		{"a100", "dgx-a100"},
		{"b200", "dgx-b200"},
		{"gb200", "gb200-nvl72-tray"},
		{"gb200-nvl72", "gb200-nvl72-tray"},
		{"GB200-NVL72", "gb200-nvl72-tray"},
		{"mi300x", "mi300x-oam8"},
		{"mi300x-oam8", "mi300x-oam8"},
		{"tpu-v5", ""},
		{"", ""},
	} {
		i := c.NodeFor(tc.name)
		got := ""
		if i >= 0 {
			got = c.Nodes[i].Name
		}
		if got != tc.node {
			t.Errorf("NodeFor(%q) = %q, want %q", tc.name, got, tc.node)
		}
	}
	if i := c.Accelerator("gb200-nvl72"); i < 0 || c.Accelerators[i].Name != "gb200" {
		t.Errorf("Accelerator(gb200-nvl72) = %d", i)
	}
	if c.Node("h100") != -1 {
		t.Errorf("Node(h100) resolves an accelerator alias; only NodeFor should")
	}
}

// WhyNoNode tells an unknown name from an accelerator that is known but has
// no node model to build with.
func TestWhyNoNode(t *testing.T) {
	c := fleet.DefaultCatalog()
	if got := c.WhyNoNode("h100"); got != "" {
		t.Errorf("WhyNoNode(h100) = %q, want none", got)
	}
	if got := c.WhyNoNode("tpu9"); !strings.HasPrefix(got, `unknown node model or accelerator "tpu9" (accelerators: a100-sxm, `) {
		t.Errorf("WhyNoNode(tpu9) = %q", got)
	}
	i := c.Accelerator("b200")
	c.Accelerators[i].Node = ""
	if got, want := c.WhyNoNode("b200"), `accelerator "b200" is in the catalog but has no node model`; !strings.HasPrefix(got, want) {
		t.Errorf("WhyNoNode(b200) = %q, want %q...", got, want)
	}
	c.Accelerators[i].Node = "dgx-b900"
	if got, want := c.WhyNoNode("b200"), `accelerator "b200" names node model "dgx-b900", which is not in the catalog`; !strings.HasPrefix(got, want) {
		t.Errorf("WhyNoNode(b200) = %q, want %q...", got, want)
	}
}

// rated is each built-in node model's rated power in watts as its source
// gives it (a datasheet's system rating, or a rack's or whole system's
// rating shared among its nodes), written down apart from the parts
// (accelerators at TDP plus overhead) that the catalog adds up.
var rated = map[string]float64{
	"dgx-a100":         6_500,
	"dgx-h100":         10_200,
	"dgx-h200":         10_200,
	"dgx-b200":         14_300,
	"gb200-nvl72-tray": 131_994.0 / 18, // a ~132 kW NVL72 rack of 18 trays
	"mi300x-oam8":      10_000,
	"gb300-nvl72-tray": 140_000.0 / 18, // a ~140 kW NVL72 rack of 18 trays
	"dgx-b300":         14_500,
	"mi325x-oam8":      12_000,
	"mi355x-oam8":      15_200,
	"cloudmatrix-384":  559_000.0 / 48, // the 559 kW system of 48 nodes
	"kunlun-p800-oam8": 7_500,
	"trn2-48xlarge":    12_000,
	"tpu-v5p-host":     3_000,
	"tpu-v6e-host":     4_700,
}

// TestCatalogTable checks every built-in entry: its node's rated power
// equals its parts (and the figure its source gives), idle is below
// rated, the source is given and marks what it estimates, the scale-up
// domain and slice shapes are well formed, and every name and alias
// resolves to its own entry and to no other.
func TestCatalogTable(t *testing.T) {
	c := fleet.DefaultCatalog()
	for _, m := range c.Nodes {
		t.Run(m.Name, func(t *testing.T) {
			a := c.Accelerator(m.Accelerator)
			if a < 0 {
				t.Fatalf("unknown accelerator %q", m.Accelerator)
			}
			acc := &c.Accelerators[a]
			want, ok := rated[m.Name]
			if !ok {
				t.Fatalf("no rated power written down for %s: add its source's figure to rated", m.Name)
			}
			parts := float64(m.Accelerators)*acc.TDPW + m.OverheadW
			if got := m.MaxW(acc); got != parts || math.Abs(got-want) > 1 {
				t.Errorf("rated %g W, parts %d×%g W + %g W = %g W, source %g W", got, m.Accelerators, acc.TDPW, m.OverheadW, parts, want)
			}
			if m.IdleW(acc) <= 0 || m.IdleW(acc) >= m.MaxW(acc) || m.OverheadIdleW > m.OverheadW {
				t.Errorf("idle %g W (overhead %g of %g W), rated %g W", m.IdleW(acc), m.OverheadIdleW, m.OverheadW, m.MaxW(acc))
			}
			if m.DrawW(acc, 0) != m.IdleW(acc) || m.DrawW(acc, 1) != m.MaxW(acc) {
				t.Errorf("draw(0) %g, draw(1) %g", m.DrawW(acc, 0), m.DrawW(acc, 1))
			}
			if strings.TrimSpace(m.Source) == "" {
				t.Error("no source")
			}
			if m.NVLinkSize < m.Accelerators || m.NVLinkSize%m.Accelerators != 0 {
				t.Errorf("scale-up domain of %d accelerators is not whole nodes of %d", m.NVLinkSize, m.Accelerators)
			}
			if m.NVLinkDomain == fleet.DomainNode && m.NVLinkSize != m.Accelerators {
				t.Errorf("node-wide scale-up domain of %d, node of %d", m.NVLinkSize, m.Accelerators)
			}
			for _, sh := range m.SliceShapes {
				v, err := fleet.ShapeVolume(sh)
				if err != nil || v > m.NVLinkSize {
					t.Errorf("slice shape %q: volume %d, %v (scale-up domain %d)", sh, v, err, m.NVLinkSize)
				}
			}
			if c.NodeFor(m.Name) < 0 || c.Nodes[c.NodeFor(m.Name)].Name != m.Name {
				t.Errorf("NodeFor(%s) does not find it", m.Name)
			}
		})
	}
	owner := map[string]string{} // every name and alias, lower case → its accelerator
	for _, m := range c.Nodes {
		owner[strings.ToLower(m.Name)] = "node " + m.Name
	}
	for _, a := range c.Accelerators {
		t.Run(a.Name, func(t *testing.T) {
			if strings.TrimSpace(a.Source) == "" || a.Vendor == "" || a.TDPW <= 0 || a.IdleW <= 0 || a.IdleW >= a.TDPW || a.MemoryGB <= 0 {
				t.Errorf("accelerator %+v", a)
			}
			// what the source does not give is said to be estimated
			if !strings.Contains(a.Source, "estimate") {
				t.Errorf("source %q marks no estimate (every entry estimates at least its idle draw)", a.Source)
			}
			n := c.NodeFor(a.Name)
			if n < 0 || c.Nodes[n].Accelerator != a.Name {
				t.Errorf("NodeFor(%s) = %d, not a node model of it", a.Name, n)
			}
			for _, name := range append([]string{a.Name}, a.Aliases...) {
				for _, spelled := range []string{name, strings.ToUpper(name)} {
					if i := c.Accelerator(spelled); i < 0 || c.Accelerators[i].Name != a.Name {
						t.Errorf("Accelerator(%q) = %d, want %s", spelled, i, a.Name)
					}
					if i := c.NodeFor(spelled); i != n {
						t.Errorf("NodeFor(%q) = %d, want its node %d", spelled, i, n)
					}
				}
				if prev, dup := owner[strings.ToLower(name)]; dup {
					t.Errorf("%q names both %s and accelerator %s", name, prev, a.Name)
				}
				owner[strings.ToLower(name)] = "accelerator " + a.Name
			}
		})
	}
	names := c.Names()
	for i := 1; i < len(names); i++ {
		if names[i-1] >= names[i] {
			t.Errorf("Names not sorted: %v", names)
		}
	}
}

// TestCatalogVendors: every built-in accelerator's vendor is one the
// agent knows how to hand devices to.
func TestCatalogVendors(t *testing.T) {
	known := map[string]bool{"nvidia": true, "amd": true, "huawei": true, "kunlunxin": true, "aws": true, "google": true}
	for _, a := range fleet.DefaultCatalog().Accelerators {
		if !known[a.Vendor] {
			t.Errorf("%s: vendor %q", a.Name, a.Vendor)
		}
	}
}

// TestDefaultCatalogIsACopy checks that changing one catalog, as a fleet
// file does, leaves the built-in one alone.
func TestDefaultCatalogIsACopy(t *testing.T) {
	a := fleet.DefaultCatalog()
	a.Accelerators[0].Aliases[0] = "changed"
	a.Nodes[0].OverheadW = 1
	tpu := a.Node("tpu-v5p-host")
	a.Nodes[tpu].SliceShapes[0] = "changed"
	b := fleet.DefaultCatalog()
	if b.Accelerators[0].Aliases[0] == "changed" || b.Nodes[0].OverheadW == 1 || b.Nodes[tpu].SliceShapes[0] == "changed" {
		t.Fatal("DefaultCatalog shares memory between calls")
	}
	f := mustParse(t, edit(t, base, "regions:", "catalog:\n  accelerators:\n    - name: h100\n      tdp_w: 500\n      idle_w: 50\n      node: box\n  nodes:\n    - name: box\n      accelerator: h100\n      accelerators: 2\nregions:"))
	// A file's accelerator may take a built-in alias as its name.
	if i := f.Catalog.NodeFor("h100"); i < 0 || f.Catalog.Nodes[i].Name != "box" {
		t.Errorf("NodeFor(h100) in the file's catalog = %d", i)
	}
	if i := fleet.DefaultCatalog().NodeFor("h100"); fleet.DefaultCatalog().Nodes[i].Name != "dgx-h100" {
		t.Error("a file's catalog changed the built-in one")
	}
}

func TestShapeVolume(t *testing.T) {
	for _, tc := range []struct {
		shape string
		v     int
	}{{"2x2x1", 4}, {"4x4x4", 64}, {"16x16x24", 6144}, {"1x1", 1}, {"16x16", 256}, {"8", 8},
		{"", 0}, {"2x", 0}, {"x2", 0}, {"0x4", 0}, {"2x-2", 0}, {"2X2", 0}, {"a", 0}} {
		v, err := fleet.ShapeVolume(tc.shape)
		if v != tc.v || (err == nil) != (tc.v > 0) {
			t.Errorf("ShapeVolume(%q) = %d, %v; want %d", tc.shape, v, err, tc.v)
		}
	}
	m := fleet.DefaultCatalog().Nodes[fleet.DefaultCatalog().Node("tpu-v5p-host")]
	if s, ok := m.SliceShape(64); !ok || s != "4x4x4" {
		t.Errorf("SliceShape(64) = %q, %v", s, ok)
	}
	if s, ok := m.SliceShape(48); ok {
		t.Errorf("SliceShape(48) = %q, allowed", s)
	}
	h := fleet.DefaultCatalog().Nodes[fleet.DefaultCatalog().Node("dgx-h100")]
	if _, ok := h.SliceShape(7); !ok {
		t.Error("a model without slice shapes refuses a size")
	}
}

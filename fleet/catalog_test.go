package fleet_test

import (
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

// TestCatalogFigures checks the built-in ratings against the figures the
// design cites.
func TestCatalogFigures(t *testing.T) {
	c := fleet.DefaultCatalog()
	rated := map[string]float64{ // node rated power, W
		"dgx-a100":         6_500,
		"dgx-h100":         10_200,
		"dgx-h200":         10_200,
		"dgx-b200":         14_300,
		"gb200-nvl72-tray": 131_994.0 / 18, // a ~132 kW NVL72 rack of 18 trays
		"mi300x-oam8":      10_000,
	}
	for _, m := range c.Nodes {
		a := c.Accelerator(m.Accelerator)
		if a < 0 {
			t.Errorf("%s: unknown accelerator %q", m.Name, m.Accelerator)
			continue
		}
		acc := &c.Accelerators[a]
		if got, want := m.MaxW(acc), rated[m.Name]; got < want-1 || got > want+1 {
			t.Errorf("%s: rated %g W, want %g", m.Name, got, want)
		}
		if m.IdleW(acc) >= m.MaxW(acc) || m.DrawW(acc, 0) != m.IdleW(acc) || m.DrawW(acc, 1) != m.MaxW(acc) {
			t.Errorf("%s: idle %g, max %g, draw(0) %g, draw(1) %g", m.Name, m.IdleW(acc), m.MaxW(acc), m.DrawW(acc, 0), m.DrawW(acc, 1))
		}
		if m.Source == "" {
			t.Errorf("%s: no source", m.Name)
		}
	}
	for _, a := range c.Accelerators {
		if c.NodeFor(a.Name) < 0 || a.Source == "" || a.IdleW <= 0 || a.IdleW >= a.TDPW {
			t.Errorf("accelerator %+v", a)
		}
	}
	names := c.Names()
	for i := 1; i < len(names); i++ {
		if names[i-1] >= names[i] {
			t.Errorf("Names not sorted: %v", names)
		}
	}
}

// TestDefaultCatalogIsACopy checks that changing one catalog, as a fleet
// file does, leaves the built-in one alone.
func TestDefaultCatalogIsACopy(t *testing.T) {
	a := fleet.DefaultCatalog()
	a.Accelerators[0].Aliases[0] = "changed"
	a.Nodes[0].OverheadW = 1
	b := fleet.DefaultCatalog()
	if b.Accelerators[0].Aliases[0] == "changed" || b.Nodes[0].OverheadW == 1 {
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

package fleet

import (
	"fmt"
	"sort"
	"strings"
)

// Accelerator is a catalog entry for one accelerator model.
type Accelerator struct {
	Name     string   `yaml:"name"`
	Aliases  []string `yaml:"aliases"`
	Vendor   string   `yaml:"vendor"`
	TDPW     float64  `yaml:"tdp_w"`  // rated board power, W
	IdleW    float64  `yaml:"idle_w"` // draw when idle, W
	MemoryGB float64  `yaml:"memory_gb"`
	// Node is the catalog node model that usually carries this accelerator;
	// plan's sizing and --accelerator use it.
	Node   string `yaml:"node"`
	Source string `yaml:"source"` // where the figures come from
}

// NodeModel is a catalog entry for one server (or, for rack-scale systems,
// one compute tray) holding accelerators.
type NodeModel struct {
	Name         string `yaml:"name"`
	Accelerator  string `yaml:"accelerator"`
	Accelerators int    `yaml:"accelerators"` // accelerators per node
	// OverheadW is the node's non-accelerator draw at full load (CPUs,
	// memory, NICs, fans, its share of switches), so that the node's rated
	// power is Accelerators×TDP + OverheadW.
	OverheadW float64 `yaml:"overhead_w"`
	// OverheadIdleW is the non-accelerator draw of an idle node.
	OverheadIdleW float64 `yaml:"overhead_idle_w"`
	// NVLinkDomain is "node" (NVLink within the server) or "rack" (an NVLink
	// switch fabric across the rack, as in GB200 NVL72).
	NVLinkDomain string `yaml:"nvlink_domain"`
	// NVLinkSize is the accelerators in one NVLink domain.
	NVLinkSize int     `yaml:"nvlink_size"`
	PriceUSD   float64 `yaml:"price_usd"` // 0 = unknown
	Source     string  `yaml:"source"`
}

// MaxW is the node's rated power: accelerators at TDP plus overhead.
func (m *NodeModel) MaxW(a *Accelerator) float64 {
	return float64(m.Accelerators)*a.TDPW + m.OverheadW
}

// IdleW is the node's draw with every accelerator idle.
func (m *NodeModel) IdleW(a *Accelerator) float64 {
	return float64(m.Accelerators)*a.IdleW + m.OverheadIdleW
}

// DrawW is the node's expected draw at a load factor in [0,1], linear
// between idle and rated power.
func (m *NodeModel) DrawW(a *Accelerator, load float64) float64 {
	idle := m.IdleW(a)
	return idle + load*(m.MaxW(a)-idle)
}

// Builtin accelerators. TDP, memory and node ratings are from the vendors'
// datasheets; idle draws are typical readings reported by nvidia-smi and
// rocm-smi on idle boards and are estimates.
var builtinAccelerators = []Accelerator{
	{Name: "a100-sxm", Aliases: []string{"a100"}, Vendor: "nvidia", TDPW: 400, IdleW: 55, MemoryGB: 80, Node: "dgx-a100",
		Source: "NVIDIA A100 datasheet (SXM4 80GB: 400 W); idle estimate"},
	{Name: "h100-sxm", Aliases: []string{"h100"}, Vendor: "nvidia", TDPW: 700, IdleW: 70, MemoryGB: 80, Node: "dgx-h100",
		Source: "NVIDIA H100 datasheet (SXM5: up to 700 W, 80 GB); idle estimate"},
	{Name: "h200-sxm", Aliases: []string{"h200"}, Vendor: "nvidia", TDPW: 700, IdleW: 75, MemoryGB: 141, Node: "dgx-h200",
		Source: "NVIDIA H200 datasheet (SXM: up to 700 W, 141 GB); idle estimate"},
	{Name: "b200", Vendor: "nvidia", TDPW: 1000, IdleW: 120, MemoryGB: 180, Node: "dgx-b200",
		Source: "NVIDIA DGX B200 datasheet (8 GPUs, 1,440 GB total, ~1000 W each); idle estimate"},
	{Name: "gb200", Aliases: []string{"gb200-nvl72"}, Vendor: "nvidia", TDPW: 1200, IdleW: 140, MemoryGB: 186, Node: "gb200-nvl72-tray",
		Source: "NVIDIA GB200 NVL72 (72 GPUs, 13.4 TB HBM3e, up to 1200 W per GPU); idle estimate"},
	{Name: "mi300x", Vendor: "amd", TDPW: 750, IdleW: 140, MemoryGB: 192, Node: "mi300x-oam8",
		Source: "AMD Instinct MI300X datasheet (750 W OAM, 192 GB HBM3); idle estimate"},
}

// Builtin node models. Overheads are rated node power minus accelerators at TDP.
var builtinNodes = []NodeModel{
	{Name: "dgx-a100", Accelerator: "a100-sxm", Accelerators: 8, OverheadW: 3300, OverheadIdleW: 1500, NVLinkDomain: "node", NVLinkSize: 8,
		Source: "NVIDIA DGX A100 datasheet: 6.5 kW max; idle overhead estimate"},
	{Name: "dgx-h100", Accelerator: "h100-sxm", Accelerators: 8, OverheadW: 4600, OverheadIdleW: 2000, NVLinkDomain: "node", NVLinkSize: 8,
		Source: "NVIDIA DGX H100 datasheet: 10.2 kW max; idle overhead estimate"},
	{Name: "dgx-h200", Accelerator: "h200-sxm", Accelerators: 8, OverheadW: 4600, OverheadIdleW: 2000, NVLinkDomain: "node", NVLinkSize: 8,
		Source: "NVIDIA DGX H200 datasheet: 10.2 kW max; idle overhead estimate"},
	{Name: "dgx-b200", Accelerator: "b200", Accelerators: 8, OverheadW: 6300, OverheadIdleW: 2500, NVLinkDomain: "node", NVLinkSize: 8,
		Source: "NVIDIA DGX B200 datasheet: 14.3 kW max; idle overhead estimate"},
	{Name: "gb200-nvl72-tray", Accelerator: "gb200", Accelerators: 4, OverheadW: 2533, OverheadIdleW: 900, NVLinkDomain: "rack", NVLinkSize: 72,
		Source: "GB200 NVL72 rack of 18 compute trays at ~132 kW: 7.33 kW per tray incl. its share of NVLink switch trays; idle overhead estimate"},
	{Name: "mi300x-oam8", Accelerator: "mi300x", Accelerators: 8, OverheadW: 4000, OverheadIdleW: 1800, NVLinkDomain: "node", NVLinkSize: 8,
		Source: "AMD Instinct MI300X platform, 8 OAM (8×750 W); server overhead estimate"},
}

// Catalog is the set of accelerators and node models a fleet may use.
type Catalog struct {
	Accelerators []Accelerator
	Nodes        []NodeModel
	accelByName  map[string]int
	nodeByName   map[string]int
	nodeAccel    []int // per node model, its accelerator's index (-1 if unknown)
}

// DefaultCatalog returns a fresh copy of the built-in catalog.
func DefaultCatalog() *Catalog {
	c := &Catalog{}
	for _, a := range builtinAccelerators {
		a.Aliases = append([]string(nil), a.Aliases...)
		c.Accelerators = append(c.Accelerators, a)
	}
	c.Nodes = append(c.Nodes, builtinNodes...)
	c.reindex()
	return c
}

func (c *Catalog) reindex() {
	c.accelByName = map[string]int{}
	c.nodeByName = map[string]int{}
	for i, a := range c.Accelerators {
		c.accelByName[strings.ToLower(a.Name)] = i
	}
	for i, a := range c.Accelerators { // aliases never shadow a real name
		for _, al := range a.Aliases {
			if _, ok := c.accelByName[strings.ToLower(al)]; !ok {
				c.accelByName[strings.ToLower(al)] = i
			}
		}
	}
	c.nodeAccel = make([]int, len(c.Nodes))
	for i, n := range c.Nodes {
		c.nodeByName[strings.ToLower(n.Name)] = i
		c.nodeAccel[i] = c.Accelerator(n.Accelerator)
	}
}

// NodeAccelerator returns the index of node model m's accelerator, or -1,
// without a lookup by name: it is resolved when the catalog is indexed.
func (c *Catalog) NodeAccelerator(m int) int { return c.nodeAccel[m] }

// add puts an accelerator in the catalog, replacing one of the same name.
func (c *Catalog) addAccelerator(a Accelerator) {
	if i, ok := c.accelByName[strings.ToLower(a.Name)]; ok && strings.EqualFold(c.Accelerators[i].Name, a.Name) {
		c.Accelerators[i] = a
	} else {
		c.Accelerators = append(c.Accelerators, a)
	}
	c.reindex()
}

func (c *Catalog) addNode(n NodeModel) {
	if i, ok := c.nodeByName[strings.ToLower(n.Name)]; ok {
		c.Nodes[i] = n
	} else {
		c.Nodes = append(c.Nodes, n)
	}
	c.reindex()
}

// Accelerator returns the index of the accelerator with this name or alias
// (case-insensitive), or -1.
func (c *Catalog) Accelerator(name string) int {
	if i, ok := c.accelByName[strings.ToLower(name)]; ok {
		return i
	}
	return -1
}

// Node returns the index of the node model with this name, or -1.
func (c *Catalog) Node(name string) int {
	if i, ok := c.nodeByName[strings.ToLower(name)]; ok {
		return i
	}
	return -1
}

// NodeFor resolves a name that is either a node model or an accelerator
// (whose usual node is taken), returning the node model index or -1.
func (c *Catalog) NodeFor(name string) int {
	if i := c.Node(name); i >= 0 {
		return i
	}
	if a := c.Accelerator(name); a >= 0 {
		return c.Node(c.Accelerators[a].Node)
	}
	return -1
}

// WhyNoNode says why NodeFor(name) finds no node model: an accelerator that
// is in the catalog but names no node model (or one the catalog lacks), or a
// name that is neither. It returns "" when NodeFor finds one.
func (c *Catalog) WhyNoNode(name string) string {
	if c.NodeFor(name) >= 0 {
		return ""
	}
	a := c.Accelerator(name)
	if a < 0 {
		return fmt.Sprintf("unknown node model or accelerator %q (accelerators: %s)", name, strings.Join(c.Names(), ", "))
	}
	acc := &c.Accelerators[a]
	if acc.Node == "" {
		return fmt.Sprintf("accelerator %q is in the catalog but has no node model: set node: on the accelerator, or name a node model", acc.Name)
	}
	return fmt.Sprintf("accelerator %q names node model %q, which is not in the catalog: add it under catalog.nodes, or name a node model", acc.Name, acc.Node)
}

// Names lists the accelerator names, sorted, for help and error messages.
func (c *Catalog) Names() []string {
	out := make([]string, len(c.Accelerators))
	for i, a := range c.Accelerators {
		out[i] = a.Name
	}
	sort.Strings(out)
	return out
}

// DefaultCarbon is the life-cycle carbon intensity by source, gCO2eq/kWh:
// the medians of IPCC AR5 WG3 Annex III, table A.III.2. Grid and storage
// have no default: a file must give their intensity. Keys are lower case;
// look a source up with DefaultCarbonOf.
var DefaultCarbon = map[string]float64{
	"coal":       820,
	"gas":        490,
	"biomass":    230,
	"solar":      48,
	"geothermal": 38,
	"hydro":      24,
	"nuclear":    12,
	"wind":       11,
}

// DefaultCarbonOf returns the default intensity of a kind of source
// (DefaultCarbon), matching its name without regard to case ("Gas" is
// gas), and whether there is one.
func DefaultCarbonOf(source string) (float64, bool) {
	if c, ok := DefaultCarbon[source]; ok {
		return c, true // the usual spelling, without a lowered copy
	}
	c, ok := DefaultCarbon[strings.ToLower(source)]
	return c, ok
}

package fleet

import (
	"fmt"
	"sort"
	"strings"
)

// Accelerator is a catalog entry for one accelerator model.
type Accelerator struct {
	Name    string   `yaml:"name"`
	Aliases []string `yaml:"aliases"`
	// Vendor names the maker (nvidia, amd, huawei, kunlunxin, aws,
	// google); the agent chooses the runtime's device variables by it.
	Vendor   string  `yaml:"vendor"`
	TDPW     float64 `yaml:"tdp_w"`  // rated board power, W
	IdleW    float64 `yaml:"idle_w"` // draw when idle, W
	MemoryGB float64 `yaml:"memory_gb"`
	// Node is the catalog node model that usually carries this accelerator;
	// plan's sizing and --accelerator use it.
	Node string `yaml:"node"`
	// Source says where the figures come from; a figure no vendor
	// publishes is marked as an estimate, with the value chosen.
	Source string `yaml:"source"`
}

// Scale-up domains a node model may name in NVLinkDomain besides a group
// of racks: the node itself, or its rack.
const (
	DomainNode = "node"
	DomainRack = "rack"
)

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
	// NVLinkDomain is the model's scale-up domain, whatever the vendor
	// calls its fabric (NVLink, Infinity Fabric, Huawei's UB, NeuronLink,
	// TPU ICI): "node" (within the server), "rack" (a switch fabric
	// across the rack, as in GB200 NVL72), or the name of a group of racks
	// that share one fabric (a "supernode", a "pod"): NVLinkSize
	// accelerators of this model in consecutive racks of one row.
	NVLinkDomain string `yaml:"nvlink_domain"`
	// NVLinkSize is the accelerators in one scale-up domain.
	NVLinkSize int `yaml:"nvlink_size"`
	// SliceShapes, when given, are the only shapes a job may take on this
	// model ("2x2x1", "4x4x4", "16x16"): a job's accelerators must be the
	// volume of one of them. TPU pods hand out their torus this way.
	SliceShapes []string `yaml:"slice_shapes"`
	PriceUSD    float64  `yaml:"price_usd"` // 0 = unknown
	Source      string   `yaml:"source"`
}

// SpansRacks reports whether the model's scale-up domain is a group of
// racks (a supernode or pod) rather than the node or the rack.
func (m *NodeModel) SpansRacks() bool {
	return m.NVLinkDomain != "" && m.NVLinkDomain != DomainNode && m.NVLinkDomain != DomainRack
}

// DomainAccelerators is the accelerators of one scale-up domain when it
// is wider than the node (a rack or a group of racks), else the node's:
// the unit in which such systems are built.
func (m *NodeModel) DomainAccelerators() int {
	if m.NVLinkDomain != "" && m.NVLinkDomain != DomainNode && m.NVLinkSize > m.Accelerators {
		return m.NVLinkSize
	}
	return m.Accelerators
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
// datasheets where they publish them; idle draws are typical readings
// reported by nvidia-smi and rocm-smi on idle boards and are estimates.
// Where no public figure exists, Source says so and names the value
// chosen: a conservative one, high for power, so that plans do not
// overfill a site.
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
	{Name: "gb300", Aliases: []string{"gb300-nvl72", "gb300nvl72"}, Vendor: "nvidia", TDPW: 1400, IdleW: 160, MemoryGB: 288, Node: "gb300-nvl72-tray",
		Source: "NVIDIA GB300 NVL72 (72 Blackwell Ultra GPUs, 288 GB HBM3e each, up to 1,400 W per GPU); idle estimate"},
	{Name: "b300", Aliases: []string{"b300-sxm", "hgx-b300"}, Vendor: "nvidia", TDPW: 1100, IdleW: 130, MemoryGB: 288, Node: "dgx-b300",
		Source: "NVIDIA DGX B300 (8 Blackwell Ultra GPUs, 2.3 TB HBM3e); estimate: 1,100 W per GPU, the HGX B300 board power OEMs list (NVIDIA publishes the system's, not the GPU's); idle estimate"},
	{Name: "mi325x", Aliases: []string{"mi325"}, Vendor: "amd", TDPW: 1000, IdleW: 150, MemoryGB: 256, Node: "mi325x-oam8",
		Source: "AMD Instinct MI325X datasheet (1,000 W OAM, 256 GB HBM3E); idle estimate"},
	{Name: "mi355x", Aliases: []string{"mi355"}, Vendor: "amd", TDPW: 1400, IdleW: 180, MemoryGB: 288, Node: "mi355x-oam8",
		Source: "AMD Instinct MI355X (1,400 W OAM, liquid-cooled, 288 GB HBM3E; AMD, June 2025); idle estimate"},
	{Name: "ascend-910c", Aliases: []string{"910c", "ascend910c", "cloudmatrix384", "cm384"}, Vendor: "huawei", TDPW: 800, IdleW: 100, MemoryGB: 128, Node: "cloudmatrix-384",
		Source: "Huawei Ascend 910C (two dies, 128 GB HBM; Huawei CloudMatrix384 paper, arXiv 2506.12708); Huawei publishes no board power: estimate 800 W (two 910B-class dies at about 400 W); idle estimate"},
	{Name: "kunlun-p800", Aliases: []string{"p800", "kunlunxin-p800"}, Vendor: "kunlunxin", TDPW: 500, IdleW: 80, MemoryGB: 96, Node: "kunlun-p800-oam8",
		Source: "Kunlunxin P800 (Baidu's 30,000-chip clusters, 2025); Kunlunxin publishes no datasheet: estimate 500 W per module and 96 GB as press reports give it, both unconfirmed; idle estimate"},
	{Name: "trainium2", Aliases: []string{"trn2", "trainium-2", "trn2-ultraserver"}, Vendor: "aws", TDPW: 500, IdleW: 90, MemoryGB: 96, Node: "trn2-48xlarge",
		Source: "AWS Trainium2 (8 NeuronCores, 96 GiB HBM per chip; AWS Neuron docs); AWS publishes no chip power: estimate 500 W (analysts' figure); idle estimate"},
	{Name: "tpu-v5p", Aliases: []string{"v5p", "tpuv5p"}, Vendor: "google", TDPW: 450, IdleW: 90, MemoryGB: 95, Node: "tpu-v5p-host",
		Source: "Google Cloud TPU v5p docs (95 GB HBM2e, 4 chips per host, 8,960 chips per pod, 3D torus); Google publishes no chip power: estimate 450 W (TPU v4 peaks at 192 W measured; v5p has about twice its compute and HBM); idle estimate"},
	{Name: "tpu-v6e", Aliases: []string{"v6e", "trillium", "tpu-trillium"}, Vendor: "google", TDPW: 400, IdleW: 70, MemoryGB: 32, Node: "tpu-v6e-host",
		Source: "Google Cloud TPU v6e (Trillium) docs (32 GB HBM, 8 chips per host, 256 chips per pod, 2D torus); Google publishes no chip power: estimate 400 W; idle estimate"},
}

// Builtin node models. Overheads are rated node power minus accelerators
// at TDP; for systems whose rating is given per rack or per system, each
// node carries its share, switches and optics included.
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
	{Name: "gb300-nvl72-tray", Accelerator: "gb300", Accelerators: 4, OverheadW: 2178, OverheadIdleW: 900, NVLinkDomain: "rack", NVLinkSize: 72,
		Source: "GB300 NVL72 rack of 18 compute trays and 9 NVLink switch trays; NVIDIA publishes no rack rating, OEMs give about 132–140 kW (Supermicro): estimate 140 kW, 7.78 kW per tray incl. its share of the switch trays; idle overhead estimate"},
	{Name: "dgx-b300", Accelerator: "b300", Accelerators: 8, OverheadW: 5700, OverheadIdleW: 2500, NVLinkDomain: "node", NVLinkSize: 8,
		Source: "NVIDIA DGX B300: the system's power is given as approximate (about 14 kW); estimate: 14.5 kW taken, conservative; idle overhead estimate"},
	{Name: "mi325x-oam8", Accelerator: "mi325x", Accelerators: 8, OverheadW: 4000, OverheadIdleW: 1800, NVLinkDomain: "node", NVLinkSize: 8,
		Source: "AMD Instinct MI325X platform, 8 OAM (8×1,000 W); server overhead estimate (as MI300X's): 12 kW"},
	{Name: "mi355x-oam8", Accelerator: "mi355x", Accelerators: 8, OverheadW: 4000, OverheadIdleW: 1800, NVLinkDomain: "node", NVLinkSize: 8,
		Source: "AMD Instinct MI355X platform, 8 OAM (8×1,400 W), Infinity Fabric within the node; server overhead estimate (as MI300X's): 15.2 kW"},
	{Name: "cloudmatrix-384", Accelerator: "ascend-910c", Accelerators: 8, OverheadW: 5246, OverheadIdleW: 2600, NVLinkDomain: "supernode", NVLinkSize: 384,
		Source: "Huawei CloudMatrix 384: 48 nodes of 8 Ascend 910C and 4 Kunpeng CPUs in 12 compute racks, joined by the optical UB fabric through 4 network racks into one 384-NPU supernode; about 559 kW for the whole system (SemiAnalysis estimate, 2025; Huawei publishes none), so each node carries 1/48 of it, 11.65 kW, network racks and optics included; idle overhead estimate"},
	{Name: "kunlun-p800-oam8", Accelerator: "kunlun-p800", Accelerators: 8, OverheadW: 3500, OverheadIdleW: 1400, NVLinkDomain: "node", NVLinkSize: 8,
		Source: "8-module Kunlunxin P800 server; no public rating: estimate 7.5 kW; scale-up taken within the node (Baidu has shown 64-card rack supernodes: a fleet file may declare nvlink_domain: rack); idle overhead estimate"},
	{Name: "trn2-48xlarge", Accelerator: "trainium2", Accelerators: 16, OverheadW: 4000, OverheadIdleW: 1500, NVLinkDomain: "ultraserver", NVLinkSize: 64,
		Source: "AWS Trn2 server (trn2.48xlarge: 16 Trainium2); a Trn2 UltraServer joins 4 of them, 64 chips, by NeuronLink (AWS); no public rating: estimate 12 kW per server; idle overhead estimate"},
	{Name: "tpu-v5p-host", Accelerator: "tpu-v5p", Accelerators: 4, OverheadW: 1200, OverheadIdleW: 500, NVLinkDomain: "pod", NVLinkSize: 8960,
		SliceShapes: []string{"2x2x1", "2x2x2", "2x4x4", "4x4x4", "4x4x8", "4x8x8", "8x8x8", "8x8x16", "8x16x16", "16x16x16", "16x16x24"},
		Source:      "Google Cloud TPU v5p docs: 4-chip hosts (208 vCPUs, 448 GB), 16 hosts to a 4x4x4 cube (a rack), 8,960 chips per pod, slices of the shapes listed (the largest 16x16x24, 6,144 chips); no public rating: estimate 3 kW per host; idle overhead estimate"},
	{Name: "tpu-v6e-host", Accelerator: "tpu-v6e", Accelerators: 8, OverheadW: 1500, OverheadIdleW: 600, NVLinkDomain: "pod", NVLinkSize: 256,
		SliceShapes: []string{"1x1", "2x2", "2x4", "4x4", "4x8", "8x8", "8x16", "16x16"},
		Source:      "Google Cloud TPU v6e docs: 8-chip hosts, 256 chips per pod in a 2D torus, slices of the shapes listed; no public rating: estimate 4.7 kW per host; idle overhead estimate"},
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
	for _, n := range builtinNodes {
		n.SliceShapes = append([]string(nil), n.SliceShapes...)
		c.Nodes = append(c.Nodes, n)
	}
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

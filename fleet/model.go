package fleet

// Level names a level of the power tree.
type Level uint8

// The levels of the power tree, from the top.
const (
	LevelSite Level = iota // the substation
	LevelHall
	LevelRow
	LevelRack
	LevelNode
	LevelAccelerator
)

var levelNames = [...]string{"site", "hall", "row", "rack", "node", "accelerator"}

func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return "level?"
}

// Fleet is the expanded, compact form of a fleet file. Every level of the
// power tree is a flat slice; a parent holds its children as a contiguous
// index range [First, End) of the next level's slice, and each child knows
// its parent. Accelerators are numbered 0..Accelerators-1 in tree order, so
// allocation state can be a bitmap. A Fleet is read-only once built.
type Fleet struct {
	// Oversubscription is the file-wide default ratio.
	Oversubscription float64
	Catalog          *Catalog
	Regions          []Region
	Sites            []Site
	Halls            []Domain
	Rows             []Domain
	Racks            []Domain
	Nodes            []Node
	// ScaleUps are the scale-up domains that span racks (supernodes,
	// pods), in tree order; see ScaleUp.
	ScaleUps []ScaleUp
	// Accelerators is the total number of accelerators.
	Accelerators int
	// nodeScaleUp is each node's index in ScaleUps, -1 for none; nil when
	// the fleet has none.
	nodeScaleUp []int32
}

// ScaleUp is one scale-up domain of a node model whose fabric spans racks
// (NodeModel.SpansRacks): a supernode or a pod. It is the racks
// [FirstRack, EndRack) of one row that hold its Accelerators, the model's
// NVLinkSize; loading makes sure a row's racks of such a model form whole
// domains, none straddling two, in rack order.
type ScaleUp struct {
	// Name is the model's domain name and its number among the row's
	// domains of the model: "supernode-1", "pod-2".
	Name               string
	Model              uint16 // index into Catalog.Nodes
	Row                int32  // index into Fleet.Rows
	FirstRack, EndRack int32
	Accelerators       int32
}

// Region is a group of sites; Sites[First:End].
type Region struct {
	Name       string
	First, End int32
}

// Site is one campus. Its Domain's children are halls; its limit is the
// substation's rating.
type Site struct {
	Domain
	Region                int32
	SubstationMW          float64
	PUE                   float64
	Oversubscription      float64 // effective ratio (site's or the file's)
	FacilityCapexUSDPerMW float64
	// RampMWPerMin bounds the rise of the site's facility draw in any one
	// minute (0 = no limit); see SiteSpec.RampMWPerMin.
	RampMWPerMin float64
	Energy       []EnergySource
}

// Domain is one breaker of the power tree (site, hall, row or rack).
type Domain struct {
	Name   string // unique within its parent; Path gives the full name
	Parent int32  // index in the level above; for a site, its region (as Site.Region)
	// First and End delimit the children in the next level's slice.
	First, End int32
	// LimitW is the rated limit in watts. For a site it is the substation
	// rating; the IT share of it is LimitW/PUE.
	LimitW int64
	// Accelerators below this domain and their first global index.
	Accelerators int32
	FirstAccel   int32
}

// Node is one server of a rack.
type Node struct {
	Rack       int32  // index into Fleet.Racks
	Model      uint16 // index into Catalog.Nodes
	Index      uint16 // position within the rack, for naming
	FirstAccel int32  // global index of its first accelerator
}

// NodeModel returns the catalog model of node i.
func (f *Fleet) NodeModel(i int) *NodeModel { return &f.Catalog.Nodes[f.Nodes[i].Model] }

// NodeAccelerator returns the catalog accelerator of node i.
func (f *Fleet) NodeAccelerator(i int) *Accelerator {
	return &f.Catalog.Accelerators[f.Catalog.NodeAccelerator(int(f.Nodes[i].Model))]
}

// ScaleUpOf returns the index in ScaleUps of node i's scale-up domain, or
// -1 when its model's domain does not span racks.
func (f *Fleet) ScaleUpOf(i int) int {
	if f.nodeScaleUp == nil {
		return -1
	}
	return int(f.nodeScaleUp[i])
}

// ScaleUpPath returns "site/hall/row/supernode-1" for ScaleUps[i].
func (f *Fleet) ScaleUpPath(i int) string {
	su := &f.ScaleUps[i]
	row := f.Rows[su.Row]
	hall := f.Halls[row.Parent]
	return f.Sites[hall.Parent].Name + "/" + hall.Name + "/" + row.Name + "/" + su.Name
}

// NodeAccelerators returns the number of accelerators of node i.
func (f *Fleet) NodeAccelerators(i int) int { return f.NodeModel(i).Accelerators }

// SiteOfNode returns the site index of node i.
func (f *Fleet) SiteOfNode(i int) int { return int(f.Path(i)[LevelSite]) }

// Path is a node's place in the power tree: the index of its site, hall,
// row and rack in their slices, and of the node itself, by Level.
type Path [LevelNode + 1]int32

// Path returns node n's path, from its site down to the node.
func (f *Fleet) Path(n int) Path {
	var p Path
	p[LevelNode] = int32(n)
	for l := LevelNode; l > LevelSite; l-- {
		p[l-1] = f.Parent(l, p[l])
	}
	return p
}

// Parent returns the index of the parent of domain d of level l: a node's
// rack, a rack's row, a row's hall, a hall's site; -1 for a site.
func (f *Fleet) Parent(l Level, d int32) int32 {
	switch l {
	case LevelNode:
		return f.Nodes[d].Rack
	case LevelRack:
		return f.Racks[d].Parent
	case LevelRow:
		return f.Rows[d].Parent
	case LevelHall:
		return f.Halls[d].Parent
	}
	return -1
}

// Ancestor returns the index of the ancestor at level to of domain d of
// level l (to at or above l; d itself when to is l).
func (f *Fleet) Ancestor(l Level, d int32, to Level) int32 {
	for ; l > to; l-- {
		d = f.Parent(l, d)
	}
	return d
}

// Children returns the range [first, end) of domain d's children in the
// slice of the level below l (a site's halls, ..., a rack's nodes).
func (f *Fleet) Children(l Level, d int32) (first, end int32) {
	switch l {
	case LevelSite:
		return f.Sites[d].First, f.Sites[d].End
	case LevelHall:
		return f.Halls[d].First, f.Halls[d].End
	case LevelRow:
		return f.Rows[d].First, f.Rows[d].End
	case LevelRack:
		return f.Racks[d].First, f.Racks[d].End
	}
	return 0, 0
}

// RackPath returns "site/hall/row/rack" for rack i.
func (f *Fleet) RackPath(i int) string {
	rack := f.Racks[i]
	row := f.Rows[rack.Parent]
	hall := f.Halls[row.Parent]
	return f.Sites[hall.Parent].Name + "/" + hall.Name + "/" + row.Name + "/" + rack.Name
}

// NodeName returns the node's full name, "site/hall/row/rack/nN".
func (f *Fleet) NodeName(i int) string {
	n := f.Nodes[i]
	return f.RackPath(int(n.Rack)) + "/n" + itoa(int(n.Index)+1)
}

// Domains returns the slice of domains at a level (site to rack). Sites
// are returned as their Domain part, copied.
func (f *Fleet) Domains(l Level) []Domain {
	switch l {
	case LevelSite:
		out := make([]Domain, len(f.Sites))
		for i := range f.Sites {
			out[i] = f.Sites[i].Domain
		}
		return out
	case LevelHall:
		return f.Halls
	case LevelRow:
		return f.Rows
	case LevelRack:
		return f.Racks
	}
	return nil
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	var b [20]byte
	p := len(b)
	for i > 0 {
		p--
		b[p] = byte('0' + i%10)
		i /= 10
	}
	return string(b[p:])
}

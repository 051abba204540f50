package fleet_test

import (
	"testing"

	"stargate/fleet"
)

func loadExample(t testing.TB, name string) *fleet.Fleet {
	t.Helper()
	f, err := fleet.Load("../examples/" + name + ".yaml")
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return f
}

// Accelerators per rack in the examples: 4 DGX H100 × 8 = 32, and one
// GB200 NVL72 = 18 trays × 4 = 72.
const (
	h100Rack  = 4 * 8
	nvl72Rack = 18 * 4
)

func TestExampleCounts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sites []int // accelerators by site, computed by hand
		total int
	}{
		// small: 1 hall × 2 rows × 2 racks × 32 = 128.
		{"small", []int{1 * 2 * 2 * h100Rack}, 128},
		// stargate:
		//   abilene    4 × 200 rows × 8 NVL72 × 72 = 460,800
		//            + 2 ×  45 rows × 20 racks × 32 =  57,600
		//   houston    5 ×  50 × 20 × 32            = 160,000
		//   clinton    3 × 130 × 8 × 72             = 224,640
		//   mon-valley 2 ×  65 × 20 × 32            =  83,200
		//   shenandoah 2 ×  85 × 8 × 72             =  97,920
		//                                     total = 1,084,160
		{"stargate", []int{4*200*8*nvl72Rack + 2*45*20*h100Rack, 5 * 50 * 20 * h100Rack,
			3 * 130 * 8 * nvl72Rack, 2 * 65 * 20 * h100Rack, 2 * 85 * 8 * nvl72Rack}, 1_084_160},
		// million-gpu: 4 H100 sites of 4 halls × 50 rows × 20 racks × 32 =
		// 128,000 and 4 GB200 sites of 4 × 56 × 8 × 72 = 129,024, in that
		// order in each region: 1,028,096.
		{"million-gpu", []int{128_000, 129_024, 128_000, 129_024, 128_000, 129_024, 128_000, 129_024}, 1_028_096},
		// sovereign:
		//   riyadh   2 halls × 4 rows × 8 NVL72 × 72 GB300 =  4,608
		//          + 2 rows × 16 racks × 4 × 8 MI355X       =  1,024
		//   guizhou  4 supernodes × 12 racks × 32 NPUs      =  1,536
		//          + 2 rows × 20 racks × 4 × 8 Kunlun P800  =  1,280
		//   iowa     140 cubes × 64 TPU v5p                 =  8,960
		//          + 8 pods × 4 racks × 64 TPU v6e          =  2,048
		//   ohio     2 rows × 16 racks × 32 Trainium2       =  1,024
		//                                             total = 20,480
		{"sovereign", []int{2*4*8*nvl72Rack + 2*16*32, 4*12*32 + 2*20*32, 140*64 + 8*4*64, 2 * 16 * 32}, 20_480},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := loadExample(t, tc.name)
			if f.Accelerators != tc.total {
				t.Errorf("accelerators = %d, want %d", f.Accelerators, tc.total)
			}
			if len(f.Sites) != len(tc.sites) {
				t.Fatalf("sites = %d, want %d", len(f.Sites), len(tc.sites))
			}
			sum := 0
			for i, want := range tc.sites {
				sum += want
				if got := int(f.Sites[i].Accelerators); got != want {
					t.Errorf("site %s: %d accelerators, want %d", f.Sites[i].Name, got, want)
				}
			}
			if sum != tc.total {
				t.Errorf("the hand-computed sites add up to %d, not %d", sum, tc.total)
			}
			checkInvariants(t, f)
		})
	}
}

func TestSmallExample(t *testing.T) {
	f := loadExample(t, "small")
	if len(f.Regions) != 1 || f.Regions[0].Name != "demo" || len(f.Halls) != 1 || len(f.Rows) != 2 || len(f.Racks) != 4 || len(f.Nodes) != 16 {
		t.Fatalf("shape: %d regions, %d halls, %d rows, %d racks, %d nodes", len(f.Regions), len(f.Halls), len(f.Rows), len(f.Racks), len(f.Nodes))
	}
	s := f.Sites[0]
	if s.Name != "lab" || s.SubstationMW != 2 || s.LimitW != 2_000_000 || s.PUE != 1.3 || s.Oversubscription != 1 {
		t.Errorf("site = %+v", s)
	}
	if len(s.Energy) != 1 || s.Energy[0].Source != "grid" || *s.Energy[0].CarbonGPerKWh != 370 || s.Energy[0].PriceUSDPerMWh != 80 {
		t.Errorf("energy = %+v", s.Energy)
	}
	// Copies are named name-1..name-N, numbered within each parent.
	var names []string
	for i := range f.Racks {
		names = append(names, f.RackPath(i))
	}
	want := []string{"lab/hall-a/row-1/rack-1", "lab/hall-a/row-1/rack-2", "lab/hall-a/row-2/rack-1", "lab/hall-a/row-2/rack-2"}
	for i := range want {
		if names[i] != want[i] {
			t.Errorf("rack %d = %q, want %q", i, names[i], want[i])
		}
	}
	if got := f.NodeName(5); got != "lab/hall-a/row-1/rack-2/n2" {
		t.Errorf("node 5 = %q", got)
	}
	if f.Halls[0].LimitW != 1_200_000 || f.Rows[1].LimitW != 450_000 || f.Racks[3].LimitW != 42_000 {
		t.Errorf("limits: hall %d, row %d, rack %d W", f.Halls[0].LimitW, f.Rows[1].LimitW, f.Racks[3].LimitW)
	}
	// Node 13 is the second node of rack 3 (row-2/rack-2): accelerators 104..111.
	n := f.Nodes[13]
	if n.Rack != 3 || n.Index != 1 || n.FirstAccel != 104 || f.SiteOfNode(13) != 0 {
		t.Errorf("node 13 = %+v", n)
	}
	if m, a := f.NodeModel(13), f.NodeAccelerator(13); m.Name != "dgx-h100" || a.Name != "h100-sxm" || m.MaxW(a) != 10_200 {
		t.Errorf("node 13 is a %s of %s rated %g W", m.Name, a.Name, m.MaxW(a))
	}
	if r := f.Racks[2]; r.FirstAccel != 64 || r.Accelerators != 32 || r.First != 8 || r.End != 12 || r.Parent != 1 {
		t.Errorf("rack 2 = %+v", r)
	}
}

func TestStargateExample(t *testing.T) {
	f := loadExample(t, "stargate")
	var regions []string
	for _, r := range f.Regions {
		regions = append(regions, r.Name)
	}
	if len(regions) != 3 || regions[0] != "gulf-coast" || f.Regions[0].End-f.Regions[0].First != 2 {
		t.Errorf("regions = %v", regions)
	}
	// abilene: halls gb200-1..4 then h100-1..2; rows and racks from
	// unnamed template items are numbered.
	ab := f.Sites[0]
	var halls []string
	for h := ab.First; h < ab.End; h++ {
		halls = append(halls, f.Halls[h].Name)
	}
	if want := "[gb200-1 gb200-2 gb200-3 gb200-4 h100-1 h100-2]"; fmtList(halls) != want {
		t.Errorf("abilene halls = %v, want %s", halls, want)
	}
	h := f.Halls[ab.First+4] // h100-1: 45 rows of the h100-row template
	if h.End-h.First != 45 || h.LimitW != 40_000_000 {
		t.Errorf("h100-1 = %+v", h)
	}
	row := f.Rows[h.First+44]
	if row.Name != "row-45" || row.LimitW != 850_000 || row.End-row.First != 20 {
		t.Errorf("last row of h100-1 = %+v", row)
	}
	rack := f.Racks[row.End-1]
	if rack.Name != "rack-20" || rack.LimitW != 42_000 || rack.Accelerators != h100Rack {
		t.Errorf("last rack = %+v", rack)
	}
	// The file's catalog replaces the built-in dgx-h100 and gb200 trays
	// with priced ones.
	nvl := f.Catalog.Nodes[f.Catalog.Node("gb200-nvl72-tray")]
	if nvl.PriceUSD != 750_000 || nvl.NVLinkDomain != "rack" || nvl.NVLinkSize != 72 {
		t.Errorf("gb200 tray = %+v", nvl)
	}
	if s := f.Sites[2]; s.Name != "clinton" || s.Energy[0].MW != 450 || s.Energy[0].CarbonGPerKWh != nil {
		t.Errorf("clinton = %+v", s)
	}
	if len(f.Sites[0].Energy[1].Profile.Output) != 24 {
		t.Errorf("abilene solar profile = %v", f.Sites[0].Energy[1].Profile)
	}
}

func TestMillionExample(t *testing.T) {
	f := loadExample(t, "million-gpu")
	if f.Accelerators < 1_000_000 {
		t.Fatalf("accelerators = %d", f.Accelerators)
	}
	// Hall templates carry their own limit and rows; counts name the copies.
	s := f.Sites[1] // north-gb200
	if s.Name != "north-gb200" || s.End-s.First != 4 {
		t.Fatalf("site 1 = %+v", s)
	}
	h := f.Halls[s.First+3]
	if h.Name != "hall-4" || h.LimitW != 62_000_000 || h.End-h.First != 56 {
		t.Errorf("hall = %+v", h)
	}
	last := len(f.Nodes) - 1
	if got, want := f.NodeName(last), "west-gb200/hall-4/row-56/rack-8/n18"; got != want {
		t.Errorf("last node = %q, want %q", got, want)
	}
	if int(f.Nodes[last].FirstAccel)+f.NodeAccelerators(last) != f.Accelerators {
		t.Errorf("the last node ends at %d, the fleet has %d", int(f.Nodes[last].FirstAccel)+f.NodeAccelerators(last), f.Accelerators)
	}
}

func fmtList(s []string) string {
	out := "["
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out + "]"
}

// TestTemplateOverrides checks that an item's own fields win over its
// template's, and that a template is a copy, not shared.
func TestTemplateOverrides(t *testing.T) {
	src := `templates:
  racks:
    t:
      limit_kw: 42
      nodes:
        - model: dgx-h100
          count: 4
  rows:
    r:
      limit_kw: 500
      racks:
        - template: t
          count: 2
regions:
  - name: r
    sites:
      - name: s
        substation_mw: 2
        pue: 1.25
        energy: [{source: solar, share: 1}]
        halls:
          - limit_kw: 1000
            rows:
              - template: r
              - template: r
                limit_kw: 300
                name: big
              - limit_kw: 100
                racks:
                  - template: t
                    limit_kw: 30
                  - template: t
                    nodes: [{model: h100, count: 2}]
                  - template: t
                    name: named
`
	f := mustParse(t, src)
	checkInvariants(t, f)
	rows := f.Rows
	if len(rows) != 3 || rows[0].Name != "row-1" || rows[0].LimitW != 500_000 || rows[1].Name != "big" || rows[1].LimitW != 300_000 || rows[2].Name != "row-3" {
		t.Fatalf("rows = %+v", rows)
	}
	racks := f.Racks[rows[2].First:rows[2].End]
	if len(racks) != 3 {
		t.Fatalf("racks of row-3 = %+v", racks)
	}
	// limit overridden; nodes overridden (h100 → its usual node, dgx-h100); name given.
	if racks[0].LimitW != 30_000 || racks[0].Accelerators != 32 || racks[0].Name != "rack-1" {
		t.Errorf("rack 0 = %+v", racks[0])
	}
	if racks[1].LimitW != 42_000 || racks[1].Accelerators != 16 || racks[1].Name != "rack-2" {
		t.Errorf("rack 1 = %+v", racks[1])
	}
	if racks[2].Name != "named" || racks[2].Accelerators != 32 {
		t.Errorf("rack 2 = %+v", racks[2])
	}
	if f.Accelerators != 2*2*32+32+16+32 {
		t.Errorf("accelerators = %d", f.Accelerators)
	}
}

// TestAnchorsAndMerge checks YAML anchors, aliases and merge keys, with
// the YAML rule that a mapping's own keys win over merged ones wherever
// they appear.
func TestAnchorsAndMerge(t *testing.T) {
	src := `regions:
  - name: r
    sites:
      - name: s
        substation_mw: 2
        pue: 1.25
        energy: &mix [{source: wind, share: 1}]
        halls:
          - limit_kw: 1000
            rows:
              - limit_kw: 500
                racks:
                  - &rack
                    name: a
                    limit_kw: 42
                    nodes: &nodes [{model: dgx-h100, count: 4}]
                  - <<: *rack
                    name: b
                  - name: c
                    limit_kw: 30
                    <<: *rack
                  - name: d
                    limit_kw: 50
                    nodes: *nodes
                  - <<: [{name: e}, *rack]
      - name: s2
        substation_mw: 1
        pue: 1.2
        energy: *mix
`
	f := mustParse(t, src)
	checkInvariants(t, f)
	want := []struct {
		name   string
		limitW int64
	}{{"a", 42_000}, {"b", 42_000}, {"c", 30_000}, {"d", 50_000}, {"e", 42_000}}
	if len(f.Racks) != len(want) {
		t.Fatalf("racks = %+v", f.Racks)
	}
	for i, w := range want {
		if r := f.Racks[i]; r.Name != w.name || r.LimitW != w.limitW || r.Accelerators != 32 {
			t.Errorf("rack %d = %+v, want %s at %d W with 32 accelerators", i, r, w.name, w.limitW)
		}
	}
	if f.Sites[1].Energy[0].Source != "wind" {
		t.Errorf("aliased energy = %+v", f.Sites[1].Energy)
	}
}

// TestTemplateListOverride checks that an item replacing a list of its
// template keeps nothing of the template's items: here the template's
// rack has count 3, the item's own rack none.
func TestTemplateListOverride(t *testing.T) {
	src := edit(t, base, "regions:", `templates:
  rows:
    r:
      limit_kw: 500
      racks:
        - count: 3
          limit_kw: 42
          nodes: [{model: dgx-h100, count: 4}]
regions:`)
	src = edit(t, src, "              - name: row\n                limit_kw: 500\n", "              - template: r\n")
	f := mustParse(t, src)
	if len(f.Racks) != 1 || f.Racks[0].Name != "rack" || f.Rows[0].LimitW != 500_000 {
		t.Fatalf("racks = %+v, rows = %+v", f.Racks, f.Rows)
	}
}

// The sovereign example's scale-up domains beyond the rack, recounted
// from its nodes: four CloudMatrix supernodes of 384, one TPU v5p pod of
// 8,960, eight TPU v6e pods of 256 and sixteen Trn2 UltraServers of 64;
// every node of those models in exactly one, whole.
func TestSovereignExample(t *testing.T) {
	f := loadExample(t, "sovereign")
	want := map[string]struct{ count, size int }{
		"cloudmatrix-384": {4, 384}, "tpu-v5p-host": {1, 8960}, "tpu-v6e-host": {8, 256}, "trn2-48xlarge": {16, 64},
	}
	got := map[string]int{}
	held := make([]int, len(f.ScaleUps))
	for n := range f.Nodes {
		m := f.NodeModel(n)
		su := f.ScaleUpOf(n)
		if _, ok := want[m.Name]; ok != (su >= 0) {
			t.Fatalf("node %s (%s) in scale-up domain %d", f.NodeName(n), m.Name, su)
		}
		if su >= 0 {
			held[su] += m.Accelerators
		}
	}
	for i, su := range f.ScaleUps {
		m := f.Catalog.Nodes[su.Model]
		got[m.Name]++
		if w := want[m.Name]; held[i] != w.size || int(su.Accelerators) != w.size {
			t.Errorf("%s: %d accelerators (%d recounted), want %d", f.ScaleUpPath(i), su.Accelerators, held[i], w.size)
		}
	}
	for name, w := range want {
		if got[name] != w.count {
			t.Errorf("%s: %d scale-up domains, want %d", name, got[name], w.count)
		}
	}
	if p := f.ScaleUpPath(0); p != "guizhou/cloudmatrix/sn-1/supernode-1" {
		t.Errorf("first supernode %s", p)
	}
	vendors := map[string]bool{}
	for n := range f.Nodes {
		vendors[f.NodeAccelerator(n).Vendor] = true
	}
	if len(vendors) != 6 {
		t.Errorf("vendors %v, want all six of the catalog", vendors)
	}
}

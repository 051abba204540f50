package plan

import (
	"bytes"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"stargate/examples"
	"stargate/fleet"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// with returns the default options changed by set.
func with(set func(o *Options)) Options {
	o := DefaultOptions()
	set(&o)
	return o
}

// question is a sizing question with the default load factor and households.
func question(target int, accelerator string, siteMW, pue float64) SizingInput {
	in := DefaultSizingInput()
	in.TargetAccelerators, in.Accelerator, in.SiteMW, in.PUE = target, accelerator, siteMW, pue
	return in
}

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %v, want %v (±%v)", what, got, want, tol)
	}
}

// The hand computation: 150 MW at PUE 1.25 feeds 120 MW of IT; at
// 10.2 kW per 8-GPU node that is 11,764 nodes, 94,112 GPUs.
func TestSizingByHand(t *testing.T) {
	s, err := Size(nil, question(1_000_000, "h100", 150, 1.25))
	if err != nil {
		t.Fatal(err)
	}
	near(t, "it_mw_per_site", s.ITMWPerSite, 120, 1e-9)
	if s.NodesPerSite != 11_764 || s.AcceleratorsPerSite != 94_112 {
		t.Errorf("per site = %d nodes, %d GPUs; want 11,764 and 94,112", s.NodesPerSite, s.AcceleratorsPerSite)
	}
	// ceil(1,000,000 / 94,112) = 11 (10 sites hold 941,120).
	if s.SitesNeeded != 11 {
		t.Errorf("sites_needed = %d, want 11", s.SitesNeeded)
	}
	near(t, "substation_mw", s.SubstationMW, 11*150, 1e-9)
	// 125,000 nodes at 2,560 + 0.7×(10,200−2,560) = 7,908 W each.
	near(t, "draw_mw", s.DrawMW, 125_000*7_908/1e6, 1e-6)
	near(t, "annual_gwh", s.AnnualGWh, 125_000*7_908/1e6*1.25*8760/1e3, 1e-6)
}

// GB200 NVL72 is sized in whole racks of 18 four-GPU trays at 7,333 W:
// 125 MW / 7,333 W = 17,046 trays, rounded down to 947 racks = 68,184 GPUs.
func TestSizingWholeNVLinkDomains(t *testing.T) {
	s, err := Size(nil, question(1_000_000, "gb200", 150, 1.2))
	if err != nil {
		t.Fatal(err)
	}
	if s.AcceleratorsPerSite != 947*72 || s.AcceleratorsPerSite%72 != 0 {
		t.Errorf("accelerators_per_site = %d, want %d", s.AcceleratorsPerSite, 947*72)
	}
	if s.SitesNeeded != 15 { // 14 × 68,184 = 954,576 < 1M
		t.Errorf("sites_needed = %d, want 15", s.SitesNeeded)
	}
	if s.Accelerators != 1_000_008 { // 13,889 racks of 72
		t.Errorf("accelerators = %d, want 1,000,008 (whole racks)", s.Accelerators)
	}
}

func TestSizingRejectsBadInput(t *testing.T) {
	inf, neg := math.Inf(1), -1.0
	cases := []struct {
		name string
		set  func(in *SizingInput)
		want string
	}{
		{"no target", func(in *SizingInput) { in.TargetAccelerators = 0 }, "target accelerators must be between 1 and 1,000,000,000"},
		{"target overflows", func(in *SizingInput) { in.TargetAccelerators = math.MaxInt }, "target accelerators must be between 1 and 1,000,000,000"},
		{"target just over", func(in *SizingInput) { in.TargetAccelerators = MaxTargetAccelerators + 1 }, "target accelerators"},
		{"unknown model", func(in *SizingInput) { in.Accelerator = "tpu9" }, `unknown node model or accelerator "tpu9"`},
		{"no pue", func(in *SizingInput) { in.PUE = 0 }, "PUE is required"},
		{"pue below 1", func(in *SizingInput) { in.PUE = 0.9 }, "PUE must be between 1 and 3"},
		{"pue NaN", func(in *SizingInput) { in.PUE = math.NaN() }, "PUE must be between 1 and 3"},
		{"negative site", func(in *SizingInput) { in.SiteMW = -1 }, "site MW must be > 0 and at most 100,000"},
		{"infinite site", func(in *SizingInput) { in.SiteMW = inf }, "site MW must be > 0 and at most 100,000, got +Inf"},
		{"huge site", func(in *SizingInput) { in.SiteMW = 1e300 }, "site MW must be > 0 and at most 100,000"},
		{"NaN site", func(in *SizingInput) { in.SiteMW = math.NaN() }, "site MW"},
		{"load factor over 1", func(in *SizingInput) { in.LoadFactor = 1.5 }, "load factor must be between 0 and 1"},
		{"no households", func(in *SizingInput) { in.HouseholdKWh = 0 }, "household kWh must be > 0, got 0"},
		{"negative price", func(in *SizingInput) { in.PriceUSDPerMWh = &neg }, "price must be finite and >= 0"},
		{"infinite carbon", func(in *SizingInput) { in.CarbonGPerKWh = &inf }, "carbon intensity must be finite and >= 0"},
		{"site too small", func(in *SizingInput) { in.Accelerator, in.SiteMW = "b200", 0.01 }, "cannot feed one dgx-b200 node (8 b200, 14.3 kW)"},
	}
	for _, c := range cases {
		in := question(10, "h100", 150, 1.2)
		c.set(&in)
		_, err := Size(nil, in)
		if !errors.Is(err, ErrOption) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want ErrOption with %q", c.name, err, c.want)
		}
	}
}

// A rack-scale system is sized in whole NVLink domains, so a site too small
// for one says it cannot feed the rack, not one tray.
func TestSizingTooSmallForOneRack(t *testing.T) {
	_, err := Size(nil, question(10, "gb200", 0.1, 1.2))
	want := "cannot feed one rack-wide NVLink domain of 72 gb200 (18 gb200-nvl72-tray nodes, 132.0 kW)"
	if !errors.Is(err, ErrOption) || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want %q", err, want)
	}
	// One rack's worth of IT power (and no more) is enough.
	s, err := Size(nil, question(10, "gb200", 0.132*1.2, 1.2))
	if err != nil || s.AcceleratorsPerSite != 72 || s.SitesNeeded != 1 {
		t.Errorf("one rack: %+v, %v", s, err)
	}
}

// The largest question allowed still gives exact, positive answers.
func TestSizingAtTheBounds(t *testing.T) {
	s, err := Size(nil, question(MaxTargetAccelerators, "gb200", 150, 1.2))
	if err != nil {
		t.Fatal(err)
	}
	if s.SitesNeeded != 14_667 || s.Accelerators != 1_000_000_008 { // ceil(1e9 / 68,184); whole racks of 72
		t.Errorf("1e9 GB200: %d sites, %d accelerators", s.SitesNeeded, s.Accelerators)
	}
	s, err = Size(nil, question(1, "h100", MaxSiteMW, 1))
	if err != nil {
		t.Fatal(err)
	}
	// 100 GW / 10.2 kW = 9,803,921 nodes.
	if s.NodesPerSite != 9_803_921 || s.SitesNeeded != 1 {
		t.Errorf("100 GW site: %d nodes, %d sites", s.NodesPerSite, s.SitesNeeded)
	}
}

// Fit never overflows: no power gives 0, absurd power saturates at MaxFit.
func TestFitIsSafe(t *testing.T) {
	cat := fleet.DefaultCatalog()
	for _, name := range []string{"h100", "gb200"} {
		m := cat.NodeFor(name)
		for _, w := range []float64{0, -1, math.NaN(), math.Inf(-1), 1e300, math.Inf(1), math.MaxFloat64} {
			got := Fit(cat, m, w, 1)
			if got < 0 || got > MaxFit {
				t.Errorf("Fit(%s, %g W) = %d, outside [0, MaxFit]", name, w, got)
			}
			if !(w > 0) && got != 0 {
				t.Errorf("Fit(%s, %g W) = %d, want 0", name, w, got)
			}
			if w > 1e200 && got < MaxFit-72 {
				t.Errorf("Fit(%s, %g W) = %d, want about MaxFit", name, w, got)
			}
			if n := &cat.Nodes[m]; n.NVLinkDomain == "rack" && got%n.NVLinkSize != 0 {
				t.Errorf("Fit(%s, %g W) = %d, not whole NVLink domains", name, w, got)
			}
		}
	}
}

// Without a carbon intensity or price the answer leaves those figures out
// rather than reporting 0; a given 0 is a real 0.
func TestSizingWithoutPriceOrCarbon(t *testing.T) {
	s, err := Size(nil, question(1000, "h100", 150, 1.2))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := s.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"emissions_tco2", "energy_cost_usd"} {
		if strings.Contains(b.String(), k) {
			t.Errorf("JSON has %q though none was asked for:\n%s", k, b.String())
		}
	}
	b.Reset()
	s.WriteTable(&b)
	for _, want := range []string{"needs a carbon intensity (--carbon-g-kwh)", "needs an energy price (--price-usd-mwh)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}

	zero, price := 0.0, 50.0
	in := question(1000, "h100", 150, 1.2)
	in.CarbonGPerKWh, in.PriceUSDPerMWh = &zero, &price
	if s, err = Size(nil, in); err != nil {
		t.Fatal(err)
	}
	if s.EmissionsTCO2 == nil || *s.EmissionsTCO2 != 0 {
		t.Errorf("carbon 0 given: emissions = %v, want 0", s.EmissionsTCO2)
	}
	if s.EnergyCostUSD == nil {
		t.Fatal("price given: no energy cost")
	}
	near(t, "energy_cost_usd", *s.EnergyCostUSD, s.AnnualGWh*1e3*50, 1e-6)
	b.Reset()
	s.WriteJSON(&b)
	if !strings.Contains(b.String(), `"emissions_tco2": 0,`) {
		t.Errorf("carbon 0 given: JSON lacks emissions_tco2 0:\n%s", b.String())
	}
}

// Zero is a value, not "use the default": a load factor of 0 leaves every
// accelerator idle, and households need a positive kWh.
func TestZeroIsHonoured(t *testing.T) {
	fl := load(t, "small")
	idle, err := Fleet(fl, with(func(o *Options) { o.LoadFactor = 0 }))
	if err != nil {
		t.Fatal(err)
	}
	if idle.LoadFactor != 0 {
		t.Errorf("report load factor = %v, want 0", idle.LoadFactor)
	}
	near(t, "draw at load 0 is idle", idle.Sites[0].DrawMW, 16*2_560/1e6, 1e-12) // 8×70 + 2,000 W a node
	for _, kwh := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		_, err := Fleet(fl, with(func(o *Options) { o.HouseholdKWh = kwh }))
		if !errors.Is(err, ErrOption) || !strings.Contains(err.Error(), "household kWh must be > 0") {
			t.Errorf("household kWh %v: err = %v", kwh, err)
		}
	}
	if _, err := Fleet(fl, Options{}); !errors.Is(err, ErrOption) {
		t.Errorf("zero Options: err = %v, want ErrOption (households)", err)
	}
	in := question(1000, "h100", 150, 1.2)
	in.LoadFactor = 0
	s, err := Size(nil, in)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "sizing draw at load 0", s.DrawMW, 125*2_560/1e6, 1e-12) // 1,000 GPUs = 125 nodes
	if d := DefaultOptions(); d.LoadFactor != 0.7 || d.HouseholdKWh != 10_791 {
		t.Errorf("DefaultOptions() = %+v", d)
	}
}

// An accelerator declared in a file's catalog without a node model is known;
// asking to fill sites with it says what is missing.
func TestAcceleratorWithoutNodeModel(t *testing.T) {
	fl, err := fleet.Parse(strings.NewReader(`catalog:
  accelerators:
    - {name: tpu, tdp_w: 300, idle_w: 50}
regions:
  - name: r
    sites:
      - name: s
        substation_mw: 1
        pue: 1.2
        energy: [{source: nuclear, share: 1}]
`))
	if err != nil {
		t.Fatal(err)
	}
	want := `accelerator "tpu" is in the catalog but has no node model: set node: on the accelerator, or name a node model`
	if _, err := Fleet(fl, with(func(o *Options) { o.Accelerator = "tpu" })); !errors.Is(err, ErrOption) || !strings.Contains(err.Error(), want) {
		t.Errorf("what-if: err = %v, want %q", err, want)
	}
	if _, err := Size(fl.Catalog, question(10, "tpu", 150, 1.2)); !errors.Is(err, ErrOption) || !strings.Contains(err.Error(), want) {
		t.Errorf("sizing: err = %v, want %q", err, want)
	}
}

// Small MW and GWh figures keep three significant digits; large ones one
// decimal.
func TestMWFormat(t *testing.T) {
	for x, want := range map[float64]string{
		0: "0.0", 0.16320: "0.163", 0.12653: "0.127", 0.0421: "0.0421", 1.5384: "1.54",
		9.994: "9.99", 9.996: "10.0", 125: "125.0", 14_641.04: "14,641.0", 0.0000001: "0.000000",
	} {
		if got := mw(x); got != want {
			t.Errorf("mw(%v) = %q, want %q", x, got, want)
		}
	}
}

func load(t testing.TB, name string) *fleet.Fleet {
	t.Helper()
	f, err := examples.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fl, err := fleet.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	return fl
}

// The small example by hand: 16 DGX H100 on a 2 MW feed at PUE 1.3, grid
// power at 80 USD/MWh and 370 g/kWh.
func TestSmallSiteByHand(t *testing.T) {
	r, err := Fleet(load(t, "small"), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	s := r.Sites[0]
	near(t, "it_mw", s.ITMW, 2/1.3, 1e-12)
	if s.Accelerators != 128 {
		t.Errorf("accelerators = %d, want 128", s.Accelerators)
	}
	// floor(1,538,461 W / 10,200 W) = 150 nodes.
	if s.MaxAccelerators != 1200 {
		t.Errorf("max_accelerators = %d, want 1200", s.MaxAccelerators)
	}
	near(t, "nameplate_mw", s.NameplateMW, 16*10_200/1e6, 1e-12)
	drawW := 16 * 7_908.0 // idle 8×70+2,000 = 2,560 W; 2,560 + 0.7×7,640
	near(t, "draw_mw", s.DrawMW, drawW/1e6, 1e-12)
	mwh := drawW * 1.3 * 8760 / 1e6
	near(t, "annual_gwh", s.AnnualGWh, mwh/1e3, 1e-9)
	near(t, "emissions_tco2", s.EmissionsTCO2, mwh*370/1e3, 1e-6)
	near(t, "energy_cost_usd", s.EnergyCostUSD, mwh*80, 1e-4)
	near(t, "households", s.Households, mwh*1e3/DefaultHouseholdKWh, 1e-6)
	if r.Totals != s.Figures {
		t.Errorf("one-site fleet: totals %+v differ from the site %+v", r.Totals, s.Figures)
	}
}

func TestWhatIf(t *testing.T) {
	fl := load(t, "small")
	base, _ := Fleet(fl, DefaultOptions())
	pue, err := Fleet(fl, with(func(o *Options) { o.PUE = 1.1 }))
	if err != nil {
		t.Fatal(err)
	}
	near(t, "it_mw at PUE 1.1", pue.Sites[0].ITMW, 2/1.1, 1e-12)
	near(t, "energy scales with PUE", pue.Sites[0].AnnualGWh/base.Sites[0].AnnualGWh, 1.1/1.3, 1e-12)

	full, err := Fleet(fl, with(func(o *Options) { o.LoadFactor = 1 }))
	if err != nil {
		t.Fatal(err)
	}
	near(t, "draw at load 1 is nameplate", full.Sites[0].DrawMW, full.Sites[0].NameplateMW, 1e-12)

	b200, err := Fleet(fl, with(func(o *Options) { o.Accelerator = "b200" }))
	if err != nil {
		t.Fatal(err)
	}
	// Filled with DGX B200 (14.3 kW): floor(1,538,461 / 14,300) = 107 nodes.
	if s := b200.Sites[0]; s.Model != "b200" || s.Accelerators != 856 || s.MaxAccelerators != 856 {
		t.Errorf("b200 build-out = %s %d/%d, want b200 856/856", s.Model, s.Accelerators, s.MaxAccelerators)
	}
	if _, err := Fleet(fl, with(func(o *Options) { o.Accelerator = "tpu9" })); !errors.Is(err, ErrOption) {
		t.Errorf("unknown accelerator: err = %v", err)
	}
	if _, err := Fleet(fl, with(func(o *Options) { o.PUE = 0.5 })); !errors.Is(err, ErrOption) {
		t.Errorf("PUE 0.5: err = %v", err)
	}
}

func TestDispatch(t *testing.T) {
	ten := 10.0
	day := make([]float64, 24)
	for h := 6; h < 18; h++ {
		day[h] = 1 // 12 full-sun hours a day
	}
	srcs := []fleet.EnergySource{
		{Source: "solar", MW: 50, PriceUSDPerMWh: 20, Profile: fleet.Profile{Output: day}},
		{Source: "gas", Share: 0.5, PriceUSDPerMWh: 40},
		{Source: "grid", Share: 0.5, PriceUSDPerMWh: 60, CarbonGPerKWh: &ten},
	}
	mix, unserved := Dispatch(srcs, 100)
	// Solar gives 50 MW for 12 h a day; the rest splits in half.
	solar := 50.0 * 12 * 365 / 1e3
	rest := (100*8760/1e3 - solar) / 2
	near(t, "solar GWh", mix[0].GWh, solar, 1e-9)
	near(t, "gas GWh", mix[1].GWh, rest, 1e-9)
	near(t, "grid GWh", mix[2].GWh, rest, 1e-9)
	near(t, "gas tCO2 (IPCC default 490)", mix[1].EmissionsTCO2, rest*1e3*490/1e3, 1e-6)
	near(t, "grid USD", mix[2].CostUSD, rest*1e3*60, 1e-3)
	if unserved != 0 {
		t.Errorf("unserved = %v with share sources", unserved)
	}
	near(t, "shares add to 1", mix[0].Share+mix[1].Share+mix[2].Share, 1, 1e-12)

	// Capacity alone, short of demand: the gap is reported, not hidden.
	_, unserved = Dispatch([]fleet.EnergySource{{Source: "nuclear", MW: 80}}, 100)
	near(t, "unserved GWh", unserved, 20*8760/1e3, 1e-9)
}

func TestRegionAndFleetTotals(t *testing.T) {
	r, err := Fleet(load(t, "stargate"), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	var sum Figures
	for i := range r.Sites {
		sum.add(&r.Sites[i].Figures)
	}
	near(t, "annual_gwh total", r.Totals.AnnualGWh, sum.AnnualGWh, 1e-6)
	if r.Totals.Accelerators != 1_084_160 {
		t.Errorf("accelerators = %d, want 1,084,160", r.Totals.Accelerators)
	}
	var regions Figures
	for i := range r.Regions {
		regions.add(&r.Regions[i].Figures)
	}
	near(t, "regions add to fleet", regions.EmissionsTCO2, r.Totals.EmissionsTCO2, 1e-3)
	for _, s := range r.Sites {
		if s.Accelerators > s.MaxAccelerators {
			t.Errorf("%s: %d installed > %d that fit", s.Name, s.Accelerators, s.MaxAccelerators)
		}
	}
}

// Golden output of every format on the examples; -update rewrites them.
func TestGolden(t *testing.T) {
	for _, name := range []string{"small", "stargate"} {
		r, err := Fleet(load(t, name), DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		for ext, write := range map[string]func(*bytes.Buffer) error{
			"txt":  func(b *bytes.Buffer) error { return r.WriteTable(b) },
			"json": func(b *bytes.Buffer) error { return r.WriteJSON(b) },
			"csv":  func(b *bytes.Buffer) error { return r.WriteCSV(b) },
		} {
			var b bytes.Buffer
			if err := write(&b); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", name+"."+ext), b.Bytes())
		}
	}
	s, err := Size(nil, question(1_000_000, "gb200", 150, 1.2))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := s.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, filepath.Join("testdata", "sizing-gb200.txt"), b.Bytes())
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./plan -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (go test ./plan -update rewrites it):\n--- got\n%s", path, got)
	}
}

// TestEveryCatalogEntry: both forms of --accelerator answer for every
// built-in accelerator, by name and by each alias: the what-if on the
// built-in example fleet, and the sizing question of 100,000 accelerators
// in 150 MW sites at PUE 1.2. The sizing answer is recounted: whole
// scale-up domains, each site's nodes within its IT power, enough sites
// and accelerators for the target.
func TestEveryCatalogEntry(t *testing.T) {
	cat := fleet.DefaultCatalog()
	f := load(t, "stargate")
	for _, a := range cat.Accelerators {
		for _, name := range append([]string{a.Name}, a.Aliases...) {
			t.Run(name, func(t *testing.T) {
				r, err := Fleet(f, with(func(o *Options) { o.Accelerator = name }))
				if err != nil {
					t.Fatalf("what-if: %v", err)
				}
				for _, s := range r.Sites {
					if s.Model != a.Name {
						t.Errorf("what-if: site %s counts %s, want %s", s.Name, s.Model, a.Name)
					}
				}
				s, err := Size(nil, question(100_000, name, 150, 1.2))
				if err != nil {
					t.Fatalf("sizing: %v", err)
				}
				nm := &cat.Nodes[cat.NodeFor(name)]
				unit := nm.Accelerators
				if nm.NVLinkDomain != fleet.DomainNode {
					unit = nm.NVLinkSize // a rack, a supernode or a pod is built whole
				}
				rated := float64(nm.Accelerators)*a.TDPW + nm.OverheadW
				nodes := s.AcceleratorsPerSite / nm.Accelerators
				switch {
				case s.Accelerator != a.Name || s.NodeModel != nm.Name:
					t.Errorf("sized %s on %s, want %s on %s", s.Accelerator, s.NodeModel, a.Name, nm.Name)
				case s.AcceleratorsPerSite <= 0 || s.AcceleratorsPerSite%unit != 0:
					t.Errorf("%d per site, not whole domains of %d", s.AcceleratorsPerSite, unit)
				case float64(nodes)*rated > 125e6+1e-3:
					t.Errorf("%d nodes of %g W exceed 125 MW of IT", nodes, rated)
				case float64(nodes+unit/nm.Accelerators)*rated <= 125e6:
					t.Errorf("%d nodes of %g W leave room for another domain in 125 MW", nodes, rated)
				case s.SitesNeeded*s.AcceleratorsPerSite < 100_000 || (s.SitesNeeded-1)*s.AcceleratorsPerSite >= 100_000:
					t.Errorf("%d sites of %d for 100,000", s.SitesNeeded, s.AcceleratorsPerSite)
				case s.Accelerators < 100_000 || s.Accelerators%unit != 0 || s.Accelerators-unit >= 100_000:
					t.Errorf("builds %d, want 100,000 rounded up to domains of %d", s.Accelerators, unit)
				}
				near(t, "draw_mw", s.DrawMW, float64(s.Accelerators/nm.Accelerators)*nm.DrawW(&a, 0.7)/1e6, 1e-6)
			})
		}
	}
}

// The README's hand computations for two of the newer entries.
func TestSizingNewEntriesByHand(t *testing.T) {
	// MI355X: 8 × 1,400 W + 4,000 W = 15.2 kW a node; 125 MW feeds
	// 8,223 nodes, 65,784 GPUs; 2 sites; 12,500 nodes drawing
	// 3,240 + 0.7 × (15,200 − 3,240) = 11,612 W each.
	s, err := Size(nil, question(100_000, "mi355x", 150, 1.2))
	if err != nil {
		t.Fatal(err)
	}
	if s.NodesPerSite != 8_223 || s.AcceleratorsPerSite != 65_784 || s.SitesNeeded != 2 || s.Accelerators != 100_000 {
		t.Errorf("mi355x: %d nodes, %d GPUs a site, %d sites, %d built", s.NodesPerSite, s.AcceleratorsPerSite, s.SitesNeeded, s.Accelerators)
	}
	near(t, "mi355x draw_mw", s.DrawMW, 12_500*11_612/1e6, 1e-6)
	// CloudMatrix 384: 11,646 W a node; 125 MW feeds 10,733 nodes, kept
	// to whole supernodes of 48 nodes: 223 supernodes, 85,632 NPUs; 2
	// sites; 261 supernodes built (100,224 NPUs, 12,528 nodes) drawing
	// 3,400 + 0.7 × (11,646 − 3,400) = 9,172.2 W each.
	s, err = Size(nil, question(100_000, "ascend-910c", 150, 1.2))
	if err != nil {
		t.Fatal(err)
	}
	if s.NodesPerSite != 10_704 || s.AcceleratorsPerSite != 85_632 || s.SitesNeeded != 2 || s.Accelerators != 100_224 {
		t.Errorf("ascend-910c: %d nodes, %d NPUs a site, %d sites, %d built", s.NodesPerSite, s.AcceleratorsPerSite, s.SitesNeeded, s.Accelerators)
	}
	near(t, "ascend-910c draw_mw", s.DrawMW, 12_528*9_172.2/1e6, 1e-6)
}

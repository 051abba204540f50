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

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %v, want %v (±%v)", what, got, want, tol)
	}
}

// The hand computation: 150 MW at PUE 1.25 feeds 120 MW of IT; at
// 10.2 kW per 8-GPU node that is 11,764 nodes, 94,112 GPUs.
func TestSizingByHand(t *testing.T) {
	s, err := Size(nil, SizingInput{TargetAccelerators: 1_000_000, Accelerator: "h100", SiteMW: 150, PUE: 1.25})
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
	s, err := Size(nil, SizingInput{TargetAccelerators: 1_000_000, Accelerator: "gb200", SiteMW: 150, PUE: 1.2})
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
	cases := map[string]SizingInput{
		"no target":          {Accelerator: "h100", SiteMW: 150, PUE: 1.2},
		"unknown model":      {TargetAccelerators: 10, Accelerator: "tpu9", SiteMW: 150, PUE: 1.2},
		"no pue":             {TargetAccelerators: 10, Accelerator: "h100", SiteMW: 150},
		"pue below 1":        {TargetAccelerators: 10, Accelerator: "h100", SiteMW: 150, PUE: 0.9},
		"negative site":      {TargetAccelerators: 10, Accelerator: "h100", SiteMW: -1, PUE: 1.2},
		"site too small":     {TargetAccelerators: 10, Accelerator: "b200", SiteMW: 0.01, PUE: 1.2},
		"load factor over 1": {TargetAccelerators: 10, Accelerator: "h100", SiteMW: 150, PUE: 1.2, LoadFactor: 1.5},
	}
	for name, in := range cases {
		if _, err := Size(nil, in); !errors.Is(err, ErrOption) {
			t.Errorf("%s: err = %v, want ErrOption", name, err)
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
	r, err := Fleet(load(t, "small"), Options{})
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
	base, _ := Fleet(fl, Options{})
	pue, err := Fleet(fl, Options{PUE: 1.1})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "it_mw at PUE 1.1", pue.Sites[0].ITMW, 2/1.1, 1e-12)
	near(t, "energy scales with PUE", pue.Sites[0].AnnualGWh/base.Sites[0].AnnualGWh, 1.1/1.3, 1e-12)

	full, err := Fleet(fl, Options{LoadFactor: 1})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "draw at load 1 is nameplate", full.Sites[0].DrawMW, full.Sites[0].NameplateMW, 1e-12)

	b200, err := Fleet(fl, Options{Accelerator: "b200"})
	if err != nil {
		t.Fatal(err)
	}
	// Filled with DGX B200 (14.3 kW): floor(1,538,461 / 14,300) = 107 nodes.
	if s := b200.Sites[0]; s.Model != "b200" || s.Accelerators != 856 || s.MaxAccelerators != 856 {
		t.Errorf("b200 build-out = %s %d/%d, want b200 856/856", s.Model, s.Accelerators, s.MaxAccelerators)
	}
	if _, err := Fleet(fl, Options{Accelerator: "tpu9"}); !errors.Is(err, ErrOption) {
		t.Errorf("unknown accelerator: err = %v", err)
	}
	if _, err := Fleet(fl, Options{PUE: 0.5}); !errors.Is(err, ErrOption) {
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
	r, err := Fleet(load(t, "stargate"), Options{})
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
		r, err := Fleet(load(t, name), Options{})
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
	s, err := Size(nil, SizingInput{TargetAccelerators: 1_000_000, Accelerator: "gb200", SiteMW: 150, PUE: 1.2})
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

func TestHTMLIsSelfContained(t *testing.T) {
	r, err := Fleet(load(t, "stargate"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := r.WriteHTML(&b, "plan <test>"); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{"<svg", "abilene", "nuclear", "plan &lt;test&gt;", "Power budget"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, banned := range []string{"<script", "http://cdn", "https://"} {
		if strings.Contains(page, banned) {
			t.Errorf("page contains %q: it must work offline", banned)
		}
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run runs the stargate command line in-process.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := Run(context.Background(), args, &out, &errOut)
	return out.String() + errOut.String(), err
}

func TestPlanSizingJSON(t *testing.T) {
	out, err := run(t, "plan", "--target-accelerators", "1000000", "--accelerator", "gb200", "--site-mw", "150", "--pue", "1.2", "-o", "json")
	if err != nil {
		t.Fatal(err, out)
	}
	var s struct {
		SitesNeeded         int     `json:"sites_needed"`
		AcceleratorsPerSite int     `json:"accelerators_per_site"`
		ITMWPerSite         float64 `json:"it_mw_per_site"`
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatal(err, out)
	}
	if s.SitesNeeded != 15 || s.AcceleratorsPerSite != 68_184 || s.ITMWPerSite != 125 {
		t.Errorf("sizing = %+v", s)
	}
}

func TestPlanFileJSONShape(t *testing.T) {
	out, err := run(t, "plan", "-f", "../../examples/small.yaml", "-o", "json", "--pue", "1.1")
	if err != nil {
		t.Fatal(err, out)
	}
	var r struct {
		Sites  []map[string]any `json:"sites"`
		Totals map[string]any   `json:"totals"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"name", "region", "substation_mw", "it_mw", "accelerators", "max_accelerators", "annual_gwh", "emissions_tco2", "energy_cost_usd"} {
		if _, ok := r.Sites[0][k]; !ok {
			t.Errorf("site lacks %q", k)
		}
	}
	if r.Sites[0]["pue"] != 1.1 {
		t.Errorf("--pue 1.1 not applied: pue = %v", r.Sites[0]["pue"])
	}
	if r.Totals["accelerators"] != 128.0 {
		t.Errorf("totals.accelerators = %v", r.Totals["accelerators"])
	}
}

func TestPlanHTMLAndCSV(t *testing.T) {
	page := filepath.Join(t.TempDir(), "plan.html")
	out, err := run(t, "plan", "--html", page, "-o", "csv")
	if err != nil {
		t.Fatal(err, out)
	}
	if !strings.HasPrefix(out, "kind,name,region,") || !strings.Contains(out, "\nfleet,fleet,") {
		t.Errorf("csv output:\n%s", out)
	}
	b, err := os.ReadFile(page)
	if err != nil || !bytes.Contains(b, []byte("function sgLineChart")) || !bytes.Contains(b, []byte(`id="c-mix-0"`)) ||
		!bytes.Contains(b, []byte("<dt>fleet</dt><dd>example stargate</dd>")) {
		t.Errorf("html report: %v", err)
	}
}

// The plan report drawn by a real browser from a file, offline, with a
// what-if among its assumptions and the load-duration curves of
// --flexibility.
func TestPlanReportInBrowser(t *testing.T) {
	exe := chromium(t)
	page := filepath.Join(t.TempDir(), "plan.html")
	if out, err := run(t, "plan", "--html", page, "--pue", "1.1", "--flexibility", "44"); err != nil {
		t.Fatal(err, out)
	}
	b, _ := os.ReadFile(page)
	if !bytes.Contains(b, []byte("<dt>what if: PUE</dt><dd>1.10 at every site</dd>")) {
		t.Error("the report does not say which what-if it answers")
	}
	checkReportInBrowser(t, exe, page, "plan-report")
}

func TestPlanErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("regions:\n  - name: r\n    sites:\n      - name: s\n        substation_mw: -5\n        pue: 1.2\n        colour: red\n"), 0o644)
	// An accelerator declared without a node model: the file loads; filling
	// sites with it cannot.
	tpu := filepath.Join(t.TempDir(), "tpu.yaml")
	os.WriteFile(tpu, []byte("catalog:\n  accelerators:\n    - {name: tpu, tdp_w: 300}\nregions:\n  - name: r\n    sites:\n      - name: s\n        substation_mw: 1\n        pue: 1.2\n        energy: [{source: nuclear, share: 1}]\n"), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"plan", "-o", "xml"}, "--output must be table, json or csv"},
		{[]string{"plan", "-f", "/nonexistent.yaml"}, "no such file"},
		{[]string{"plan", "--example", "nope"}, "no built-in fleet"},
		{[]string{"plan", "-f", bad}, "substation_mw: must be > 0"},
		{[]string{"plan", "-f", bad}, `unknown field "colour"`},
		{[]string{"plan", "--load-factor", "2"}, "load factor must be between 0 and 1"},
		{[]string{"plan", "--accelerator", "tpu9"}, `unknown node model or accelerator "tpu9"`},
		{[]string{"plan", "-f", bad}, "fleet: " + bad + ": 3 problem(s):"},
		{[]string{"plan", "--household-kwh", "0"}, "household kWh must be > 0, got 0"},
		{[]string{"plan", "--target-accelerators", "9223372036854775807", "--accelerator", "gb200", "--site-mw", "150", "--pue", "1.2"}, "target accelerators must be between 1 and 1,000,000,000"},
		{[]string{"plan", "--target-accelerators", "10", "--accelerator", "gb200", "--site-mw", "Inf", "--pue", "1.2"}, "site MW must be > 0 and at most 100,000, got +Inf"},
		{[]string{"plan", "--target-accelerators", "10", "--accelerator", "gb200", "--site-mw", "1e300", "--pue", "1.2"}, "site MW must be > 0 and at most 100,000"},
		{[]string{"plan", "--target-accelerators", "10", "--accelerator", "gb200", "--site-mw", "0.1", "--pue", "1.2"}, "cannot feed one rack-wide NVLink domain of 72 gb200 (18 gb200-nvl72-tray nodes, 132.0 kW)"},
		{[]string{"plan", "-f", tpu, "--accelerator", "tpu"}, `accelerator "tpu" is in the catalog but has no node model: set node: on the accelerator, or name a node model`},
		{[]string{"plan", "--target-accelerators", "10", "--accelerator", "h100", "--site-mw", "150", "--pue", "1.2", "--carbon-g-kwh", "NaN"}, "carbon intensity must be finite and >= 0"},
		{[]string{"plan", "--target-accelerators", "10", "--site-mw", "150", "--pue", "1.2"}, "sizing needs --accelerator"},
		{[]string{"plan", "--target-accelerators", "10", "--accelerator", "h100", "--site-mw", "150"}, "PUE is required"},
		{[]string{"plan", "--site-mw", "150"}, "needs --target-accelerators"},
		{[]string{"plan", "--flexibility", "-1"}, "flexibility hours must be between 0 and 8760 (a year), got -1"},
		{[]string{"plan", "--flexibility", "9000"}, "flexibility hours must be between 0 and 8760 (a year), got 9000"},
		{[]string{"plan", "--flexibility", "many"}, `invalid argument "many" for "--flexibility"`},
		{[]string{"plan", "--cut", "0"}, "cut must be between 0 and 1 (exclusive; 25% is 0.25), got 0"},
		{[]string{"plan", "--cut", "100%"}, "cut must be between 0 and 1 (exclusive; 25% is 0.25), got 1"},
		{[]string{"plan", "--cut", "25"}, "cut must be between 0 and 1 (exclusive; 25% is 0.25), got 25"},
		{[]string{"plan", "--cut", "a quarter"}, `want a share such as 25% or 0.25, got "a quarter"`},
		{[]string{"plan", "--inference-share", "1.2"}, "inference share must be between 0 and 1, got 1.2"},
		{[]string{"plan", "--cap-fraction", "0"}, "cap fraction must be > 0 and at most 1, got 0"},
		{[]string{"plan", "--peak-load-factor", "0.9"}, "--peak-load-factor shapes the load curve of --flexibility and needs it"},
		{[]string{"plan", "--flexibility", "44", "--peak-load-factor", "0.5"}, "peak load factor must be between the load factor 0.7 and 1, got 0.5"},
		{[]string{"plan", "--target-accelerators", "10", "--accelerator", "h100", "--site-mw", "150", "--pue", "1.2", "--flexibility", "44"}, "--flexibility is for fleet plans, not sizing"},
		{[]string{"plan", "--target-accelerators", "10", "--accelerator", "h100", "--site-mw", "150", "--pue", "1.2", "--cut", "30%"}, "--cut is for fleet plans, not sizing"},
		{[]string{"plan", "stray"}, "unknown command"},
	}
	for _, c := range cases {
		out, err := run(t, c.args...)
		if err == nil {
			t.Errorf("%v: no error; output:\n%s", c.args, out)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %q lacks %q", c.args, err, c.want)
		}
	}
}

// Zero is a value: --load-factor 0 plans every accelerator idle.
func TestPlanLoadFactorZero(t *testing.T) {
	draw := func(args ...string) float64 {
		t.Helper()
		out, err := run(t, append([]string{"plan", "--example", "small", "-o", "json"}, args...)...)
		if err != nil {
			t.Fatal(err, out)
		}
		var r struct {
			LoadFactor float64 `json:"load_factor"`
			Totals     struct {
				DrawMW float64 `json:"draw_mw"`
			} `json:"totals"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		return r.Totals.DrawMW
	}
	// 16 DGX H100: 2,560 W idle, 7,908 W at the default 0.7.
	if got := draw("--load-factor", "0"); math.Abs(got-16*2_560/1e6) > 1e-9 {
		t.Errorf("--load-factor 0: draw %v MW, want idle %v", got, 16*2_560/1e6)
	}
	if got := draw(); math.Abs(got-16*7_908/1e6) > 1e-9 {
		t.Errorf("default load factor: draw %v MW, want %v", got, 16*7_908/1e6)
	}
}

// Sizing without a price or carbon intensity leaves cost and emissions out
// instead of reporting 0; given, they appear.
func TestPlanSizingWithoutPriceOrCarbon(t *testing.T) {
	args := []string{"plan", "--target-accelerators", "1000", "--accelerator", "h100", "--site-mw", "150", "--pue", "1.2"}
	out, err := run(t, append(args, "-o", "json")...)
	if err != nil {
		t.Fatal(err, out)
	}
	if strings.Contains(out, "emissions_tco2") || strings.Contains(out, "energy_cost_usd") {
		t.Errorf("JSON reports figures nobody asked for:\n%s", out)
	}
	out, err = run(t, args...)
	if err != nil || !strings.Contains(out, "--carbon-g-kwh") || !strings.Contains(out, "--price-usd-mwh") {
		t.Errorf("table does not say what cost and emissions need (%v):\n%s", err, out)
	}
	out, err = run(t, append(args, "-o", "json", "--carbon-g-kwh", "0", "--price-usd-mwh", "50")...)
	if err != nil {
		t.Fatal(err, out)
	}
	var s map[string]any
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatal(err)
	}
	if s["emissions_tco2"] != 0.0 {
		t.Errorf("--carbon-g-kwh 0: emissions_tco2 = %v, want 0", s["emissions_tco2"])
	}
	if c, _ := s["energy_cost_usd"].(float64); c <= 0 {
		t.Errorf("--price-usd-mwh 50: energy_cost_usd = %v", s["energy_cost_usd"])
	}
}

// planJSON runs plan with -o json and decodes the grid figures.
func planJSON(t *testing.T, args ...string) planGrid {
	t.Helper()
	out, err := run(t, append([]string{"plan", "-o", "json"}, args...)...)
	if err != nil {
		t.Fatal(err, out)
	}
	var r planGrid
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err, out)
	}
	return r
}

type planGrid struct {
	Grid struct {
		InferenceShare float64 `json:"inference_share"`
		CapFraction    float64 `json:"cap_fraction"`
		Cut            float64 `json:"cut"`
	} `json:"grid"`
	Flexibility *struct {
		Hours   float64 `json:"hours"`
		ExtraMW float64 `json:"extra_mw"`
	} `json:"flexibility"`
	Sites []struct {
		Name       string  `json:"name"`
		FlexibleMW float64 `json:"flexible_mw"`
		CapCutMW   float64 `json:"cap_cut_mw"`
		Grid       struct {
			FlexibleShare float64  `json:"flexible_share"`
			Hold          string   `json:"hold"`
			HoldHours     *float64 `json:"hold_hours"`
		} `json:"grid"`
		Headroom *struct {
			FirmExtraMW float64 `json:"firm_extra_mw"`
			ExtraMW     float64 `json:"extra_mw"`
		} `json:"headroom"`
	} `json:"sites"`
}

// The built-in fleet: its GB200 sites hold a 25% cut by caps alone, its
// H100 sites for 19.8 h (see plan's TestFlexibilityByHand for the H100
// arithmetic); --flexibility 44 adds each site's headroom.
func TestPlanFlexibility(t *testing.T) {
	r := planJSON(t)
	if r.Flexibility != nil || r.Sites[0].Headroom != nil {
		t.Error("headroom reported without --flexibility")
	}
	if r.Grid.InferenceShare != 0.15 || r.Grid.CapFraction != 0.5 || r.Grid.Cut != 0.25 {
		t.Errorf("grid assumptions %+v", r.Grid)
	}
	for _, s := range r.Sites {
		switch s.Name {
		case "abilene", "clinton", "shenandoah":
			if s.Grid.Hold != "indefinite" || s.Grid.HoldHours != nil {
				t.Errorf("%s: hold %q %v, want indefinite", s.Name, s.Grid.Hold, s.Grid.HoldHours)
			}
		default:
			if s.Grid.Hold != "limited" || s.Grid.HoldHours == nil || math.Abs(*s.Grid.HoldHours-19.766) > 1e-3 {
				t.Errorf("%s: hold %q %v, want 19.766 h", s.Name, s.Grid.Hold, s.Grid.HoldHours)
			}
		}
	}
	r = planJSON(t, "--flexibility", "44")
	if r.Flexibility == nil || r.Flexibility.Hours != 44 {
		t.Fatalf("flexibility %+v", r.Flexibility)
	}
	var extra float64
	for _, s := range r.Sites {
		if s.Headroom == nil || s.Headroom.ExtraMW < s.Headroom.FirmExtraMW {
			t.Errorf("%s: headroom %+v", s.Name, s.Headroom)
			continue
		}
		extra += s.Headroom.ExtraMW
	}
	if math.Abs(extra-r.Flexibility.ExtraMW) > 1e-6 || math.Abs(extra-287.298) > 1e-3 {
		t.Errorf("fleet extra %v MW, sites add to %v (want 287.298)", r.Flexibility.ExtraMW, extra)
	}
	// A cut as a percentage or a fraction; a deeper one holds less.
	a, b := planJSON(t, "--cut", "30%"), planJSON(t, "--cut", "0.3")
	if a.Grid.Cut != 0.3 || b.Grid.Cut != 0.3 || *a.Sites[1].Grid.HoldHours != *b.Sites[1].Grid.HoldHours ||
		*a.Sites[1].Grid.HoldHours >= 19.766 {
		t.Errorf("--cut 30%%: %v, --cut 0.3: %v; houston holds %v h", a.Grid.Cut, b.Grid.Cut, *a.Sites[1].Grid.HoldHours)
	}
	// More inference leaves less to bend.
	if c := planJSON(t, "--inference-share", "0.5"); c.Sites[0].FlexibleMW >= r.Sites[0].FlexibleMW {
		t.Errorf("inference 50%%: flexible %v MW, at 15%%: %v", c.Sites[0].FlexibleMW, r.Sites[0].FlexibleMW)
	}
	out, err := run(t, "plan", "--flexibility", "44")
	if err != nil || !strings.Contains(out, "DRAW AT 44 h MW") || !strings.Contains(out, "flexibility: 44 h of curtailment a year (0.5% of its hours)") {
		t.Errorf("table (%v):\n%s", err, out)
	}
	page := filepath.Join(t.TempDir(), "plan.html")
	if out, err := run(t, "plan", "--flexibility", "44", "--html", page); err != nil {
		t.Fatal(err, out)
	}
	if b, _ := os.ReadFile(page); !bytes.Contains(b, []byte(`id="c-ldc-0"`)) || !bytes.Contains(b, []byte("Grid flexibility by site")) {
		t.Error("the report lacks the grid section or the load-duration curves")
	}
}

// The help states the method and its assumptions.
func TestPlanHelpStatesFlexibilityMethod(t *testing.T) {
	out, err := run(t, "plan", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Norris et al.", "d(x) = peak − (peak − low) × x / 8760", "extra = min(IT − d(HOURS), IT − d(0) + caps shed)",
		"cap^(1/3)", "hold = 24 × catch-up / (stopped + catch-up)", "--inference-share", "--flexibility"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan --help lacks %q", want)
		}
	}
}

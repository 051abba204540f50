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
// what-if among its assumptions.
func TestPlanReportInBrowser(t *testing.T) {
	exe := chromium(t)
	page := filepath.Join(t.TempDir(), "plan.html")
	if out, err := run(t, "plan", "--html", page, "--pue", "1.1"); err != nil {
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

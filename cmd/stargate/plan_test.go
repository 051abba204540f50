package main

import (
	"bytes"
	"context"
	"encoding/json"
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
	if err != nil || !bytes.Contains(b, []byte("<svg")) {
		t.Errorf("html report: %v", err)
	}
}

func TestPlanErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("regions:\n  - name: r\n    sites:\n      - name: s\n        substation_mw: -5\n        pue: 1.2\n        colour: red\n"), 0o644)
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
		{[]string{"plan", "--accelerator", "tpu9"}, `unknown accelerator "tpu9"`},
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

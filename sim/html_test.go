package sim

import (
	"bytes"
	"encoding/json"
	"math"
	"regexp"
	"strings"
	"testing"

	"stargate/engine"
	"stargate/internal/chart"
	"stargate/trace"
)

// reportData is the page's JSON block, as its script reads it.
type reportData struct {
	Charts []struct {
		ID         string            `json:"id"`
		Label      string            `json:"label"`
		Unit       string            `json:"unit"`
		XUnit      string            `json:"xUnit"`
		LogX       bool              `json:"logX"`
		Limit      float64           `json:"limit"`
		LimitLabel string            `json:"limitLabel"`
		Refs       []chart.Ref       `json:"refs"`
		Stack      bool              `json:"stack"`
		Series     []json.RawMessage `json:"series"`
		series     []reportSeries    // decoded
	} `json:"charts"`
	Xs map[string][]float64 `json:"xs"`
}

type reportSeries struct {
	Name   string    `json:"name"`
	Xs     any       `json:"xs"`
	Values []float64 `json:"values"`
}

// readReport writes the report of rs and returns the page and its data.
func readReport(t *testing.T, params []Param, rs []*Result) (string, *reportData, map[string]int) {
	t.Helper()
	var b bytes.Buffer
	if err := WriteHTML(&b, "sim <test>", params, rs); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	m := regexp.MustCompile(`(?s)<script type="application/json" id="sg-data">(.*?)</script>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no JSON data block")
	}
	var d reportData
	if err := json.Unmarshal([]byte(m[1]), &d); err != nil {
		t.Fatalf("the data block is not JSON: %v", err)
	}
	byID := map[string]int{}
	for i := range d.Charts {
		c := &d.Charts[i]
		byID[c.ID] = i
		for _, raw := range c.Series {
			var s reportSeries
			if err := json.Unmarshal(raw, &s); err != nil {
				t.Fatal(err)
			}
			c.series = append(c.series, s)
		}
	}
	return page, &d, byID
}

// xsOf returns a series' x values, resolving a shared array by name.
func (d *reportData) xsOf(t *testing.T, s reportSeries) []float64 {
	t.Helper()
	switch v := s.Xs.(type) {
	case string:
		xs, ok := d.Xs[v]
		if !ok {
			t.Fatalf("series %s: no x values %q", s.Name, v)
		}
		return xs
	case []any:
		out := make([]float64, len(v))
		for i, x := range v {
			out[i], _ = x.(float64)
		}
		return out
	}
	t.Fatalf("series %s: xs %T", s.Name, s.Xs)
	return nil
}

func compareRuns(t *testing.T) []*Result {
	t.Helper()
	f := row(t, 120) // a row the jobs overload: caps come
	jobs := mixed(t, 300)
	var rs []*Result
	for _, p := range []string{"fifo", "fair"} {
		cfg := Default()
		cfg.Engine = engine.Config{Queue: p}
		s, err := New(f, jobs, cfg)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, s.Run())
	}
	return rs
}

// The report draws with the console's chart code from a JSON block whose
// charts carry what a reader came for, each with its unit.
func TestReportCharts(t *testing.T) {
	rs := compareRuns(t)
	page, d, byID := readReport(t, []Param{{Name: "fleet", Value: "row of 16 DGX H100"}, {Name: "synthetic workload", Value: "300 jobs"}}, rs)
	if !strings.Contains(page, "<script>"+chart.Script+"</script>") {
		t.Error("the page does not inline the chart code")
	}
	for _, id := range []string{"c-queued", "c-util", "c-wait-cdf", "c-jct-cdf", "c-hot-hall", "c-hot-row", "c-hot-rack",
		"c-site-0", "c-capped", "c-site-util-0", "c-site-util-1", "c-tenants-0", "c-tenants-1", "c-carbon", "c-price", "c-emissions"} {
		i, ok := byID[id]
		if !ok {
			t.Errorf("no chart %s", id)
			continue
		}
		c := d.Charts[i]
		if c.Unit == "" || c.Label == "" || len(c.series) == 0 {
			t.Errorf("%s: unit %q, label %q, %d series", id, c.Unit, c.Label, len(c.series))
		}
		if !strings.Contains(page, `<figure id="`+id+`">`) {
			t.Errorf("%s: no figure for it", id)
		}
		for _, s := range c.series {
			xs := d.xsOf(t, s)
			if len(xs) != len(s.Values) || len(xs) == 0 {
				t.Errorf("%s/%s: %d x for %d values", id, s.Name, len(xs), len(s.Values))
			}
		}
	}

	// The hottest rack: one series per policy, in % of the rating, with the
	// rating as its limit and the controller's threshold; the values are
	// the samples' (to four digits).
	rack := d.Charts[byID["c-hot-rack"]]
	if rack.Limit != 100 || rack.Unit != "% of rating" || len(rack.Refs) != 1 || rack.Refs[0].Y != 98 {
		t.Errorf("hottest rack: limit %v, unit %q, refs %+v", rack.Limit, rack.Unit, rack.Refs)
	}
	if len(rack.series) != 2 || rack.series[0].Name != "fifo" {
		t.Fatalf("hottest rack: series %+v", rack.series)
	}
	var li int
	for li = range rs[0].Levels {
		if rs[0].Levels[li].Level == "rack" {
			break
		}
	}
	top := 0.0
	for _, v := range rack.series[0].Values {
		top = max(top, v)
	}
	if want := 100 * rs[0].Levels[li].PeakRatio; top > want*1.001 || top < 50 {
		t.Errorf("hottest rack peaks at %.2f%% on the page, the run's peak is %.2f%%", top, want)
	}
	if rs[0].Series[0].Hottest[li].Ratio*100-rack.series[0].Values[0] > 0.01 {
		t.Errorf("first point %v, first sample %v", rack.series[0].Values[0], rs[0].Series[0].Hottest[li].Ratio*100)
	}

	// The completion-time CDF is on a log scale of real hours: every x is
	// a positive number of hours, the shares climb to 100%.
	jct := d.Charts[byID["c-jct-cdf"]]
	if !jct.LogX || jct.XUnit != "h" || jct.Unit != "% of jobs" {
		t.Errorf("JCT CDF: logX %v, xUnit %q, unit %q", jct.LogX, jct.XUnit, jct.Unit)
	}
	for _, s := range jct.series {
		xs := d.xsOf(t, s)
		for i, x := range xs {
			if !(x > 0) || math.IsInf(x, 0) || (i > 0 && (x < xs[i-1] || s.Values[i] < s.Values[i-1])) {
				t.Fatalf("JCT CDF %s: point %d (%v h, %v%%) is not a positive, rising x", s.Name, i, x, s.Values[i])
			}
		}
		if last := s.Values[len(s.Values)-1]; last != 100 {
			t.Errorf("JCT CDF %s ends at %v%%", s.Name, last)
		}
		var r *Result
		for _, x := range rs {
			if x.Policy == s.Name {
				r = x
			}
		}
		if lastX := xs[len(xs)-1]; lastX < r.P99JCT/3600*(1-1e-3) { // four digits on the page
			t.Errorf("JCT CDF %s ends at %v h, below the p99 %v h", s.Name, lastX, r.P99JCT/3600)
		}
	}
	if w := d.Charts[byID["c-wait-cdf"]]; !w.LogX || w.XUnit != "min" {
		t.Errorf("wait CDF: logX %v, xUnit %q", w.LogX, w.XUnit)
	}
	if ten := d.Charts[byID["c-tenants-0"]]; !ten.Stack || len(ten.series) != len(rs[0].Tenants) {
		t.Errorf("tenants: stack %v, %d series for %d tenants", ten.Stack, len(ten.series), len(rs[0].Tenants))
	}
	if site := d.Charts[byID["c-site-0"]]; site.Limit != rs[0].SiteLimitMW[0] || site.Unit != "MW" {
		t.Errorf("site chart: limit %v, unit %q; want %v MW", site.Limit, site.Unit, rs[0].SiteLimitMW[0])
	}
	if rs[0].CapEvents == 0 {
		t.Error("no cap: the capped chart shows nothing")
	}
}

// The tables are sortable HTML with numbers to sort by, the parameters
// are on the page, and nothing is fetched from a network.
func TestReportTablesAndParams(t *testing.T) {
	rs := compareRuns(t)
	page, _, _ := readReport(t, []Param{{Name: "fleet", Value: "row of 16 DGX H100"}, {Name: "synthetic workload", Value: "300 jobs"}}, rs)
	if n := strings.Count(page, `<table class="sortable">`); n < 7 {
		t.Errorf("%d sortable tables, want the queue, levels, caps, sites, tenants, energy and failures", n)
	}
	if !strings.Contains(page, `querySelectorAll("table.sortable").forEach(sgSortable)`) {
		t.Error("the tables are not made sortable")
	}
	if strings.Contains(page, "<pre") {
		t.Error("a table pasted as terminal text")
	}
	for _, want := range []string{`data-v="`, `data-bar="`, "<th scope=\"col\"", ">fifo</td>", ">fair</td>",
		"row of 16 DGX H100", "300 jobs", "<dt>seed</dt><dd>1</dd>", "queue policies compared", "fifo, fair",
		"sim &lt;test&gt;", "hottest domain", "wait p95", "GPU-h lost to failures", "intensity (gCO2/kWh)"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, banned := range []string{"https://", "src=\"http", "href=\"http", "@import"} {
		if strings.Contains(page, banned) {
			t.Errorf("page contains %q: it must work offline", banned)
		}
	}
	// Every number in a head carries a unit or is a count, a share or a
	// duration: no bare "energy" or "peak".
	for _, bare := range []string{">energy</th>", ">peak</th>", ">cost</th>", ">emissions</th>"} {
		if strings.Contains(page, bare) {
			t.Errorf("a column without its unit: %s", bare)
		}
	}
}

// A run whose jobs finish within a second of submission still gets a log
// scale of positive hours, and a run of one job a page.
func TestReportEdges(t *testing.T) {
	f := pool(t, 2, 10)
	jobs := []trace.Job{{ID: "a", Tenant: "t", Submit: 0, Duration: 0.2, Accelerators: 1}}
	s, err := New(f, jobs, Default())
	if err != nil {
		t.Fatal(err)
	}
	_, d, byID := readReport(t, nil, []*Result{s.Run()})
	jct := d.Charts[byID["c-jct-cdf"]]
	for _, x := range d.xsOf(t, jct.series[0]) {
		if !(x > 0) {
			t.Errorf("JCT CDF x %v", x)
		}
	}
	if err := WriteHTML(&bytes.Buffer{}, "none", nil, nil); err == nil {
		t.Error("a report of no run")
	}
}

package grafana_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"stargate/deploy/grafana"
)

// The parts of Grafana's dashboard model the tests read.
type dashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type dsRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Datasource *dsRef          `json:"datasource"`
	Query      json.RawMessage `json:"query"` // a string, or {"query": "..."}
	Definition string          `json:"definition"`
}

type panel struct {
	ID         int     `json:"id"`
	Type       string  `json:"type"`
	Title      string  `json:"title"`
	Datasource *dsRef  `json:"datasource"`
	GridPos    gridPos `json:"gridPos"`
	Targets    []struct {
		RefID        string `json:"refId"`
		Expr         string `json:"expr"`
		LegendFormat string `json:"legendFormat"`
		Datasource   *dsRef `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's
}

type gridPos struct{ H, W, X, Y int }

// datasource is the uid of every panel's and target's data source: the
// template variable, dsVar, that the importer points at a Prometheus.
const (
	dsVar      = "datasource"
	datasource = "${" + dsVar + "}"
)

// scrapeLabels are the labels Prometheus adds to every scraped series.
var scrapeLabels = []string{"instance", "job"}

func load(t *testing.T) dashboard {
	t.Helper()
	if !json.Valid(grafana.Dashboard) {
		t.Fatal("stargate.json is not valid JSON")
	}
	var d dashboard
	if err := json.Unmarshal(grafana.Dashboard, &d); err != nil {
		t.Fatalf("stargate.json: %v", err)
	}
	return d
}

// allPanels lists the panels, those of collapsed rows included.
func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// use is one PromQL query of the dashboard, and where it is.
type use struct {
	where  string
	expr   string
	legend string // the target's legend, whose {{label}}s the query must carry
	label  string // the label a label_values variable reads
}

var labelValues = regexp.MustCompile(`^\s*label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$`)

// uses lists every query: each panel target's, and each query variable's.
func uses(t *testing.T, d dashboard) []use {
	t.Helper()
	var out []use
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			out = append(out, use{where: fmt.Sprintf("panel %q target %s", p.Title, tg.RefID), expr: tg.Expr, legend: tg.LegendFormat})
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q string
		if err := json.Unmarshal(v.Query, &q); err != nil {
			var obj struct{ Query string }
			if err := json.Unmarshal(v.Query, &obj); err != nil {
				t.Fatalf("variable %s: query %s: %v", v.Name, v.Query, err)
			}
			q = obj.Query
		}
		if v.Definition != "" && v.Definition != q {
			t.Errorf("variable %s: definition %q differs from its query %q", v.Name, v.Definition, q)
		}
		m := labelValues.FindStringSubmatch(q)
		if m == nil {
			t.Fatalf("variable %s: %q is not label_values(selector, label)", v.Name, q)
		}
		out = append(out, use{where: fmt.Sprintf("variable %s", v.Name), expr: m[1], label: m[2]})
	}
	return out
}

// TestDashboardIsWellFormed checks what Grafana needs to import the board
// and show every panel: valid JSON, the datasource variable, unique panel
// ids on the 24-column grid without overlaps, and for every panel a title,
// a target at least (rows are headings, with none) and the variable as
// data source.
func TestDashboardIsWellFormed(t *testing.T) {
	d := load(t)
	if d.UID == "" || d.Title == "" || d.SchemaVersion < 36 {
		t.Errorf("uid %q, title %q, schemaVersion %d: want both, and a Grafana 10 schema", d.UID, d.Title, d.SchemaVersion)
	}
	var prometheus bool
	for _, v := range d.Templating.List {
		if v.Name == dsVar {
			prometheus = v.Type == "datasource" && string(v.Query) == `"prometheus"`
		}
		if v.Type == "query" && (v.Datasource == nil || v.Datasource.UID != datasource) {
			t.Errorf("variable %s: datasource %+v, want uid %s", v.Name, v.Datasource, datasource)
		}
	}
	if !prometheus {
		t.Errorf("no Prometheus datasource variable behind %s", datasource)
	}
	ids := map[int]bool{}
	ps := allPanels(d.Panels)
	for i, p := range ps {
		if p.Title == "" {
			t.Errorf("panel %d has no title", p.ID)
		}
		if ids[p.ID] {
			t.Errorf("panel %q: id %d used twice", p.Title, p.ID)
		}
		ids[p.ID] = true
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v is off the 24-column grid", p.Title, g)
		}
		for _, o := range ps[:i] {
			h := o.GridPos
			if g.X < h.X+h.W && h.X < g.X+g.W && g.Y < h.Y+h.H && h.Y < g.Y+g.H {
				t.Errorf("panels %q and %q overlap", o.Title, p.Title)
			}
		}
		if p.Type == "row" {
			if len(p.Targets) > 0 {
				t.Errorf("row %q has targets", p.Title)
			}
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no target", p.Title)
		}
		if p.Datasource == nil || p.Datasource.UID != datasource {
			t.Errorf("panel %q: datasource %+v, want uid %s", p.Title, p.Datasource, datasource)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("panel %q: refId %q missing or used twice", p.Title, tg.RefID)
			}
			refs[tg.RefID] = true
			if tg.Datasource == nil || tg.Datasource.UID != datasource || tg.Datasource.Type != "prometheus" {
				t.Errorf("panel %q target %s: datasource %+v, want prometheus %s", p.Title, tg.RefID, tg.Datasource, datasource)
			}
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q target %s has no expr", p.Title, tg.RefID)
			}
		}
	}
	for _, u := range uses(t, d) {
		if _, err := parseQuery(u.expr); err != nil {
			t.Errorf("%s: %s: %v", u.where, u.expr, err)
		}
	}
}

var legendLabel = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)

// TestDashboardMetricsExist starts a real server and node agent, scrapes
// both, and checks every query of the dashboard against what they export:
// each metric it names has series in one of the scrapes; each label it
// matches, groups by, reads or shows in a legend is on them; each value it
// matches with = (and no variable) is one they carry.
func TestDashboardMetricsExist(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server, an agent and a job")
	}
	d := load(t)
	srvMetrics, agentMetrics := scrapeLiveFleet(t)
	series := func(metric string) []map[string]string {
		return append(append([]map[string]string(nil), srvMetrics[metric]...), agentMetrics[metric]...)
	}
	hasLabel := func(ss []map[string]string, label, value string, anyValue bool) bool {
		for _, s := range ss {
			if v, ok := s[label]; ok && (anyValue || v == value) {
				return true
			}
		}
		return false
	}
	used := map[string]bool{}
	for _, u := range uses(t, d) {
		q, err := parseQuery(u.expr)
		if err != nil {
			t.Errorf("%s: %s: %v", u.where, u.expr, err)
			continue
		}
		carried := map[string]bool{}
		for _, l := range scrapeLabels {
			carried[l] = true
		}
		for _, sel := range q.selectors {
			used[sel.metric] = true
			ss := series(sel.metric)
			if len(ss) == 0 {
				t.Errorf("%s: %s is exported by neither the server's nor the agent's /metrics", u.where, sel.metric)
				continue
			}
			for _, s := range ss {
				for l := range s {
					carried[l] = true
				}
			}
			for _, m := range sel.matchers {
				switch {
				case !hasLabel(ss, m.label, "", true):
					t.Errorf("%s: %s has no label %s", u.where, sel.metric, m.label)
				case m.op == "=" && !strings.Contains(m.value, "$") && !hasLabel(ss, m.label, m.value, false):
					t.Errorf("%s: no series %s{%s=%q}", u.where, sel.metric, m.label, m.value)
				}
			}
		}
		labels := slices.Clone(q.grouping)
		for _, m := range legendLabel.FindAllStringSubmatch(u.legend, -1) {
			labels = append(labels, m[1])
		}
		if u.label != "" {
			labels = append(labels, u.label)
		}
		for _, l := range labels {
			if !carried[l] {
				t.Errorf("%s: label %s is on none of the series of %s", u.where, l, u.expr)
			}
		}
	}
	// Not a failure, a hint: Stargate's own families the board leaves out.
	family := func(name string) string {
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			name = strings.TrimSuffix(name, suffix)
		}
		return name
	}
	shown := map[string]bool{}
	for name := range used {
		shown[family(name)] = true
	}
	var unused []string
	for _, e := range []exposition{srvMetrics, agentMetrics} {
		for name := range e {
			f := family(name)
			if (strings.HasPrefix(f, "stargate_") || strings.HasPrefix(f, "DCGM_")) && !shown[f] && !slices.Contains(unused, f) {
				unused = append(unused, f)
			}
		}
	}
	sort.Strings(unused)
	t.Logf("the dashboard queries %d metrics; Stargate families it leaves out: %v", len(used), unused)
}

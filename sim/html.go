package sim

// The offline report of a run, or of several runs of one workload under
// different queue policies: one page that works without a network. It
// draws with the console's chart code (internal/chart, inlined), from the
// data of a <script type="application/json"> block; its tables are plain
// HTML that the same code makes sortable.

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"stargate/internal/chart"
	"stargate/internal/human"
)

// Param is one of the parameters a report lists: a name and a value with
// its unit.
type Param struct {
	Name, Value string
}

// ConfigParams lists the settings of a run, with their units.
func ConfigParams(c *Config) []Param {
	onOff := func(b bool) string {
		if b {
			return "on"
		}
		return "off"
	}
	ps := []Param{
		{"seed", strconv.FormatUint(c.Seed, 10)},
		{"clock starts", c.Start.UTC().Format("2006-01-02 15:04 MST")},
		{"job load", fmt.Sprintf("%.0f%% of TDP − idle, swing ±%.0f%% every %s", 100*c.Utilization, 100*c.Swing, DurationText(c.SwingPeriod))},
		{"power controller", fmt.Sprintf("caps above %.0f%% of a rating, lifts below %.0f%%, acts after %s",
			100*c.Engine.Capping.Controller.CapAbove, 100*c.Engine.Capping.Controller.UncapBelow, DurationText(c.ReactionDelay))},
		{"scheduling pass", "at most every " + DurationText(c.PassInterval)},
		{"checkpoints", "every " + DurationText(c.Checkpoint)},
		{"preemption", onOff(c.Engine.Preemption)},
		{"failures", onOff(c.Failures)},
	}
	if c.Engine.Sites != "" {
		ps = append(ps, Param{"site policy", c.Engine.Sites})
	}
	if c.Failures {
		ps = append(ps, Param{"MTBF, repair", fmt.Sprintf("%s h per accelerator, %s", human.Count(c.MTBF.Hours()), DurationText(c.RepairTime))})
	}
	if c.Horizon > 0 {
		ps = append(ps, Param{"horizon", DurationText(c.Horizon)})
	}
	if in := c.Inference; in != nil {
		ps = append(ps, Param{"inference service", fmt.Sprintf("%d accelerators, load per %s for %s", in.Accelerators, DurationText(in.Bucket),
			DurationText(time.Duration(len(in.Load))*in.Bucket))})
	}
	return ps
}

// DurationText writes a setting's duration with its units spelled out:
// "4 h", "1 h 30 min", "20 s".
func DurationText(d time.Duration) string {
	if d == 0 {
		return "0 s"
	}
	var parts []string
	if h := d / time.Hour; h > 0 {
		parts, d = append(parts, fmt.Sprintf("%d h", h)), d-h*time.Hour
	}
	if m := d / time.Minute; m > 0 {
		parts, d = append(parts, fmt.Sprintf("%d min", m)), d-m*time.Minute
	}
	if d > 0 {
		parts = append(parts, strconv.FormatFloat(d.Seconds(), 'g', -1, 64)+" s")
	}
	return strings.Join(parts, " ")
}

// WriteHTML writes the report of runs of one workload (one per policy
// when they are compared): what a reader comes for first (waits,
// completion times, the hottest breakers), then power, sites, tenants,
// energy and failures, as charts and sortable tables. params say what ran
// (fleet, workload); the settings of the first run's Config follow them.
// The time charts cover the busy part of the runs (see chartSpan); the
// series CSV has every sample.
func WriteHTML(w io.Writer, title string, params []Param, rs []*Result) error {
	if len(rs) == 0 {
		return fmt.Errorf("sim: a report needs a run")
	}
	p := buildPage(title, params, rs)
	data, err := json.Marshal(p.data)
	if err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	return simPage.Execute(w, map[string]any{
		"Title": title, "Lead": p.lead, "Cards": p.cards, "Params": p.params, "Sections": p.sections,
		"Style":  template.CSS(chart.ReportStyle),
		"Script": template.JS(chart.Script),
		"Data":   template.JS(data),
	})
}

var simPage = template.Must(template.New("sim").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>{{.Style}}</style>
</head><body><main id="main">
<h1>{{.Title}}</h1>
{{range .Lead}}<p class="lead">{{.}}</p>{{end}}
<div class="cards">{{range .Cards}}<div class="card"><b>{{.Value}}</b><span>{{.Name}}</span></div>{{end}}</div>
<h2 id="params">What ran</h2>
<dl class="params">{{range .Params}}<dt>{{.Name}}</dt><dd>{{.Value}}</dd>{{end}}</dl>
{{range .Sections}}<section aria-labelledby="{{.ID}}">
<h2 id="{{.ID}}">{{.Title}}</h2>
{{range .Notes}}<p class="note">{{.}}</p>{{end}}
{{if .Figures}}<div class="charts">{{range .Figures}}<figure id="{{.ID}}"><figcaption>{{.Caption}}</figcaption></figure>{{end}}</div>{{end}}
{{range .Tables}}<div class="scroll"><table class="sortable">{{if .Caption}}<caption>{{.Caption}}</caption>{{end}}
<thead><tr>{{range .Head}}<th scope="col"{{if .Num}} class="num"{{end}}>{{.Text}}</th>{{end}}</tr></thead>
<tbody>{{range .Rows}}<tr>{{range .}}<td{{if .Bar}} class="bar" data-bar="{{.V}}"{{else if .Num}} class="num"{{end}}{{if .HasV}} data-v="{{.V}}"{{end}}>{{.Text}}</td>{{end}}</tr>
{{end}}</tbody></table></div>
{{end}}</section>
{{end}}</main>
<script>{{.Script}}</script>
<script type="application/json" id="sg-data">{{.Data}}</script>
<script>
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("sg-data").textContent);
  const sep = (v) => Math.abs(v) >= 1000 ? Math.round(v).toLocaleString("en-US") : sgFormatTick(v);
  for (const c of D.charts) {
    const fig = document.getElementById(c.id);
    if (!fig) { continue; }
    const opts = Object.assign({ width: 600, height: 250, yFormat: sep, unitAbove: true, legend: c.series.length > 1 }, c);
    opts.series = c.series.map((s) => Object.assign({}, s, { xs: typeof s.xs === "string" ? D.xs[s.xs] : s.xs }));
    fig.insertBefore(sgLineChart(opts), fig.firstChild);
  }
  for (const td of document.querySelectorAll("td[data-bar]")) {
    td.insertBefore(document.createTextNode(" "), td.firstChild);
    td.insertBefore(sgBar(Number(td.dataset.bar), 1, td.closest("tr").cells[0].textContent), td.firstChild);
  }
  document.querySelectorAll("table.sortable").forEach(sgSortable);
  document.body.dataset.drawn = String(D.charts.length);
})();
</script>
</body></html>
`))

// page is a report before it is written.
type page struct {
	lead     []string
	cards    []Param
	params   []Param
	sections []section
	data     pageData
}

type section struct {
	ID, Title string
	Notes     []string
	Figures   []figure
	Tables    []table
}

type figure struct{ ID, Caption string }

type table struct {
	Caption string
	Head    []cell
	Rows    [][]cell
}

// cell is a table cell: Text shown, V its number for sorting (and for
// a gauge of V against 1 when Bar).
type cell struct {
	Text string
	V    float64
	HasV bool
	Num  bool
	Bar  bool
}

func txt(s string) cell { return cell{Text: s} }

func numCell(text string, v float64) cell { return cell{Text: text, V: v, HasV: true, Num: true} }

func head(names ...string) []cell {
	out := make([]cell, len(names))
	for i, n := range names {
		out[i] = cell{Text: n}
	}
	return out
}

// pageData is the JSON the page's script draws from: charts for
// sgLineChart, and the x values they share, by name.
type pageData struct {
	Charts []chartSpec       `json:"charts"`
	Xs     map[string][]jnum `json:"xs"`
}

// chartSpec is one chart: sgLineChart's options. A series' xs names an
// entry of pageData.Xs.
type chartSpec struct {
	ID         string       `json:"id"`
	Label      string       `json:"label"`
	Unit       string       `json:"unit"`
	XUnit      string       `json:"xUnit"`
	LogX       bool         `json:"logX,omitempty"`
	XMin       *float64     `json:"xMin,omitempty"`
	XMax       *float64     `json:"xMax,omitempty"`
	YMax       float64      `json:"yMax,omitempty"`
	Limit      float64      `json:"limit,omitempty"`
	LimitLabel string       `json:"limitLabel,omitempty"`
	Refs       []refLine    `json:"refs,omitempty"`
	Stack      bool         `json:"stack,omitempty"`
	Series     []seriesSpec `json:"series"`
}

type refLine struct {
	Y     float64 `json:"y"`
	Label string  `json:"label"`
}

type seriesSpec struct {
	Name   string `json:"name"`
	Xs     any    `json:"xs"` // a key of pageData.Xs, or the values
	Values []jnum `json:"values"`
	Cls    string `json:"cls,omitempty"`
}

// jnum is a number written with four significant digits, to keep the
// page small.
type jnum float64

func (x jnum) MarshalJSON() ([]byte, error) {
	f := float64(x)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, roundSig(f, 4), 'g', -1, 64), nil
}

// roundSig rounds x to n significant digits.
func roundSig(x float64, n int) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', n, 64), 64)
	return v
}

// maxPoints bounds the points of one time series on the page.
const maxPoints = 800

// window is the samples the time charts show, and the unit of their x.
type window struct {
	idx  []int  // the samples drawn (thinned)
	unit string // "h" or "d"
}

func buildPage(title string, params []Param, rs []*Result) *page {
	p := &page{data: pageData{Xs: map[string][]jnum{}}}
	r0 := rs[0]
	end := chartSpan(rs)
	unit, per := "h", 3600.0
	if end > 72*3600 {
		unit, per = "d", 86400
	}
	wins := make([]window, len(rs))
	for k, r := range rs {
		wins[k] = sampleWindow(r, end, unit)
		xs := make([]jnum, len(wins[k].idx))
		for i, si := range wins[k].idx {
			xs[i] = jnum(r.Series[si].T / per)
		}
		p.data.Xs[tkey(k)] = xs
	}
	xmax := end / per
	x0 := 0.0
	p.lead = lead(rs)
	p.cards = cards(rs)
	p.params = append(append([]Param{}, params...), policiesParam(rs))
	p.params = append(p.params, ConfigParams(&r0.Config)...)
	if end < maxMakespan(rs) {
		p.params = append(p.params, Param{"charts over time", fmt.Sprintf("the first %s, while jobs arrive and the queue drains; the runs end at %s (series CSV: every sample)",
			durText(end), durText(maxMakespan(rs)))})
	}
	timeChart := func(id, label, unit string, series []seriesSpec) chartSpec {
		return chartSpec{ID: id, Label: label, Unit: unit, XUnit: wins[0].unit, XMin: &x0, XMax: &xmax, Series: series}
	}
	over := func(f func(*Result, *Sample) float64) []seriesSpec {
		out := make([]seriesSpec, len(rs))
		for k, r := range rs {
			vs := make([]jnum, len(wins[k].idx))
			for i, si := range wins[k].idx {
				vs[i] = jnum(f(r, &r.Series[si]))
			}
			out[k] = seriesSpec{Name: r.Policy, Xs: tkey(k), Values: vs}
		}
		return out
	}
	add := func(s *section, c chartSpec, caption string) {
		p.data.Charts = append(p.data.Charts, c)
		s.Figures = append(s.Figures, figure{c.ID, caption})
	}

	// Waiting and completion.
	q := section{ID: "queue", Title: "Waiting and completion"}
	add(&q, timeChart("c-queued", "Jobs waiting in the queue", "jobs", over(func(_ *Result, s *Sample) float64 { return float64(s.Queued) })),
		"Jobs waiting to start at each sample. "+queueNote(rs))
	add(&q, timeChart("c-util", "Accelerators allocated, % of the fleet", "% allocated", over(func(_ *Result, s *Sample) float64 { return 100 * s.Utilization })),
		"Allocated accelerators over all of the fleet's.")
	var waits, jcts []seriesSpec
	for _, r := range rs {
		x, y := cdf(r, func(j *JobRecord) (float64, bool) { return j.Start - j.Submit, j.Start >= 0 }, 60)
		waits = append(waits, seriesSpec{Name: r.Policy, Xs: x, Values: y})
		x, y = cdf(r, func(j *JobRecord) (float64, bool) { return j.Finish - j.Submit, j.Finish >= 0 }, 3600)
		jcts = append(jcts, seriesSpec{Name: r.Policy, Xs: x, Values: y})
	}
	add(&q, chartSpec{ID: "c-wait-cdf", Label: "Wait before the first start: cumulative share of jobs", Unit: "% of jobs", XUnit: "min",
		LogX: true, YMax: 100, Series: waits}, "Share of started jobs that waited at most x minutes (log scale; waits under 1 s count as 1 s).")
	add(&q, chartSpec{ID: "c-jct-cdf", Label: "Job completion time: cumulative share of jobs", Unit: "% of jobs", XUnit: "h",
		LogX: true, YMax: 100, Series: jcts}, "Share of completed jobs done within x hours of their submission (log scale; under 1 s counts as 1 s).")
	q.Tables = append(q.Tables, queueTable(rs))
	p.sections = append(p.sections, q)

	// Power.
	pw := section{ID: "power", Title: "Power against the ratings of the power tree"}
	capAbove := 100 * r0.Config.Engine.Capping.Controller.CapAbove
	for li, l := range r0.Levels {
		if li == 0 { // sites: drawn one by one below
			continue
		}
		c := timeChart("c-hot-"+l.Level, "Hottest "+l.Level+": peak draw over its rating", "% of rating",
			over(func(_ *Result, s *Sample) float64 { return 100 * s.Hottest[li].Ratio }))
		c.Limit, c.LimitLabel, c.YMax = 100, "rating", 100
		if capAbove > 0 {
			c.Refs = []refLine{{capAbove, fmt.Sprintf("controller caps above %.0f%%", capAbove)}}
		}
		add(&pw, c, hotCaption(rs, li))
	}
	for si, name := range r0.SiteNames {
		c := timeChart(fmt.Sprintf("c-site-%d", si), "Site "+name+": IT draw against its IT limit", "MW",
			over(func(_ *Result, s *Sample) float64 { return s.SiteMW[si] }))
		c.Limit, c.LimitLabel = r0.SiteLimitMW[si], "IT limit "+sig(r0.SiteLimitMW[si])+" MW"
		add(&pw, c, fmt.Sprintf("%s: IT draw (the swing's phase at each sample) against the substation's rating over PUE, %s MW.", name, sig(r0.SiteLimitMW[si])))
	}
	if some(rs, func(s *Sample) bool { return s.CappedAccelerators > 0 }) {
		add(&pw, timeChart("c-capped", "Accelerators under a power cap", "accelerators",
			over(func(_ *Result, s *Sample) float64 { return float64(s.CappedAccelerators) })), capsCaption(rs))
	} else {
		pw.Notes = append(pw.Notes, "The power controller capped no job: no domain's peak passed its threshold.")
	}
	pw.Tables = append(pw.Tables, levelTable(rs), capTable(rs))
	p.sections = append(p.sections, pw)

	// Sites.
	st := section{ID: "sites", Title: "Sites"}
	for k, r := range rs {
		var ss []seriesSpec
		for si, name := range r.SiteNames {
			vs := make([]jnum, len(wins[k].idx))
			for i, x := range wins[k].idx {
				vs[i] = jnum(100 * r.Series[x].SiteUtilization[si])
			}
			ss = append(ss, seriesSpec{Name: name, Xs: tkey(k), Values: vs})
		}
		add(&st, timeChart(fmt.Sprintf("c-site-util-%d", k), "Accelerators allocated per site"+forPolicy(rs, r), "% allocated", ss),
			"Each site's allocated accelerators over its own"+forPolicy(rs, r)+".")
	}
	st.Tables = append(st.Tables, siteTable(rs))
	p.sections = append(p.sections, st)

	// Tenants.
	tn := section{ID: "tenants", Title: "Tenants"}
	for k, r := range rs {
		var ss []seriesSpec
		for g, t := range r.Tenants {
			vs := make([]jnum, len(wins[k].idx))
			for i, x := range wins[k].idx {
				vs[i] = jnum(100 * float64(r.Series[x].TenantAccelerators[g]) / float64(max(1, r.Accelerators)))
			}
			ss = append(ss, seriesSpec{Name: t.Name, Xs: tkey(k), Values: vs})
		}
		c := timeChart(fmt.Sprintf("c-tenants-%d", k), "Accelerators held per tenant"+forPolicy(rs, r), "% of fleet", ss)
		c.Stack = true
		add(&tn, c, "Each band is one tenant's running jobs, as a share of the fleet's accelerators; the top is the fleet's utilization"+forPolicy(rs, r)+".")
	}
	if len(r0.Tenants) == MaxTenantGroups && r0.Tenants[len(r0.Tenants)-1].Name == Others {
		tn.Notes = append(tn.Notes, fmt.Sprintf("The %d tenants that asked for the most accelerator-hours are shown one by one; %q gathers the other %d.",
			MaxTenantGroups-1, Others, r0.Tenants[len(r0.Tenants)-1].Tenants))
	}
	tn.Tables = append(tn.Tables, tenantTable(rs))
	p.sections = append(p.sections, tn)

	// Energy.
	en := section{ID: "energy", Title: "Energy, carbon and price"}
	siteSeries := func(f func(s *Sample, si int) float64) []seriesSpec {
		var ss []seriesSpec
		for si, name := range r0.SiteNames {
			vs := make([]jnum, len(wins[0].idx))
			for i, x := range wins[0].idx {
				vs[i] = jnum(f(&r0.Series[x], si))
			}
			ss = append(ss, seriesSpec{Name: name, Xs: tkey(0), Values: vs})
		}
		return ss
	}
	add(&en, timeChart("c-carbon", "Carbon intensity of each site's energy"+forPolicy(rs, r0), "gCO2/kWh",
		siteSeries(func(s *Sample, si int) float64 { return s.SiteCarbon[si] })),
		"The intensity of the energy that covers each site's draw, hour by hour of its mix"+forPolicy(rs, r0)+".")
	add(&en, timeChart("c-price", "Price of each site's energy"+forPolicy(rs, r0), "USD/MWh",
		siteSeries(func(s *Sample, si int) float64 { return s.SitePrice[si] })),
		"The price of the energy that covers each site's draw, hour by hour of its mix"+forPolicy(rs, r0)+".")
	add(&en, timeChart("c-emissions", "Emissions of the fleet", "tCO2/h",
		over(func(_ *Result, s *Sample) float64 { return s.EmissionsTPerH })),
		"The fleet's facility draw (PUE included) at each site's intensity, in tonnes of CO2 an hour.")
	en.Tables = append(en.Tables, energyTable(rs))
	p.sections = append(p.sections, en)

	// Failures and preemptions.
	fp := section{ID: "failures", Title: "Failures and preemptions"}
	if !r0.Config.Failures {
		fp.Notes = append(fp.Notes, "Failures were off in this run (stargate sim --failures turns them on).")
	}
	if some(rs, func(s *Sample) bool { return s.Failures > 0 }) {
		add(&fp, timeChart("c-failures", "Node failures so far", "failures",
			over(func(_ *Result, s *Sample) float64 { return float64(s.Failures) })), "Failed nodes, counted from the start; their jobs restart from their last checkpoint.")
	} else if r0.Config.Failures {
		fp.Notes = append(fp.Notes, "No node failed.")
	}
	if some(rs, func(s *Sample) bool { return s.Preemptions > 0 }) {
		add(&fp, timeChart("c-preemptions", "Preemptions so far", "preemptions",
			over(func(_ *Result, s *Sample) float64 { return float64(s.Preemptions) })), "Jobs stopped to let another start, counted from the start.")
	} else {
		fp.Notes = append(fp.Notes, "No job was preempted.")
	}
	fp.Tables = append(fp.Tables, failureTable(rs))
	p.sections = append(p.sections, fp)
	return p
}

// some reports whether f holds at a sample of any run.
func some(rs []*Result, f func(*Sample) bool) bool {
	for _, r := range rs {
		for i := range r.Series {
			if f(&r.Series[i]) {
				return true
			}
		}
	}
	return false
}

func tkey(k int) string { return "t" + strconv.Itoa(k) }

// forPolicy names the policy of r in a title when several are compared.
func forPolicy(rs []*Result, r *Result) string {
	if len(rs) > 1 {
		return " (" + r.Policy + ")"
	}
	return ""
}

func maxMakespan(rs []*Result) float64 {
	var m float64
	for _, r := range rs {
		if n := len(r.Series); n > 0 {
			m = max(m, r.Series[n-1].T)
		}
		m = max(m, r.Makespan)
	}
	return m
}

// chartSpan is how much of the runs the time charts show: the busy part,
// twice the last arrival or half again the last time a job waited,
// whichever is later, and at least an hour. The long jobs that run on
// alone after it would squeeze what matters into the left edge.
func chartSpan(rs []*Result) float64 {
	var lastArrival, lastQueued float64
	for _, r := range rs {
		for i := range r.Jobs {
			lastArrival = max(lastArrival, r.Jobs[i].Submit)
		}
		for i := range r.Series {
			if r.Series[i].Queued > 0 {
				lastQueued = max(lastQueued, r.Series[i].T)
			}
		}
	}
	end := max(2*lastArrival, 1.5*lastQueued, 3600)
	if m := maxMakespan(rs); m > 0 && end > m {
		end = m
	}
	return end
}

// sampleWindow picks the samples up to end, at most maxPoints of them,
// evenly spread, the last one always kept.
func sampleWindow(r *Result, end float64, unit string) window {
	n := sort.Search(len(r.Series), func(i int) bool { return r.Series[i].T > end })
	if n < len(r.Series) {
		n++ // one sample past the end, so that lines reach it
	}
	step := max(1, (n+maxPoints-1)/maxPoints)
	var idx []int
	for i := 0; i < n; i += step {
		idx = append(idx, i)
	}
	if n > 0 && idx[len(idx)-1] != n-1 {
		idx = append(idx, n-1)
	}
	return window{idx: idx, unit: unit}
}

// cdf returns the cumulative share (%) of the workload's jobs whose value
// (from f, in seconds) is at most x, x in units of per seconds, at most
// about 400 points; values under a second count as one, for a log scale.
func cdf(r *Result, f func(*JobRecord) (float64, bool), per float64) ([]jnum, []jnum) {
	var v []float64
	for i := 0; i < r.JobsSubmitted && i < len(r.Jobs); i++ { // not the inference service
		if x, ok := f(&r.Jobs[i]); ok {
			v = append(v, max(x, 1))
		}
	}
	sort.Float64s(v)
	n := len(v)
	step := max(1, n/400)
	var xs, ys []jnum
	for i := min(step, n) - 1; i >= 0 && i < n; i += step {
		k := i // the last of equal values carries their share
		for k+1 < n && v[k+1] == v[k] {
			k++
		}
		if i+step >= n {
			k = n - 1
		}
		xs = append(xs, jnum(v[k]/per))
		ys = append(ys, jnum(100*float64(k+1)/float64(n)))
		i = k
	}
	return xs, ys
}

func policiesParam(rs []*Result) Param {
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = r.Policy
	}
	if len(rs) > 1 {
		return Param{"queue policies compared", strings.Join(names, ", ")}
	}
	return Param{"queue policy", names[0]}
}

// lead says in words what the runs found.
func lead(rs []*Result) []string {
	var out []string
	r0 := rs[0]
	out = append(out, fmt.Sprintf("%s jobs on %s accelerators in %s.", human.Int(r0.JobsSubmitted), human.Int(r0.Accelerators), Plural(len(r0.Sites), "site")))
	if len(rs) > 1 {
		best, worst := rs[0], rs[0]
		for _, r := range rs {
			if r.AvgWait < best.AvgWait {
				best = r
			}
			if r.AvgWait > worst.AvgWait {
				worst = r
			}
		}
		if best.AvgWait == worst.AvgWait {
			out = append(out, fmt.Sprintf("Every policy gave the same average wait, %s: the fleet never held a job back long enough for the order of the queue to matter.", durText(best.AvgWait)))
		} else {
			out = append(out, fmt.Sprintf("%s waited least, %s on average (p95 %s), against %s for %s; its average completion time was %s against %s.",
				best.Policy, durText(best.AvgWait), durText(best.P95Wait), durText(worst.AvgWait), worst.Policy, durText(best.AvgJCT), durText(worst.AvgJCT)))
		}
	} else {
		out = append(out, fmt.Sprintf("Jobs waited %s on average (p95 %s) and completed in %s on average (p95 %s); at most %s waited at once.",
			durText(r0.AvgWait), durText(r0.P95Wait), durText(r0.AvgJCT), durText(r0.P95JCT), human.Int(r0.MaxQueued)))
	}
	hot := r0.Levels[0]
	for _, l := range r0.Levels {
		if l.PeakRatio > hot.PeakRatio {
			hot = l
		}
	}
	s := fmt.Sprintf("The power tree came closest to a rating at %s level: %s peaked at %.1f%% of its %s kW.", hot.Level, hot.PeakDomain, 100*hot.PeakRatio, sig(hot.LimitKW))
	if hot.SecondsAbove > 0 {
		s += fmt.Sprintf(" Some %s drew above its rating for %s in all.", hot.Level, durText(hot.SecondsAbove))
	}
	if r0.CapEvents > 0 {
		s += fmt.Sprintf(" The controller capped jobs %s times, for %s in all.", human.Int(r0.CapEvents), durText(r0.CappedSeconds))
	} else {
		s += " No job was capped."
	}
	return append(out, s)
}

func cards(rs []*Result) []Param {
	r := rs[0]
	cs := []Param{
		{"accelerators", human.Int(r.Accelerators)},
		{"jobs submitted", human.Int(r.JobsSubmitted)},
	}
	if len(rs) > 1 {
		return cs
	}
	return append(cs,
		Param{"average wait", durText(r.AvgWait)},
		Param{"average completion time", durText(r.AvgJCT)},
		Param{"utilization (run)", fmt.Sprintf("%.1f%%", 100*r.Utilization)},
		Param{"energy", sig(r.EnergyMWh) + " MWh"},
		Param{"emissions", sig(r.EmissionsTCO2) + " tCO2"},
		Param{"energy cost", human.Count(r.CostUSD) + " USD"},
	)
}

func hotCaption(rs []*Result, li int) string {
	l := rs[0].Levels[li].Level
	return fmt.Sprintf("At each sample, the %s with the least headroom: its peak draw (mean + swing) over its rating. Hottest over the run: %s.",
		l, byPolicy(rs, func(r *Result) string {
			l := r.Levels[li]
			return fmt.Sprintf("%s peaked at %.1f%% of %s kW", l.PeakDomain, 100*l.PeakRatio, sig(l.LimitKW))
		}))
}

// byPolicy joins what f says of each run, naming the policies when several
// are compared and saying once what several say alike.
func byPolicy(rs []*Result, f func(*Result) string) string {
	if len(rs) == 1 {
		return f(rs[0])
	}
	var order []string
	who := map[string][]string{}
	for _, r := range rs {
		s := f(r)
		if _, ok := who[s]; !ok {
			order = append(order, s)
		}
		who[s] = append(who[s], r.Policy)
	}
	if len(order) == 1 {
		return order[0] + " (every policy)"
	}
	parts := make([]string, len(order))
	for i, s := range order {
		parts[i] = strings.Join(who[s], ", ") + ": " + s
	}
	return strings.Join(parts, "; ")
}

func capsCaption(rs []*Result) string {
	return "Accelerators of jobs that the power controller capped. " + byPolicy(rs, func(r *Result) string {
		return fmt.Sprintf("%s cap events, %s capped", human.Int(r.CapEvents), durText(r.CappedSeconds))
	}) + "."
}

func queueNote(rs []*Result) string {
	return "Most waiting at once: " + byPolicy(rs, func(r *Result) string { return human.Int(r.MaxQueued) + " jobs" }) + "."
}

// withPolicy starts the head with the policy when several are compared. with the policy when several are compared.
func withPolicy(rs []*Result, names ...string) []cell {
	if len(rs) > 1 {
		names = append([]string{"policy"}, names...)
	}
	return head(names...)
}

// policyCells starts a row with r's policy when several are compared.
func policyCells(rs []*Result, r *Result, cs ...cell) []cell {
	if len(rs) > 1 {
		return append([]cell{txt(r.Policy)}, cs...)
	}
	return cs
}

func durCell(s float64) cell { return numCell(durText(s), s) }

func countCell(x float64) cell { return numCell(human.Count(x), x) }

func pctCell(f float64) cell { return numCell(fmt.Sprintf("%.1f%%", 100*f), f) }

// barCell is a fraction with a gauge; gauges line up on the left.
func barCell(f float64) cell {
	c := pctCell(f)
	c.Bar, c.Num = true, false
	return c
}

func queueTable(rs []*Result) table {
	t := table{Caption: "Jobs: completed, unfinished at the end, refused as larger than the fleet, most waiting at once. Waits run from submission to the first start, completion times (JCT) to the end; utilization is of the accelerators while jobs arrive.",
		Head: withPolicy(rs, "completed", "unfinished", "too large", "most queued",
			"wait avg", "wait p95", "wait p99", "JCT avg", "JCT p50", "JCT p95", "JCT p99", "utilization", "makespan")}
	for _, r := range rs {
		t.Rows = append(t.Rows, policyCells(rs, r, countCell(float64(r.JobsCompleted)), countCell(float64(r.JobsUnfinished)),
			countCell(float64(r.JobsRejected)), countCell(float64(r.MaxQueued)),
			durCell(r.AvgWait), durCell(r.P95Wait), durCell(r.P99Wait),
			durCell(r.AvgJCT), durCell(r.P50JCT), durCell(r.P95JCT), durCell(r.P99JCT),
			pctCell(r.UtilizationArrivals), durCell(r.Makespan)))
	}
	numHeads(&t, 0)
	return t
}

func levelTable(rs []*Result) table {
	t := table{Caption: "The domain of each level whose peak draw came closest to its rating, and the time any domain of the level spent above its own.",
		Head: withPolicy(rs, "level", "hottest domain", "peak (kW)", "rating (kW)", "peak / rating", "time above a rating", "longest above")}
	for _, r := range rs {
		for _, l := range r.Levels {
			t.Rows = append(t.Rows, policyCells(rs, r, txt(l.Level), txt(l.PeakDomain), numCell(sig(l.PeakKW), l.PeakKW),
				numCell(sig(l.LimitKW), l.LimitKW), barCell(l.PeakRatio), durCell(l.SecondsAbove), durCell(l.LongestAbove)))
		}
	}
	numHeads(&t, 2)
	return t
}

func capTable(rs []*Result) table {
	t := table{Caption: "Caps: the controller slows the lowest-priority jobs under a domain that passes its threshold.",
		Head: withPolicy(rs, "cap events", "time with a cap on", "capped GPU-hours", "most capped (accelerators)")}
	for _, r := range rs {
		most := 0
		for i := range r.Series {
			most = max(most, r.Series[i].CappedAccelerators)
		}
		t.Rows = append(t.Rows, policyCells(rs, r, countCell(float64(r.CapEvents)), durCell(r.CappedSeconds),
			countCell(r.CappedGPUHours), countCell(float64(most))))
	}
	numHeads(&t, 0)
	return t
}

func siteTable(rs []*Result) table {
	t := table{Caption: "Utilization is allocated accelerator-time over the run; energy is the facility's, PUE included.",
		Head: withPolicy(rs, "site", "accelerators", "utilization", "IT limit (MW)", "peak IT draw (MW)", "peak / limit",
			"energy (MWh)", "emissions (tCO2)", "cost (USD)", "intensity (gCO2/kWh)")}
	for _, r := range rs {
		for _, s := range r.Sites {
			ratio := 0.0
			if s.LimitMW > 0 {
				ratio = s.PeakMW / s.LimitMW
			}
			t.Rows = append(t.Rows, policyCells(rs, r, txt(s.Name), countCell(float64(s.Accelerators)), pctCell(s.Utilization),
				numCell(sig(s.LimitMW), s.LimitMW), numCell(sig(s.PeakMW), s.PeakMW), barCell(ratio),
				numCell(sig(s.EnergyMWh), s.EnergyMWh), numCell(sig(s.EmissionsTCO2), s.EmissionsTCO2),
				countCell(s.CostUSD), numCell(sig(intensity(s.EmissionsTCO2, s.EnergyMWh)), intensity(s.EmissionsTCO2, s.EnergyMWh))))
		}
	}
	numHeads(&t, 1)
	return t
}

// intensity is gCO2/kWh from tonnes and MWh.
func intensity(t, mwh float64) float64 {
	if mwh <= 0 {
		return 0
	}
	return t * 1e3 / mwh
}

func tenantTable(rs []*Result) table {
	t := table{Caption: "Demand is the work a tenant's jobs asked for at full speed; held, what its running jobs held (restarts and slowdowns included); share, its part of all that was held.",
		Head: withPolicy(rs, "tenant", "jobs", "completed", "demand (GPU-h)", "held (GPU-h)", "share of held", "wait avg", "wait p95")}
	for _, r := range rs {
		for _, tr := range r.Tenants {
			name := tr.Name
			if tr.Name == Others {
				name = fmt.Sprintf("%s (%d tenants)", Others, tr.Tenants)
			}
			t.Rows = append(t.Rows, policyCells(rs, r, txt(name), countCell(float64(tr.JobsSubmitted)), countCell(float64(tr.JobsCompleted)),
				countCell(tr.DemandGPUHours), countCell(tr.HeldGPUHours), barCell(tr.Share), durCell(tr.AvgWait), durCell(tr.P95Wait)))
		}
	}
	numHeads(&t, 2)
	return t
}

func energyTable(rs []*Result) table {
	t := table{Caption: "The fleet's facility energy over the run, dispatched hour by hour over each site's mix.",
		Head: withPolicy(rs, "energy (MWh)", "emissions (tCO2)", "cost (USD)", "intensity (gCO2/kWh)", "price (USD/MWh)")}
	for _, r := range rs {
		price := 0.0
		if r.EnergyMWh > 0 {
			price = r.CostUSD / r.EnergyMWh
		}
		in := intensity(r.EmissionsTCO2, r.EnergyMWh)
		t.Rows = append(t.Rows, policyCells(rs, r, numCell(sig(r.EnergyMWh), r.EnergyMWh), numCell(sig(r.EmissionsTCO2), r.EmissionsTCO2),
			countCell(r.CostUSD), numCell(sig(in), in), numCell(sig(price), price)))
	}
	numHeads(&t, 0)
	return t
}

func failureTable(rs []*Result) table {
	t := table{Caption: "Lost GPU-hours are work done since the last checkpoint and redone after a restart.",
		Head: withPolicy(rs, "node failures", "preemptions", "GPU-h lost to failures", "GPU-h lost to preemption", "GPU-hours allocated", "scheduling passes", "events", "wall time (s)")}
	for _, r := range rs {
		t.Rows = append(t.Rows, policyCells(rs, r, countCell(float64(r.Failures)), countCell(float64(r.Preemptions)),
			countCell(r.LostGPUHoursFailures), countCell(r.LostGPUHoursPreemption), countCell(r.AllocatedGPUHours),
			countCell(float64(r.Passes)), countCell(float64(r.Events)), numCell(fmt.Sprintf("%.2f", r.WallS), r.WallS)))
	}
	numHeads(&t, 0)
	return t
}

// numHeads right-aligns the heads of number columns from the first
// numeric column on, as their cells (gauges stay on the left).
func numHeads(t *table, first int) {
	if len(t.Head) > 0 && t.Head[0].Text == "policy" {
		first++
	}
	for i := first; i < len(t.Head); i++ {
		t.Head[i].Num = len(t.Rows) == 0 || (i < len(t.Rows[0]) && t.Rows[0][i].Num)
	}
}

// Plural writes n things: "1 site", "5 sites".
func Plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return human.Int(n) + " " + thing + "s"
}

// durText writes a duration in seconds for people, with its unit.
func durText(s float64) string {
	switch {
	case s < 120:
		return fmt.Sprintf("%.0f s", s)
	case s < 7200:
		return fmt.Sprintf("%.1f min", s/60)
	case s < 172800:
		return fmt.Sprintf("%.1f h", s/3600)
	}
	return fmt.Sprintf("%.1f d", s/86400)
}

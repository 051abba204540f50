package sim

// The offline report of a run, or of several runs of one workload under
// different queue policies: one page that works without a network. It
// draws with the console's chart code (internal/chart, inlined), from the
// data of a <script type="application/json"> block; its tables are plain
// HTML that the same code makes sortable.

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"stargate/internal/chart"
	"stargate/internal/human"
)

// Param is one of the parameters a report lists: a name and a value with
// its unit.
type Param = chart.Param

// ConfigParams lists the settings of a run, with their units.
func ConfigParams(c *Config) []Param {
	onOff := func(b bool) string {
		if b {
			return "on"
		}
		return "off"
	}
	ps := []Param{
		{Name: "seed", Value: strconv.FormatUint(c.Seed, 10)},
		{Name: "clock starts", Value: c.Start.UTC().Format("2006-01-02 15:04 MST")},
		{Name: "job load", Value: fmt.Sprintf("%.0f%% of TDP − idle, swing ±%.0f%% every %s", 100*c.Utilization, 100*c.Swing, DurationText(c.SwingPeriod))},
		{Name: "power controller", Value: fmt.Sprintf("caps above %.0f%% of a rating, lifts below %.0f%%, acts after %s",
			100*c.Engine.Capping.Controller.CapAbove, 100*c.Engine.Capping.Controller.UncapBelow, DurationText(c.ReactionDelay))},
		{Name: "scheduling pass", Value: "at most every " + DurationText(c.PassInterval)},
		{Name: "checkpoints", Value: "every " + DurationText(c.Checkpoint)},
		{Name: "preemption", Value: onOff(c.Engine.Preemption)},
		{Name: "failures", Value: onOff(c.Failures)},
	}
	if c.Engine.Sites != "" {
		ps = append(ps, Param{Name: "site policy", Value: c.Engine.Sites})
	}
	if c.Failures {
		ps = append(ps, Param{Name: "MTBF, repair", Value: fmt.Sprintf("%s h per accelerator, %s", human.Count(c.MTBF.Hours()), DurationText(c.RepairTime))})
	}
	if c.Horizon > 0 {
		ps = append(ps, Param{Name: "horizon", Value: DurationText(c.Horizon)})
	}
	if in := c.Inference; in != nil {
		ps = append(ps, Param{Name: "inference service", Value: fmt.Sprintf("%d accelerators, load per %s for %s", in.Accelerators, DurationText(in.Bucket),
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
	return buildPage(title, params, rs).Write(w)
}

// maxPoints bounds the points of one time series on the page.
const maxPoints = 800

// window is the samples the time charts show, and the unit of their x.
type window struct {
	idx  []int  // the samples drawn (thinned)
	unit string // "h" or "d"
}

func buildPage(title string, params []Param, rs []*Result) *chart.Page {
	p := &chart.Page{Title: title, Xs: map[string][]chart.Num{}}
	r0 := rs[0]
	end := chartSpan(rs)
	unit, per := "h", 3600.0
	if end > 72*3600 {
		unit, per = "d", 86400
	}
	wins := make([]window, len(rs))
	for k, r := range rs {
		wins[k] = sampleWindow(r, end, unit)
		xs := make([]chart.Num, len(wins[k].idx))
		for i, si := range wins[k].idx {
			xs[i] = chart.Num(r.Series[si].T / per)
		}
		p.Xs[tkey(k)] = xs
	}
	xmax := end / per
	x0 := 0.0
	p.Lead = lead(rs)
	p.Cards = cards(rs)
	p.Params = append(append([]Param{}, params...), policiesParam(rs))
	p.Params = append(p.Params, ConfigParams(&r0.Config)...)
	if end < maxMakespan(rs) {
		p.Params = append(p.Params, Param{Name: "charts over time", Value: fmt.Sprintf("the first %s, while jobs arrive and the queue drains; the runs end at %s (series CSV: every sample)",
			durText(end), durText(maxMakespan(rs)))})
	}
	timeChart := func(id, label, unit string, series []chart.Series) chart.Line {
		return chart.Line{ID: id, Label: label, Unit: unit, XUnit: wins[0].unit, XMin: &x0, XMax: &xmax, Series: series}
	}
	over := func(f func(*Result, *Sample) float64) []chart.Series {
		out := make([]chart.Series, len(rs))
		for k, r := range rs {
			vs := make([]chart.Num, len(wins[k].idx))
			for i, si := range wins[k].idx {
				vs[i] = chart.Num(f(r, &r.Series[si]))
			}
			out[k] = chart.Series{Name: r.Policy, Xs: tkey(k), Values: vs}
		}
		return out
	}
	add := func(s *chart.Section, c chart.Line, caption string) {
		p.Charts = append(p.Charts, c)
		s.Figures = append(s.Figures, chart.Figure{ID: c.ID, Caption: caption})
	}

	// Waiting and completion.
	q := chart.Section{ID: "queue", Title: "Waiting and completion"}
	add(&q, timeChart("c-queued", "Jobs waiting in the queue", "jobs", over(func(_ *Result, s *Sample) float64 { return float64(s.Queued) })),
		"Jobs waiting to start at each sample. "+queueNote(rs))
	add(&q, timeChart("c-util", "Accelerators allocated, % of the fleet", "% allocated", over(func(_ *Result, s *Sample) float64 { return 100 * s.Utilization })),
		"Allocated accelerators over all of the fleet's.")
	var waits, jcts []chart.Series
	for _, r := range rs {
		x, y := cdf(r, func(j *JobRecord) (float64, bool) { return j.Start - j.Submit, j.Start >= 0 }, 60)
		waits = append(waits, chart.Series{Name: r.Policy, Xs: x, Values: y})
		x, y = cdf(r, func(j *JobRecord) (float64, bool) { return j.Finish - j.Submit, j.Finish >= 0 }, 3600)
		jcts = append(jcts, chart.Series{Name: r.Policy, Xs: x, Values: y})
	}
	add(&q, chart.Line{ID: "c-wait-cdf", Label: "Wait before the first start: cumulative share of jobs", Unit: "% of jobs", XUnit: "min",
		LogX: true, YMax: 100, Series: waits}, "Share of started jobs that waited at most x minutes (log scale; waits under 1 s count as 1 s).")
	add(&q, chart.Line{ID: "c-jct-cdf", Label: "Job completion time: cumulative share of jobs", Unit: "% of jobs", XUnit: "h",
		LogX: true, YMax: 100, Series: jcts}, "Share of completed jobs done within x hours of their submission (log scale; under 1 s counts as 1 s).")
	q.Tables = append(q.Tables, queueTable(rs))
	p.Sections = append(p.Sections, q)

	// Power.
	pw := chart.Section{ID: "power", Title: "Power against the ratings of the power tree"}
	capAbove := 100 * r0.Config.Engine.Capping.Controller.CapAbove
	for li, l := range r0.Levels {
		if li == 0 { // sites: drawn one by one below
			continue
		}
		c := timeChart("c-hot-"+l.Level, "Hottest "+l.Level+": peak draw over its rating", "% of rating",
			over(func(_ *Result, s *Sample) float64 { return 100 * s.Hottest[li].Ratio }))
		c.Limit, c.LimitLabel, c.YMax = 100, "rating", 100
		if capAbove > 0 {
			c.Refs = []chart.Ref{{Y: capAbove, Label: fmt.Sprintf("controller caps above %.0f%%", capAbove)}}
		}
		add(&pw, c, hotCaption(rs, li))
	}
	for si, name := range r0.SiteNames {
		c := timeChart(fmt.Sprintf("c-site-%d", si), "Site "+name+": IT draw against its IT limit", "MW",
			over(func(_ *Result, s *Sample) float64 { return s.SiteMW[si] }))
		c.Limit, c.LimitLabel = r0.SiteLimitMW[si], "IT limit "+sig(r0.SiteLimitMW[si])+" MW"
		caption := fmt.Sprintf("%s: IT draw (the swing's phase at each sample) against the substation's rating over PUE, %s MW.", name, sig(r0.SiteLimitMW[si]))
		if n := gridMarks(&c, r0, si, per); n > 0 {
			caption += fmt.Sprintf(" Shaded: the %s over it; dashed: the target of a site's own event, over PUE (%s).", Plural(n, "grid event"), r0.Policy)
		}
		add(&pw, c, caption)
	}
	if some(rs, func(s *Sample) bool { return s.CappedAccelerators > 0 }) {
		add(&pw, timeChart("c-capped", "Accelerators under a power cap", "accelerators",
			over(func(_ *Result, s *Sample) float64 { return float64(s.CappedAccelerators) })), capsCaption(rs))
	} else {
		pw.Notes = append(pw.Notes, "The power controller capped no job: no domain's peak passed its threshold.")
	}
	pw.Tables = append(pw.Tables, levelTable(rs), capTable(rs))
	p.Sections = append(p.Sections, pw)

	// Sites.
	st := chart.Section{ID: "sites", Title: "Sites"}
	for k, r := range rs {
		var ss []chart.Series
		for si, name := range r.SiteNames {
			vs := make([]chart.Num, len(wins[k].idx))
			for i, x := range wins[k].idx {
				vs[i] = chart.Num(100 * r.Series[x].SiteUtilization[si])
			}
			ss = append(ss, chart.Series{Name: name, Xs: tkey(k), Values: vs})
		}
		add(&st, timeChart(fmt.Sprintf("c-site-util-%d", k), "Accelerators allocated per site"+forPolicy(rs, r), "% allocated", ss),
			"Each site's allocated accelerators over its own"+forPolicy(rs, r)+".")
	}
	st.Tables = append(st.Tables, siteTable(rs))
	p.Sections = append(p.Sections, st)

	// Tenants.
	tn := chart.Section{ID: "tenants", Title: "Tenants"}
	for k, r := range rs {
		var ss []chart.Series
		for g, t := range r.Tenants {
			vs := make([]chart.Num, len(wins[k].idx))
			for i, x := range wins[k].idx {
				vs[i] = chart.Num(100 * float64(r.Series[x].TenantAccelerators[g]) / float64(max(1, r.Accelerators)))
			}
			ss = append(ss, chart.Series{Name: t.Name, Xs: tkey(k), Values: vs})
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
	p.Sections = append(p.Sections, tn)

	if len(r0.GridEvents) > 0 {
		p.Sections = append(p.Sections, gridSection(p, rs))
	}

	// Energy.
	en := chart.Section{ID: "energy", Title: "Energy, carbon and price"}
	siteSeries := func(f func(s *Sample, si int) float64) []chart.Series {
		var ss []chart.Series
		for si, name := range r0.SiteNames {
			vs := make([]chart.Num, len(wins[0].idx))
			for i, x := range wins[0].idx {
				vs[i] = chart.Num(f(&r0.Series[x], si))
			}
			ss = append(ss, chart.Series{Name: name, Xs: tkey(0), Values: vs})
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
	p.Sections = append(p.Sections, en)

	// Failures and preemptions.
	fp := chart.Section{ID: "failures", Title: "Failures and preemptions"}
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
	p.Sections = append(p.Sections, fp)
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
func cdf(r *Result, f func(*JobRecord) (float64, bool), per float64) ([]chart.Num, []chart.Num) {
	var v []float64
	for i := 0; i < r.JobsSubmitted && i < len(r.Jobs); i++ { // not the inference service
		if x, ok := f(&r.Jobs[i]); ok {
			v = append(v, max(x, 1))
		}
	}
	sort.Float64s(v)
	n := len(v)
	step := max(1, n/400)
	var xs, ys []chart.Num
	for i := min(step, n) - 1; i >= 0 && i < n; i += step {
		k := i // the last of equal values carries their share
		for k+1 < n && v[k+1] == v[k] {
			k++
		}
		if i+step >= n {
			k = n - 1
		}
		xs = append(xs, chart.Num(v[k]/per))
		ys = append(ys, chart.Num(100*float64(k+1)/float64(n)))
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
		return Param{Name: "queue policies compared", Value: strings.Join(names, ", ")}
	}
	return Param{Name: "queue policy", Value: names[0]}
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
		{Name: "accelerators", Value: human.Int(r.Accelerators)},
		{Name: "jobs submitted", Value: human.Int(r.JobsSubmitted)},
	}
	if len(rs) > 1 {
		return cs
	}
	return append(cs,
		Param{Name: "average wait", Value: durText(r.AvgWait)},
		Param{Name: "average completion time", Value: durText(r.AvgJCT)},
		Param{Name: "utilization while jobs arrive", Value: fmt.Sprintf("%.1f%%", 100*r.UtilizationArrivals)},
		Param{Name: "energy", Value: sig(r.EnergyMWh) + " MWh"},
		Param{Name: "emissions", Value: sig(r.EmissionsTCO2) + " tCO2"},
		Param{Name: "energy cost", Value: human.Count(r.CostUSD) + " USD"},
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
func withPolicy(rs []*Result, names ...string) []chart.Cell {
	if len(rs) > 1 {
		names = append([]string{"policy"}, names...)
	}
	return chart.Head(names...)
}

// policyCells starts a row with r's policy when several are compared.
func policyCells(rs []*Result, r *Result, cs ...chart.Cell) []chart.Cell {
	if len(rs) > 1 {
		return append([]chart.Cell{chart.Text(r.Policy)}, cs...)
	}
	return cs
}

func durCell(s float64) chart.Cell { return chart.Number(durText(s), s) }

func countCell(x float64) chart.Cell { return chart.Number(human.Count(x), x) }

func pctCell(f float64) chart.Cell { return chart.Number(fmt.Sprintf("%.1f%%", 100*f), f) }

func queueTable(rs []*Result) chart.Table {
	t := chart.Table{Caption: "Jobs: completed, unfinished at the end, refused as larger than the fleet, most waiting at once. Waits run from submission to the first start, completion times (JCT) to the end; utilization is of the accelerators while jobs arrive.",
		Head: withPolicy(rs, "completed", "unfinished", "too large", "most queued",
			"wait avg", "wait p95", "wait p99", "JCT avg", "JCT p50", "JCT p95", "JCT p99", "utilization", "makespan")}
	for _, r := range rs {
		t.Rows = append(t.Rows, policyCells(rs, r, countCell(float64(r.JobsCompleted)), countCell(float64(r.JobsUnfinished)),
			countCell(float64(r.JobsRejected)), countCell(float64(r.MaxQueued)),
			durCell(r.AvgWait), durCell(r.P95Wait), durCell(r.P99Wait),
			durCell(r.AvgJCT), durCell(r.P50JCT), durCell(r.P95JCT), durCell(r.P99JCT),
			pctCell(r.UtilizationArrivals), durCell(r.Makespan)))
	}
	t.AlignHead()
	return t
}

func levelTable(rs []*Result) chart.Table {
	t := chart.Table{Caption: "The domain of each level whose peak draw came closest to its rating, and the time any domain of the level spent above its own.",
		Head: withPolicy(rs, "level", "hottest domain", "peak (kW)", "rating (kW)", "peak / rating", "time above a rating", "longest above")}
	for _, r := range rs {
		for _, l := range r.Levels {
			t.Rows = append(t.Rows, policyCells(rs, r, chart.Text(l.Level), chart.Text(l.PeakDomain), chart.Number(sig(l.PeakKW), l.PeakKW),
				chart.Number(sig(l.LimitKW), l.LimitKW), chart.Gauge(l.PeakRatio), durCell(l.SecondsAbove), durCell(l.LongestAbove)))
		}
	}
	t.AlignHead()
	return t
}

func capTable(rs []*Result) chart.Table {
	t := chart.Table{Caption: "Caps: the controller slows the lowest-priority jobs under a domain that passes its threshold.",
		Head: withPolicy(rs, "cap events", "time with a cap on", "capped GPU-hours", "most capped (accelerators)")}
	for _, r := range rs {
		most := 0
		for i := range r.Series {
			most = max(most, r.Series[i].CappedAccelerators)
		}
		t.Rows = append(t.Rows, policyCells(rs, r, countCell(float64(r.CapEvents)), durCell(r.CappedSeconds),
			countCell(r.CappedGPUHours), countCell(float64(most))))
	}
	t.AlignHead()
	return t
}

func siteTable(rs []*Result) chart.Table {
	t := chart.Table{Caption: "Utilization is allocated accelerator-time over the run; energy is the facility's, PUE included.",
		Head: withPolicy(rs, "site", "accelerators", "utilization", "IT limit (MW)", "peak IT draw (MW)", "peak / limit",
			"energy (MWh)", "emissions (tCO2)", "cost (USD)", "intensity (gCO2/kWh)")}
	for _, r := range rs {
		for _, s := range r.Sites {
			ratio := 0.0
			if s.LimitMW > 0 {
				ratio = s.PeakMW / s.LimitMW
			}
			t.Rows = append(t.Rows, policyCells(rs, r, chart.Text(s.Name), countCell(float64(s.Accelerators)), pctCell(s.Utilization),
				chart.Number(sig(s.LimitMW), s.LimitMW), chart.Number(sig(s.PeakMW), s.PeakMW), chart.Gauge(ratio),
				chart.Number(sig(s.EnergyMWh), s.EnergyMWh), chart.Number(sig(s.EmissionsTCO2), s.EmissionsTCO2),
				countCell(s.CostUSD), chart.Number(sig(intensity(s.EmissionsTCO2, s.EnergyMWh)), intensity(s.EmissionsTCO2, s.EnergyMWh))))
		}
	}
	t.AlignHead()
	return t
}

// intensity is gCO2/kWh from tonnes and MWh.
func intensity(t, mwh float64) float64 {
	if mwh <= 0 {
		return 0
	}
	return t * 1e3 / mwh
}

func tenantTable(rs []*Result) chart.Table {
	t := chart.Table{Caption: "Demand is the work a tenant's jobs asked for at full speed; held, what its running jobs held (restarts and slowdowns included); share, its part of all that was held.",
		Head: withPolicy(rs, "tenant", "jobs", "completed", "demand (GPU-h)", "held (GPU-h)", "share of held", "wait avg", "wait p95")}
	for _, r := range rs {
		for _, tr := range r.Tenants {
			name := tr.Name
			if tr.Name == Others {
				name = fmt.Sprintf("%s (%d tenants)", Others, tr.Tenants)
			}
			t.Rows = append(t.Rows, policyCells(rs, r, chart.Text(name), countCell(float64(tr.JobsSubmitted)), countCell(float64(tr.JobsCompleted)),
				countCell(tr.DemandGPUHours), countCell(tr.HeldGPUHours), chart.Share(tr.Share), durCell(tr.AvgWait), durCell(tr.P95Wait)))
		}
	}
	t.AlignHead()
	return t
}

func energyTable(rs []*Result) chart.Table {
	t := chart.Table{Caption: "The fleet's facility energy over the run, dispatched hour by hour over each site's mix.",
		Head: withPolicy(rs, "energy (MWh)", "emissions (tCO2)", "cost (USD)", "intensity (gCO2/kWh)", "price (USD/MWh)")}
	for _, r := range rs {
		price := 0.0
		if r.EnergyMWh > 0 {
			price = r.CostUSD / r.EnergyMWh
		}
		in := intensity(r.EmissionsTCO2, r.EnergyMWh)
		t.Rows = append(t.Rows, policyCells(rs, r, chart.Number(sig(r.EnergyMWh), r.EnergyMWh), chart.Number(sig(r.EmissionsTCO2), r.EmissionsTCO2),
			countCell(r.CostUSD), chart.Number(sig(in), in), chart.Number(sig(price), price)))
	}
	t.AlignHead()
	return t
}

func failureTable(rs []*Result) chart.Table {
	t := chart.Table{Caption: "Lost GPU-hours are work done since the last checkpoint and redone after a restart.",
		Head: withPolicy(rs, "node failures", "preemptions", "GPU-h lost to failures", "GPU-h lost to preemption", "GPU-hours allocated", "scheduling passes", "events", "wall time (s)")}
	for _, r := range rs {
		t.Rows = append(t.Rows, policyCells(rs, r, countCell(float64(r.Failures)), countCell(float64(r.Preemptions)),
			countCell(r.LostGPUHoursFailures), countCell(r.LostGPUHoursPreemption), countCell(r.AllocatedGPUHours),
			countCell(float64(r.Passes)), countCell(float64(r.Events)), chart.Number(fmt.Sprintf("%.2f", r.WallS), r.WallS)))
	}
	t.AlignHead()
	return t
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

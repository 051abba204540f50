package sim

// The report's grid events: each site's draw chart marks the events over
// it, and a section of its own shows each event's scope against its
// target and the table of what each event did.

import (
	"fmt"

	"stargate/internal/chart"
)

// maxGridCharts bounds the events drawn one by one.
const maxGridCharts = 8

// gridMarks shades the windows of r's events over site si on a site
// chart (x in units of per seconds) and draws the target of those whose
// scope is that site alone, in IT MW; it returns how many it marked.
func gridMarks(c *chart.Line, r *Result, si int, per float64) int {
	n := 0
	for _, g := range r.GridEvents {
		sites := g.sites
		if !containsInt(sites, si) {
			continue
		}
		n++
		x0, x1 := g.StartS/per, (g.StartS+g.DurationS)/per
		c.Spans = append(c.Spans, chart.Span{X0: x0, X1: x1, Label: g.ID})
		if len(sites) == 1 && len(r.SitePUE) > si {
			t := chart.Num(g.TargetMW / r.SitePUE[si])
			c.Series = append(c.Series, chart.Series{Name: g.ID + " target", Xs: []chart.Num{chart.Num(x0), chart.Num(x1)},
				Values: []chart.Num{t, t}, Cls: "target"})
		}
	}
	return n
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// gridSection draws each event's scope at the facility against its target
// (the first maxGridCharts events of each run) and tabulates every event.
func gridSection(p *chart.Page, rs []*Result) chart.Section {
	sec := chart.Section{ID: "grid", Title: "Grid events"}
	sec.Notes = append(sec.Notes, "Draws are at the facility (IT × PUE), summed over the event's scope, at the peak of the compute/communication swing. "+
		"Time over target counts from the end of the response window; energy shed is against the scope's mean draw at the start.")
	for k, r := range rs {
		for i, g := range r.GridEvents {
			if i == maxGridCharts {
				sec.Notes = append(sec.Notes, fmt.Sprintf("%s: the first %d of %d events are drawn; the table lists them all.", r.Policy, maxGridCharts, len(r.GridEvents)))
				break
			}
			if len(g.Trace) == 0 {
				continue
			}
			xs := make([]chart.Num, len(g.Trace))
			vs := make([]chart.Num, len(g.Trace))
			for j, p := range g.Trace {
				xs[j], vs[j] = chart.Num((p[0]-g.StartS)/60), chart.Num(p[1])
			}
			end := g.DurationS / 60
			c := chart.Line{ID: fmt.Sprintf("c-grid-%d-%d", k, i), Label: fmt.Sprintf("%s (%s): draw of %s against its target", g.ID, r.Policy, g.Scope),
				Unit: "MW", XUnit: "min", Series: []chart.Series{{Name: "draw", Xs: xs, Values: vs},
					{Name: "target", Xs: []chart.Num{0, chart.Num(end)}, Values: []chart.Num{chart.Num(g.TargetMW), chart.Num(g.TargetMW)}, Cls: "target"}},
				Spans: []chart.Span{{X0: 0, X1: end, Label: g.Kind}}}
			caption := fmt.Sprintf("%s, %s from %s: baseline %s MW, target %s MW; minutes from the start.", g.Scope, DurationText(seconds(g.DurationS)),
				DurationText(seconds(g.StartS)), sig(g.BaselineMW), sig(g.TargetMW))
			if g.OnlyProtectedLeft {
				caption += " Over the target with only protected work left."
			}
			sec.Figures = append(sec.Figures, chart.Figure{ID: c.ID, Caption: caption})
			p.Charts = append(p.Charts, c)
		}
	}
	sec.Tables = append(sec.Tables, gridTable(rs))
	return sec
}

func gridTable(rs []*Result) chart.Table {
	t := chart.Table{Caption: "What each grid event did: peak and time over target after the response window; work slowed (accelerator-hours under a cap) and lost (since the last checkpoints of the jobs stopped).",
		Head: withPolicy(rs, "event", "scope", "kind", "baseline (MW)", "target (MW)", "peak after response (MW)", "time over target", "time to comply",
			"energy shed (MWh)", "GPU-h slowed", "GPU-h lost", "jobs stopped", "jobs moved", "inference served", "cost avoided (USD)", "tCO2 avoided")}
	for _, r := range rs {
		for _, g := range r.GridEvents {
			comply := chart.Number("never", -1)
			if g.TimeToComplyS >= 0 {
				comply = durCell(g.TimeToComplyS)
			}
			over := durCell(g.SecondsOverTarget)
			if g.OnlyProtectedLeft {
				over.Text += " (only protected work left)"
			}
			t.Rows = append(t.Rows, policyCells(rs, r, chart.Text(g.ID), chart.Text(g.Scope), chart.Text(g.Kind),
				chart.Number(sig(g.BaselineMW), g.BaselineMW), chart.Number(sig(g.TargetMW), g.TargetMW),
				chart.Number(sig(g.PeakMWAfterResponse), g.PeakMWAfterResponse), over, comply,
				chart.Number(sig(g.EnergyShedMWh), g.EnergyShedMWh), countCell(g.AcceleratorHoursSlowed), countCell(g.AcceleratorHoursLost),
				countCell(float64(g.JobsPreempted)), countCell(float64(g.JobsMoved)), chart.Share(g.InferenceServed),
				countCell(g.CostAvoidedUSD), chart.Number(sig(g.EmissionsAvoidedT), g.EmissionsAvoidedT)))
		}
	}
	t.AlignHead()
	return t
}

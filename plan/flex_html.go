package plan

// The grid flexibility section of the offline report.

import (
	"fmt"

	"stargate/fleet"
	"stargate/internal/chart"
)

// gridSection is the report's grid flexibility section: how each site's
// draw splits and how it holds the cut asked, and, when asked, the extra
// IT load with curtailment drawn on each site's load-duration curve.
func (r *Report) gridSection(p *chart.Page) chart.Section {
	g := &r.Grid
	sec := chart.Section{ID: "grid", Title: "Grid flexibility by site",
		Notes: []string{fmt.Sprintf("Inference on %s of each site's accelerators is protected, and stopping work leaves nodes idle: "+
			"the flexible draw is the rest's draw above idle. Caps at %.2f of TDP on every busy flexible accelerator shed the caps' part and slow "+
			"the capped work to %s of its speed (the cube-root law); a cut of %s of the expected draw within it holds indefinitely. "+
			"A deeper one also stops a share of the flexible work, and holds as long as that work can be caught up within %d h on the "+
			"site's idle accelerators, as far as its IT power feeds them; deeper than the flexible draw is out of reach.",
			percent(g.InferenceShare), g.CapFraction, percent(g.CappedSpeed), percent(g.Cut), CatchUpHours)}}
	t := chart.Table{Head: chart.Head("site", "draw (MW)", "protected (MW)", "idle (MW)", "flexible (MW)", "flexible share",
		"caps shed (MW)", "caps shed share", "cut (MW)", "stopped share", "speed kept", "hold")}
	for i := range r.Sites {
		s := &r.Sites[i]
		f := &s.Grid
		hold := chart.Text(holdText(f))
		if f.HoldHours != nil {
			hold = chart.Number(holdText(f), *f.HoldHours)
		}
		t.Rows = append(t.Rows, []chart.Cell{chart.Text(s.Name), mwCell(s.DrawMW), mwCell(f.ProtectedMW), mwCell(f.IdleMW),
			mwCell(s.FlexibleMW), chart.Share(f.FlexibleShare), mwCell(s.CapCutMW), chart.Share(f.CapCutShare), mwCell(f.CutMW),
			chart.Share(f.StoppedShare), chart.Share(f.FlexibleSpeed), hold})
	}
	t.AlignHead()
	sec.Tables = append(sec.Tables, t)
	fx := r.Flexibility
	if fx == nil {
		return sec
	}
	sec.Notes = append(sec.Notes, fmt.Sprintf("Extra IT load with %s h of curtailment a year: each site's load factor runs evenly from %.2f in its "+
		"busiest hour to %.2f in its quietest (mean %.2f), an assumption, as the plan has no hourly load. Extra load runs flat; it stays "+
		"under the site's IT power (substation / PUE) but in the curtailed hours, when the site's caps shed the excess.",
		hoursText(fx.Hours), fx.PeakLoadFactor, fx.LowLoadFactor, r.LoadFactor))
	zero, year := 0.0, float64(fleet.HoursPerYear)
	xs := []chart.Num{0, chart.Num(fx.Hours), chart.Num(year)}
	ht := chart.Table{Head: chart.Head("site", "IT (MW)", "peak (MW)", "low (MW)", "draw at the hours (MW)", "firm extra (MW)",
		"extra (MW)", "room for (accelerators)", "curtailed (h/yr)", "deepest shed (MW)", "shed (MWh/yr)")}
	for i := range r.Sites {
		s := &r.Sites[i]
		h := s.Headroom
		c := chart.Line{ID: fmt.Sprintf("c-ldc-%d", i), Label: s.Name + ": draw over the hours of the year, highest first", Unit: "MW",
			XUnit: "h", XMin: &zero, XMax: &year, Limit: s.ITMW, LimitLabel: "IT power " + mw(s.ITMW) + " MW",
			Spans: []chart.Span{{X0: 0, X1: fx.Hours, Label: "curtailed"}},
			Series: []chart.Series{
				{Name: "draw", Xs: xs, Values: []chart.Num{chart.Num(h.PeakMW), chart.Num(h.AtHoursMW), chart.Num(h.LowMW)}},
				{Name: "with the extra load", Xs: xs, Values: []chart.Num{chart.Num(h.PeakMW + h.ExtraMW), chart.Num(h.AtHoursMW + h.ExtraMW), chart.Num(h.LowMW + h.ExtraMW)}},
			}}
		p.Charts = append(p.Charts, c)
		sec.Figures = append(sec.Figures, chart.Figure{ID: c.ID, Caption: fmt.Sprintf(
			"%s could connect %s MW more (%s MW with no curtailment), shedding up to %s MW for %s h a year.",
			s.Name, mw(h.ExtraMW), mw(h.FirmExtraMW), mw(h.CurtailMW), mw(h.CurtailedHours))})
		ht.Rows = append(ht.Rows, []chart.Cell{chart.Text(s.Name), mwCell(s.ITMW), mwCell(h.PeakMW), mwCell(h.LowMW), mwCell(h.AtHoursMW),
			mwCell(h.FirmExtraMW), mwCell(h.ExtraMW), countCell(float64(h.ExtraAccelerators)), mwCell(h.CurtailedHours),
			mwCell(h.CurtailMW), mwCell(h.CurtailedMWh)})
	}
	ht.AlignHead()
	sec.Tables = append(sec.Tables, ht)
	return sec
}

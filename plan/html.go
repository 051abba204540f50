package plan

// The offline report of a plan: one page that works without a network,
// drawn with the console's chart code (internal/chart) like the sim
// report. It says what the fleet can power and what it leaves unused,
// then how each site's energy mix covers its draw hour by hour.

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"stargate/energy"
	"stargate/fleet"
	"stargate/internal/chart"
	"stargate/internal/human"
)

// Param is one of the parameters the report lists: a name and a value
// with its unit.
type Param = chart.Param

// WriteHTML writes the report of a plan of f (the fleet r was computed
// from, whose energy sources it dispatches hour by hour): key figures, the
// power budget and unused power of each site, a typical day of each
// site's energy mix with its intensity and price, and sortable tables of
// every figure. params say how the plan was asked (what-ifs), before the
// report's own load factor and household.
func (r *Report) WriteHTML(w io.Writer, title string, f *fleet.Fleet, params []Param) error {
	srcs, err := siteSources(r, f)
	if err != nil {
		return err
	}
	p := &chart.Page{Title: title, ParamsTitle: "Assumptions", Xs: map[string][]chart.Num{}}
	t := &r.Totals
	unused := t.ITMW - t.DrawMW
	p.Lead = r.lead(unused)
	p.Cards = []Param{
		{Name: "substations", Value: mw(t.SubstationMW) + " MW"},
		{Name: "IT power (substation / PUE)", Value: mw(t.ITMW) + " MW"},
		{Name: "accelerators installed", Value: count(float64(t.Accelerators))},
		{Name: "expected IT draw", Value: mw(t.DrawMW) + " MW"},
		{Name: "IT power unused at that draw", Value: mw(unused) + " MW"},
		{Name: fmt.Sprintf("a year (%s households)", count(t.Households)), Value: mw(t.AnnualGWh) + " GWh"},
		{Name: "emissions a year", Value: count(t.EmissionsTCO2) + " tCO2"},
		{Name: "energy cost a year", Value: usd(t.EnergyCostUSD) + " USD"},
	}
	p.Params = append(append([]Param{}, params...),
		Param{Name: "load factor", Value: fmt.Sprintf("%.2f: a node draws idle + %.2f × (rated − idle)", r.LoadFactor, r.LoadFactor)},
		Param{Name: "household", Value: count(r.HouseholdKWh) + " kWh a year"},
		Param{Name: "inference share", Value: percent(r.Grid.InferenceShare) + " of the accelerators, protected (an assumption)"},
		Param{Name: "grid cap", Value: fmt.Sprintf("%.2f of TDP: capped work runs at %s of its speed", r.Grid.CapFraction, percent(r.Grid.CappedSpeed))},
		Param{Name: "cut", Value: percent(r.Grid.Cut) + " of each site's expected draw"},
		Param{Name: "hours", Value: "a typical day is the mean of each hour of the day over the year's 8,760, in UTC"})
	if fx := r.Flexibility; fx != nil {
		p.Params = append(p.Params, Param{Name: "flexibility", Value: fmt.Sprintf("%s h of curtailment a year; load factor %.2f in a site's busiest hour, %.2f in its quietest",
			hoursText(fx.Hours), fx.PeakLoadFactor, fx.LowLoadFactor)})
	}

	budget := chart.Section{ID: "power", Title: "Power budget and unused power by site",
		Notes: []string{"IT power is the substation's rating over the site's PUE; draw is the installed nodes' expected IT draw at the load factor, nameplate their rated power. Unused is the IT power that the draw leaves, and room is how many more accelerators of the site's model its IT power would feed."}}
	budget.Tables = append(budget.Tables, r.budgetTable())
	p.Sections = append(p.Sections, budget)

	mix := chart.Section{ID: "mix", Title: "Energy mix hour by hour",
		Notes: []string{"Each site's facility draw (expected IT draw × PUE) dispatched hour by hour by the site's energy mix: capacity sources (mw) first, each up to its output that hour, then the shares split the rest. Shown as a typical day: each hour of the day averaged over the year."}}
	hours := make([]chart.Num, 0, 48)
	for h := range 24 {
		hours = append(hours, chart.Num(h), chart.Num(h+1)) // each hour a flat step
	}
	p.Xs["hour"] = hours
	zero, day := 0.0, 24.0
	var carbon, price []chart.Series
	for i := range r.Sites {
		s := &r.Sites[i]
		d := typicalDay(srcs[i], s.FacilityMW)
		var ss []chart.Series
		for k, src := range srcs[i] {
			ss = append(ss, chart.Series{Name: src.Source, Xs: "hour", Values: steps(d.parts[k]), Cls: sourceClass(src.Source, k)})
		}
		if d.anyUnserved {
			ss = append(ss, chart.Series{Name: "not covered", Xs: "hour", Values: steps(d.unserved), Cls: "src-unserved"})
		}
		c := chart.Line{ID: fmt.Sprintf("c-mix-%d", i), Label: s.Name + ": facility draw by source, a typical day", Unit: "MW",
			XUnit: "h", XMin: &zero, XMax: &day, Stack: true, Series: ss,
			Limit: s.SubstationMW, LimitLabel: "substation " + mw(s.SubstationMW) + " MW"}
		p.Charts = append(p.Charts, c)
		mix.Figures = append(mix.Figures, chart.Figure{ID: c.ID, Caption: fmt.Sprintf(
			"%s draws %s MW (PUE %.2f) of its substation's %s MW, leaving %s MW; hour of the day in UTC. A year: %s GWh, %s tCO2, %s USD.",
			s.Name, mw(s.FacilityMW), s.PUE, mw(s.SubstationMW), mw(s.SubstationMW-s.FacilityMW), mw(s.AnnualGWh), count(s.EmissionsTCO2), usd(s.EnergyCostUSD))})
		carbon = append(carbon, chart.Series{Name: s.Name, Xs: "hour", Values: steps(d.carbon)})
		price = append(price, chart.Series{Name: s.Name, Xs: "hour", Values: steps(d.price)})
	}
	for _, c := range []chart.Line{
		{ID: "c-carbon", Label: "Carbon intensity of each site's energy, a typical day", Unit: "gCO2/kWh", XUnit: "h", XMin: &zero, XMax: &day, Series: carbon},
		{ID: "c-price", Label: "Price of each site's energy, a typical day", Unit: "USD/MWh", XUnit: "h", XMin: &zero, XMax: &day, Series: price},
	} {
		p.Charts = append(p.Charts, c)
	}
	mix.Figures = append(mix.Figures,
		chart.Figure{ID: "c-carbon", Caption: "The intensity of the energy that covers each site's draw, weighted by what each source gives, by hour of the day (UTC)."},
		chart.Figure{ID: "c-price", Caption: "The price of the energy that covers each site's draw, weighted by what each source gives, by hour of the day (UTC)."})
	mix.Tables = append(mix.Tables, r.mixTable())
	p.Sections = append(p.Sections, mix)

	p.Sections = append(p.Sections, r.gridSection(p))

	figs := chart.Section{ID: "figures", Title: "A year by site, region and fleet"}
	figs.Tables = append(figs.Tables, r.yearTable())
	p.Sections = append(p.Sections, figs)
	return p.Write(w)
}

// siteSources returns the energy sources of each site of r, from f.
func siteSources(r *Report, f *fleet.Fleet) ([][]fleet.EnergySource, error) {
	if f == nil || len(f.Sites) != len(r.Sites) {
		return nil, fmt.Errorf("plan: the report needs the fleet it was computed from")
	}
	out := make([][]fleet.EnergySource, len(r.Sites))
	for i := range r.Sites {
		if f.Sites[i].Name != r.Sites[i].Name {
			return nil, fmt.Errorf("plan: site %d is %q in the report, %q in the fleet", i, r.Sites[i].Name, f.Sites[i].Name)
		}
		out[i] = f.Sites[i].Energy
	}
	return out, nil
}

// day is a typical day of a site's mix: per hour of the day, the mean
// over the year of each source's MW, the MW no source covers, and the
// blended intensity (gCO2/kWh) and price (USD/MWh).
type day struct {
	parts         [][]float64 // [source][hour]
	unserved      []float64
	anyUnserved   bool
	carbon, price []float64
}

// typicalDay dispatches a constant facility draw over every hour of the
// year by energy.Dispatch and averages each hour of the day.
func typicalDay(srcs []fleet.EnergySource, drawMW float64) day {
	const days = fleet.HoursPerYear / 24
	d := day{parts: make([][]float64, len(srcs)), unserved: make([]float64, 24), carbon: make([]float64, 24), price: make([]float64, 24)}
	for k := range srcs {
		d.parts[k] = make([]float64, 24)
	}
	parts := make([]float64, len(srcs))
	for h := 0; h < fleet.HoursPerYear; h++ {
		un := energy.Dispatch(srcs, drawMW, h, parts)
		for k := range srcs {
			d.parts[k][h%24] += parts[k] / days
		}
		d.unserved[h%24] += un / days
		price, carbon := energy.Blend(srcs, drawMW, h)
		d.price[h%24] += price / days
		d.carbon[h%24] += carbon / days
		d.anyUnserved = d.anyUnserved || un > 1e-9
	}
	return d
}

// steps repeats each hour's value at its start and end, for flat steps
// over the "hour" x values.
func steps(v []float64) []chart.Num {
	out := make([]chart.Num, 0, 2*len(v))
	for _, x := range v {
		out = append(out, chart.Num(x), chart.Num(x))
	}
	return out
}

// sourceClass colours a source by its kind where the stylesheet knows it
// (see the report's source colours), by its place otherwise.
func sourceClass(source string, k int) string {
	switch s := strings.ToLower(source); s {
	case "coal", "gas", "nuclear", "solar", "wind", "hydro", "grid", "storage", "oil", "geothermal", "biomass":
		return "src-" + s
	}
	return "s" + strconv.Itoa(k%8)
}

func (r *Report) lead(unused float64) []string {
	t := &r.Totals
	out := []string{fmt.Sprintf("%s in %s: %s MW of substations leave %s MW for IT, which feeds %s accelerators installed (room for %s of each site's model).",
		plural(len(r.Sites), "site"), plural(len(r.Regions), "region"), mw(t.SubstationMW), mw(t.ITMW), count(float64(t.Accelerators)), count(float64(t.MaxAccelerators)))}
	if len(r.Sites) > 0 {
		most := &r.Sites[0]
		for i := range r.Sites {
			if r.Sites[i].ITMW-r.Sites[i].DrawMW > most.ITMW-most.DrawMW {
				most = &r.Sites[i]
			}
		}
		out = append(out, fmt.Sprintf("At load factor %.2f they draw %s MW of IT power, %.0f%% of it: %s MW is unused, the most at %s (%s MW of %s).",
			r.LoadFactor, mw(t.DrawMW), pct(t.DrawMW, t.ITMW), mw(unused), most.Name, mw(most.ITMW-most.DrawMW), mw(most.ITMW)))
	}
	s := fmt.Sprintf("A year takes %s GWh, as much as %s households, emits %s tCO2 (%s gCO2/kWh) and costs %s USD in energy.",
		mw(t.AnnualGWh), count(t.Households), count(t.EmissionsTCO2), count(intensity(t.EmissionsTCO2, t.AnnualGWh)), usd(t.EnergyCostUSD))
	if t.UnservedGWh > 0 {
		s += fmt.Sprintf(" %s GWh of it no source covers: those sites' mixes hold capacity sources alone.", mw(t.UnservedGWh))
	}
	return append(out, s)
}

func pct(x, of float64) float64 {
	if of <= 0 {
		return 0
	}
	return 100 * x / of
}

// intensity is gCO2/kWh from tonnes and GWh.
func intensity(t, gwh float64) float64 {
	if gwh <= 0 {
		return 0
	}
	return t / gwh
}

func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return human.Int(n) + " " + thing + "s"
}

func mwCell(x float64) chart.Cell { return chart.Number(mw(x), x) }

func countCell(x float64) chart.Cell { return chart.Number(count(x), x) }

func usdCell(x float64) chart.Cell { return chart.Number(usd(x), x) }

func fraction(x, of float64) float64 {
	if of <= 0 {
		return 0
	}
	return x / of
}

func (r *Report) budgetTable() chart.Table {
	t := chart.Table{Head: chart.Head("site", "model", "substation (MW)", "PUE", "IT (MW)", "draw (MW)",
		"unused IT (MW)", "draw / IT", "nameplate (MW)", "accelerators", "room for (accelerators)")}
	for i := range r.Sites {
		s := &r.Sites[i]
		t.Rows = append(t.Rows, []chart.Cell{chart.Text(s.Name), chart.Text(s.Model), mwCell(s.SubstationMW),
			chart.Number(strconv.FormatFloat(s.PUE, 'f', 2, 64), s.PUE), mwCell(s.ITMW), mwCell(s.DrawMW),
			mwCell(s.ITMW - s.DrawMW), chart.Gauge(fraction(s.DrawMW, s.ITMW)), mwCell(s.NameplateMW),
			countCell(float64(s.Accelerators)), countCell(float64(max(0, s.MaxAccelerators-s.Accelerators)))})
	}
	t.AlignHead()
	return t
}

func (r *Report) mixTable() chart.Table {
	t := chart.Table{Caption: "A year of each site's mix.",
		Head: chart.Head("site", "source", "energy (GWh/yr)", "share", "emissions (tCO2/yr)", "intensity (gCO2/kWh)", "cost (USD/yr)", "price (USD/MWh)")}
	for i := range r.Sites {
		s := &r.Sites[i]
		for _, m := range s.Mix {
			price := 0.0
			if m.GWh > 0 {
				price = m.CostUSD / (m.GWh * 1e3)
			}
			in := intensity(m.EmissionsTCO2, m.GWh)
			t.Rows = append(t.Rows, []chart.Cell{chart.Text(s.Name), chart.Text(m.Source), mwCell(m.GWh), chart.Share(m.Share),
				countCell(m.EmissionsTCO2), chart.Number(count(in), in), usdCell(m.CostUSD), chart.Number(mw(price), price)})
		}
	}
	t.AlignHead()
	return t
}

func (r *Report) yearTable() chart.Table {
	t := chart.Table{Caption: "Sites, then regions and the fleet. Capex counts nodes and facility where the fleet file gives prices.",
		Head: chart.Head("site, region or fleet", "region", "accelerators", "expected draw (MW)", "energy (GWh/yr)", "emissions (tCO2/yr)",
			"intensity (gCO2/kWh)", "energy cost (USD/yr)", "not covered (GWh/yr)", "capex (USD)")}
	row := func(name, region string, f *Figures) []chart.Cell {
		in := intensity(f.EmissionsTCO2, f.AnnualGWh)
		return []chart.Cell{chart.Text(name), chart.Text(region), countCell(float64(f.Accelerators)), mwCell(f.DrawMW), mwCell(f.AnnualGWh),
			countCell(f.EmissionsTCO2), chart.Number(count(in), in), usdCell(f.EnergyCostUSD), mwCell(f.UnservedGWh), usdCell(f.CapexUSD)}
	}
	for i := range r.Sites {
		t.Rows = append(t.Rows, row(r.Sites[i].Name, r.Sites[i].Region, &r.Sites[i].Figures))
	}
	for i := range r.Regions {
		t.Rows = append(t.Rows, row("region "+r.Regions[i].Name, r.Regions[i].Name, &r.Regions[i].Figures))
	}
	t.Rows = append(t.Rows, row("fleet", "", &r.Totals))
	t.AlignHead()
	return t
}

package plan

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"stargate/internal/human"
)

// WriteTable writes the report as aligned text tables: sites with region
// and fleet totals, then each site's energy mix.
func (r *Report) WriteTable(w io.Writer) error {
	// Names are padded to one width, so that right alignment leaves them
	// left-aligned.
	nw, rw, mdw := len("region"), len("REGION"), len("MODEL")
	for i := range r.Sites {
		nw, rw, mdw = max(nw, len(r.Sites[i].Name)), max(rw, len(r.Sites[i].Region)), max(mdw, len(r.Sites[i].Model))
	}
	for i := range r.Regions {
		rw = max(rw, len(r.Regions[i].Name))
	}
	pad := func(s string, n int) string { return s + strings.Repeat(" ", max(0, n-len(s))) }
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\t%s\t%s\tSUBSTATION MW\tPUE\tIT MW\tNAMEPLATE MW\tACCELERATORS\tFIT\tDRAW MW\tGWh/yr\tHOUSEHOLDS\ttCO2/yr\tENERGY USD/yr\tCAPEX USD\t\n", pad("SITE", nw), pad("REGION", rw), pad("MODEL", mdw))
	row := func(name, region, model, pue string, f *Figures) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			pad(name, nw), pad(region, rw), pad(model, mdw), mw(f.SubstationMW), pue, mw(f.ITMW), mw(f.NameplateMW),
			count(float64(f.Accelerators)), count(float64(f.MaxAccelerators)), mw(f.DrawMW),
			mw(f.AnnualGWh), count(f.Households), count(f.EmissionsTCO2), usd(f.EnergyCostUSD), usd(f.CapexUSD))
	}
	for i := range r.Sites {
		s := &r.Sites[i]
		row(s.Name, s.Region, s.Model, strconv.FormatFloat(s.PUE, 'f', 2, 64), &s.Figures)
	}
	for i := range r.Regions {
		row("region", r.Regions[i].Name, "", "", &r.Regions[i].Figures)
	}
	row("fleet", "", "", "", &r.Totals)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nload factor %.2f; FIT = accelerators of MODEL the IT power feeds; households at %s kWh/yr each\n",
		r.LoadFactor, count(r.HouseholdKWh))
	if r.Totals.UnservedGWh > 0 {
		fmt.Fprintf(w, "warning: %s GWh/yr of demand is not covered by any source (capacity-only mixes)\n", mw(r.Totals.UnservedGWh))
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\tSOURCE\tGWh/yr\tSHARE\ttCO2/yr\tUSD/yr\t\n", pad("SITE", nw))
	for i := range r.Sites {
		s := &r.Sites[i]
		for _, m := range s.Mix {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.1f%%\t%s\t%s\t\n", pad(s.Name, nw), m.Source, mw(m.GWh), m.Share*100, count(m.EmissionsTCO2), usd(m.CostUSD))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return r.writeGridTables(w, nw)
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error { return writeJSON(w, r) }

// WriteCSV writes one row per site, region and the fleet.
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(append([]string{"kind", "name", "region", "model", "substation_mw", "pue", "it_mw", "nameplate_mw",
		"accelerators", "max_accelerators", "draw_mw", "facility_mw", "annual_gwh", "households",
		"emissions_tco2", "energy_cost_usd", "unserved_gwh", "capex_usd"}, r.gridHeader()...))
	rec := func(kind, name, region, model string, pue float64, f *Figures, s *Site) {
		p := ""
		if pue > 0 {
			p = num(pue)
		}
		cw.Write(append([]string{kind, name, region, model, num(f.SubstationMW), p, num(f.ITMW), num(f.NameplateMW),
			strconv.Itoa(f.Accelerators), strconv.Itoa(f.MaxAccelerators), num(f.DrawMW), num(f.FacilityMW),
			num(f.AnnualGWh), num(f.Households), num(f.EmissionsTCO2), num(f.EnergyCostUSD), num(f.UnservedGWh), num(f.CapexUSD)},
			r.gridRecord(s, f, kind == "fleet")...))
	}
	for i := range r.Sites {
		s := &r.Sites[i]
		rec("site", s.Name, s.Region, s.Model, s.PUE, &s.Figures, s)
	}
	for i := range r.Regions {
		rec("region", r.Regions[i].Name, r.Regions[i].Name, "", 0, &r.Regions[i].Figures, nil)
	}
	rec("fleet", "fleet", "", "", 0, &r.Totals, nil)
	cw.Flush()
	return cw.Error()
}

// WriteTable writes the sizing answer as a two-column table.
func (s *Sizing) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	line("accelerator", fmt.Sprintf("%s (node %s, %.2f kW rated)", s.Accelerator, s.NodeModel, s.NodeKW))
	line("target", count(float64(s.TargetAccelerators))+" accelerators")
	line("site", fmt.Sprintf("%s MW substation at PUE %.2f = %s MW IT (oversubscription %g)", mw(s.SiteMW), s.PUE, mw(s.ITMWPerSite), s.Oversubscription))
	line("per site", fmt.Sprintf("%s nodes, %s accelerators", count(float64(s.NodesPerSite)), count(float64(s.AcceleratorsPerSite))))
	line("sites needed", strconv.Itoa(s.SitesNeeded))
	line("substation total", mw(s.SubstationMW)+" MW")
	line("expected draw", fmt.Sprintf("%s MW IT at load factor %.2f", mw(s.DrawMW), s.LoadFactor))
	line("annual energy", fmt.Sprintf("%s GWh (%s households)", mw(s.AnnualGWh), count(s.Households)))
	if s.EmissionsTCO2 != nil {
		line("emissions", count(*s.EmissionsTCO2)+" tCO2/yr")
	} else {
		line("emissions", "not computed: needs a carbon intensity (--carbon-g-kwh)")
	}
	if s.EnergyCostUSD != nil {
		line("energy cost", count(*s.EnergyCostUSD)+" USD/yr")
	} else {
		line("energy cost", "not computed: needs an energy price (--price-usd-mwh)")
	}
	return tw.Flush()
}

// WriteJSON writes the sizing answer as indented JSON.
func (s *Sizing) WriteJSON(w io.Writer) error { return writeJSON(w, s) }

// WriteCSV writes the sizing answer as a header and one row.
func (s *Sizing) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"accelerator", "node_model", "target_accelerators", "site_mw", "pue", "oversubscription",
		"it_mw_per_site", "nodes_per_site", "accelerators_per_site", "sites_needed", "substation_mw",
		"draw_mw", "annual_gwh", "households", "emissions_tco2", "energy_cost_usd"})
	cw.Write([]string{s.Accelerator, s.NodeModel, strconv.Itoa(s.TargetAccelerators), num(s.SiteMW), num(s.PUE),
		num(s.Oversubscription), num(s.ITMWPerSite), strconv.Itoa(s.NodesPerSite), strconv.Itoa(s.AcceleratorsPerSite),
		strconv.Itoa(s.SitesNeeded), num(s.SubstationMW), num(s.DrawMW), num(s.AnnualGWh), num(s.Households),
		optNum(s.EmissionsTCO2), optNum(s.EnergyCostUSD)})
	cw.Flush()
	return cw.Error()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// num formats a float for machines: shortest form, at most 6 decimals.
func num(x float64) string { return human.Decimal(x) }

// optNum is num of a figure that may be unknown (nil): an empty cell.
func optNum(x *float64) string {
	if x == nil {
		return ""
	}
	return num(*x)
}

// mw formats a MW or GWh figure for people: one decimal from 10 up, three
// significant digits below (0.163, 1.54), with thousands separators.
func mw(x float64) string {
	decimals := 1
	if a := math.Abs(x); a > 0 && a < 9.995 {
		decimals = min(2-int(math.Floor(math.Log10(a))), 6)
	}
	s := strconv.FormatFloat(x, 'f', decimals, 64)
	whole, frac, _ := strings.Cut(s, ".")
	return human.Group(whole) + "." + frac
}

// count formats a quantity rounded to a whole number with separators.
func count(x float64) string { return human.Count(x) }

// usd formats money, "-" when unknown (zero).
func usd(x float64) string {
	if x == 0 {
		return "-"
	}
	return count(x)
}

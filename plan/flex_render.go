package plan

// The grid flexibility figures in the table and CSV reports.

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// holdText says how long a site holds the cut: "indefinite", "19.8 h" or
// "out of reach".
func holdText(f *Flexibility) string {
	switch f.Hold {
	case HoldIndefinite:
		return "indefinite"
	case HoldLimited:
		return strconv.FormatFloat(*f.HoldHours, 'f', 1, 64) + " h"
	}
	return "out of reach"
}

func percent(x float64) string { return strconv.FormatFloat(100*x, 'f', 1, 64) + "%" }

// writeGridTables writes the flexibility of each site and the fleet, and
// the headroom with curtailment when it was asked; names are padded to nw.
func (r *Report) writeGridTables(w io.Writer, nw int) error {
	pad := func(s string) string { return s + strings.Repeat(" ", max(0, nw-len(s))) }
	g := &r.Grid
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\tDRAW MW\tPROTECTED MW\tIDLE MW\tFLEXIBLE MW\tFLEXIBLE\tCAPS SHED MW\tCAPS SHED\tCUT MW\tCAPPED\tSTOPPED\tSPEED\tHOLD\t\n", pad("SITE"))
	var protected, idle, cut float64
	for i := range r.Sites {
		s := &r.Sites[i]
		f := &s.Grid
		protected, idle, cut = protected+f.ProtectedMW, idle+f.IdleMW, cut+f.CutMW
		speed := "-"
		if f.Hold != HoldUnreachable {
			speed = percent(f.FlexibleSpeed)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", pad(s.Name), mw(s.DrawMW), mw(f.ProtectedMW), mw(f.IdleMW),
			mw(s.FlexibleMW), percent(f.FlexibleShare), mw(s.CapCutMW), percent(f.CapCutShare), mw(f.CutMW),
			percent(f.CappedShare), percent(f.StoppedShare), speed, holdText(f))
	}
	t := &r.Totals
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", pad("fleet"), mw(t.DrawMW), mw(protected), mw(idle),
		mw(t.FlexibleMW), percent(fraction(t.FlexibleMW, t.DrawMW)), mw(t.CapCutMW), percent(fraction(t.CapCutMW, t.DrawMW)), mw(cut))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\ngrid: inference on %s of the accelerators is protected; the rest is flexible, above its nodes' idle draw;\n"+
		"flexible work capped at %.2f of TDP runs at %s of its speed (cube root); a cut of %s of the draw within CAPS SHED\n"+
		"holds indefinitely; a deeper one also stops STOPPED of the flexible work (SPEED: the speed it keeps) and holds\n"+
		"while that work can be caught up within %d h on the idle accelerators the IT power feeds\n",
		percent(g.InferenceShare), g.CapFraction, percent(g.CappedSpeed), percent(g.Cut), CatchUpHours)
	fx := r.Flexibility
	if fx == nil {
		return nil
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\tIT MW\tPEAK MW\tLOW MW\tDRAW AT %s h MW\tFIRM EXTRA MW\tEXTRA MW\tROOM FOR\tCURTAILED h/yr\tDEEPEST SHED MW\tSHED MWh/yr\t\n", pad("SITE"), hoursText(fx.Hours))
	for i := range r.Sites {
		s := &r.Sites[i]
		h := s.Headroom
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", pad(s.Name), mw(s.ITMW), mw(h.PeakMW), mw(h.LowMW), mw(h.AtHoursMW),
			mw(h.FirmExtraMW), mw(h.ExtraMW), count(float64(h.ExtraAccelerators)), mw(h.CurtailedHours), mw(h.CurtailMW), mw(h.CurtailedMWh))
	}
	fmt.Fprintf(tw, "%s\t%s\t\t\t\t%s\t%s\t\t\t\t%s\t\n", pad("fleet"), mw(t.ITMW), mw(fx.FirmExtraMW), mw(fx.ExtraMW), mw(fx.CurtailedMWh))
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nflexibility: %s h of curtailment a year (%s of its hours); each site's load factor runs evenly from %.2f\n"+
		"in its busiest hour to %.2f in its quietest (mean %.2f); the extra load runs flat and stays under the IT power but in\n"+
		"the curtailed hours, when the site's caps shed the excess (up to CAPS SHED MW); ROOM FOR = accelerators of MODEL\n"+
		"the extra load feeds at rated power\n",
		hoursText(fx.Hours), percent(fx.Hours/8760), fx.PeakLoadFactor, fx.LowLoadFactor, r.LoadFactor)
	return err
}

// hoursText writes hours as given: 44, 43.8.
func hoursText(h float64) string { return strconv.FormatFloat(h, 'f', -1, 64) }

// gridHeader and gridRecord are the CSV columns of the grid figures: the
// flexibility of every row (shares and the hold for sites only), then the
// headroom with curtailment when it was asked.
func (r *Report) gridHeader() []string {
	h := []string{"flexible_mw", "cap_cut_mw", "protected_mw", "idle_mw", "flexible_share", "cap_cut_share", "cut_mw",
		"capped_share", "stopped_share", "flexible_speed", "hold", "hold_hours"}
	if r.Flexibility != nil {
		h = append(h, "peak_mw", "low_mw", "at_hours_mw", "firm_extra_mw", "extra_mw", "extra_accelerators",
			"curtailed_hours", "curtail_mw", "curtailed_mwh")
	}
	return h
}

// gridRecord is the grid columns of a site (s), a region or the fleet
// (fleet: its headroom totals go in).
func (r *Report) gridRecord(s *Site, f *Figures, fleet bool) []string {
	rec := []string{num(f.FlexibleMW), num(f.CapCutMW)}
	if s == nil {
		rec = append(rec, make([]string, 10)...)
		if fx := r.Flexibility; fx != nil {
			h := make([]string, 9)
			if fleet {
				h[3], h[4], h[8] = num(fx.FirmExtraMW), num(fx.ExtraMW), num(fx.CurtailedMWh)
			}
			rec = append(rec, h...)
		}
		return rec
	}
	g := &s.Grid
	rec = append(rec, num(g.ProtectedMW), num(g.IdleMW), num(g.FlexibleShare), num(g.CapCutShare), num(g.CutMW),
		num(g.CappedShare), num(g.StoppedShare), num(g.FlexibleSpeed), g.Hold, optNum(g.HoldHours))
	if h := s.Headroom; h != nil {
		rec = append(rec, num(h.PeakMW), num(h.LowMW), num(h.AtHoursMW), num(h.FirmExtraMW), num(h.ExtraMW),
			strconv.Itoa(h.ExtraAccelerators), num(h.CurtailedHours), num(h.CurtailMW), num(h.CurtailedMWh))
	}
	return rec
}

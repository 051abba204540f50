package sim

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteGridTable writes one row per grid event and run, nothing when no
// run had events.
func WriteGridTable(w io.Writer, rs []*Result) error {
	some := false
	for _, r := range rs {
		some = some || len(r.GridEvents) > 0
	}
	if !some {
		return nil
	}
	fmt.Fprintln(w, "\ngrid events (draws at the facility; peak and time over target after the response window):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\tevent\tscope\tbaseline MW\ttarget MW\tpeak MW\ts over\tcomply s\tMWh shed\tGPU-h slowed\tGPU-h lost\tpreempted\tmoved\tinference served\tcost avoided USD\ttCO2 avoided\t")
	for _, r := range rs {
		for _, g := range r.GridEvents {
			comply := "never"
			if g.TimeToComplyS >= 0 {
				comply = sig(g.TimeToComplyS)
			}
			note := ""
			if g.OnlyProtectedLeft {
				note = " (only protected work left)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s%s\t%s\t%s\t%s\t%s\t%d\t%d\t%.1f%%\t%s\t%s\t\n", r.Policy, g.ID, g.Scope,
				sig(g.BaselineMW), sig(g.TargetMW), sig(g.PeakMWAfterResponse), sig(g.SecondsOverTarget), note, comply,
				sig(g.EnergyShedMWh), sig(g.AcceleratorHoursSlowed), sig(g.AcceleratorHoursLost), g.JobsPreempted, g.JobsMoved,
				100*g.InferenceServed, count(g.CostAvoidedUSD), sig(g.EmissionsAvoidedT))
		}
	}
	return tw.Flush()
}

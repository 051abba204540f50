package sim

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"stargate/internal/human"
)

// WriteTable writes one column per result, so that policies compare side
// by side.
func WriteTable(w io.Writer, rs []*Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	row := func(name string, f func(r *Result) string) {
		fmt.Fprintf(tw, "%s\t", name)
		for _, r := range rs {
			fmt.Fprintf(tw, "%s\t", f(r))
		}
		fmt.Fprintln(tw)
	}
	row("policy", func(r *Result) string { return r.Policy })
	row("jobs submitted", func(r *Result) string { return count(float64(r.JobsSubmitted)) })
	row("jobs completed", func(r *Result) string { return count(float64(r.JobsCompleted)) })
	row("jobs rejected (too large)", func(r *Result) string { return count(float64(r.JobsRejected)) })
	row("jobs unfinished", func(r *Result) string { return count(float64(r.JobsUnfinished)) })
	row("GPU-hours", func(r *Result) string { return count(r.GPUHours) })
	row("JCT avg / p50", func(r *Result) string { return dur(r.AvgJCT) + " / " + dur(r.P50JCT) })
	row("JCT p95 / p99", func(r *Result) string { return dur(r.P95JCT) + " / " + dur(r.P99JCT) })
	row("wait avg / p50", func(r *Result) string { return dur(r.AvgWait) + " / " + dur(r.P50Wait) })
	row("wait p95 / p99", func(r *Result) string { return dur(r.P95Wait) + " / " + dur(r.P99Wait) })
	row("utilization: run / arrivals", func(r *Result) string {
		return fmt.Sprintf("%.1f%% / %.1f%%", 100*r.Utilization, 100*r.UtilizationArrivals)
	})
	row("GPU-hours allocated", func(r *Result) string { return count(r.AllocatedGPUHours) })
	row("makespan", func(r *Result) string { return dur(r.Makespan) })
	row("failures", func(r *Result) string { return count(float64(r.Failures)) })
	row("preemptions", func(r *Result) string { return count(float64(r.Preemptions)) })
	row("GPU-h lost: failures", func(r *Result) string { return count(r.LostGPUHoursFailures) })
	row("GPU-h lost: preemption", func(r *Result) string { return count(r.LostGPUHoursPreemption) })
	row("energy MWh", func(r *Result) string { return sig(r.EnergyMWh) })
	row("emissions tCO2", func(r *Result) string { return sig(r.EmissionsTCO2) })
	row("energy cost USD", func(r *Result) string { return count(r.CostUSD) })
	if len(rs) > 0 {
		for li := range rs[0].Levels {
			name := rs[0].Levels[li].Level
			row("peak/limit "+name, func(r *Result) string {
				l := r.Levels[li]
				return fmt.Sprintf("%.1f%% (%s)", 100*l.PeakRatio, l.PeakDomain)
			})
			row("time above "+name, func(r *Result) string {
				return dur(r.Levels[li].SecondsAbove) + " (longest " + dur(r.Levels[li].LongestAbove) + ")"
			})
		}
	}
	row("cap events", func(r *Result) string { return count(float64(r.CapEvents)) })
	row("time capped", func(r *Result) string { return dur(r.CappedSeconds) })
	row("capped GPU-hours", func(r *Result) string { return count(r.CappedGPUHours) })
	row("events", func(r *Result) string { return count(float64(r.Events)) })
	row("wall time", func(r *Result) string { return fmt.Sprintf("%.2f s", r.WallS) })
	row("events/s", func(r *Result) string { return count(r.EventsPerS) })
	return tw.Flush()
}

// WriteJSON writes one result as an object, several as {"results":[...]}.
func WriteJSON(w io.Writer, rs []*Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if len(rs) == 1 {
		return enc.Encode(rs[0])
	}
	return enc.Encode(map[string]any{"results": rs})
}

// WriteJobsCSV writes one row per job.
func WriteJobsCSV(w io.Writer, r *Result) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"job_id", "tenant", "accelerators", "submit_s", "start_s", "finish_s", "duration_s", "jct_s", "wait_s", "restarts", "preemptions", "caps", "lost_gpu_hours"})
	for _, j := range r.Jobs {
		jct, wait := "", ""
		if j.Finish >= 0 {
			jct = num(j.Finish - j.Submit)
		}
		if j.Start >= 0 {
			wait = num(j.Start - j.Submit)
		}
		cw.Write([]string{j.ID, j.Tenant, strconv.Itoa(j.Accelerators), num(j.Submit), num(j.Start), num(j.Finish),
			num(j.Duration), jct, wait, strconv.Itoa(j.Restarts), strconv.Itoa(j.Preemptions), strconv.Itoa(j.Caps), num(j.LostGPUh)})
	}
	cw.Flush()
	return cw.Error()
}

// WriteSeriesCSV writes the time series: one row per sample, with each
// site's draw, peak and limit, then caps, failures and preemptions so far,
// the fleet's emissions, the hottest domain of each level of the power
// tree, each site's utilization, carbon intensity and price, and the
// accelerators each tenant (of Result.Tenants) holds.
func WriteSeriesCSV(w io.Writer, r *Result) error {
	cw := csv.NewWriter(w)
	head := []string{"t_s", "utilization", "queued", "running"}
	for _, n := range r.SiteNames {
		head = append(head, n+"_mw", n+"_peak_mw", n+"_limit_mw")
	}
	head = append(head, "capped_jobs", "capped_accelerators", "failures", "preemptions", "emissions_tco2_per_h")
	for _, l := range r.Levels {
		head = append(head, "hottest_"+l.Level, "hottest_"+l.Level+"_kw", "hottest_"+l.Level+"_limit_kw")
	}
	for _, n := range r.SiteNames {
		head = append(head, n+"_utilization", n+"_carbon_g_kwh", n+"_price_usd_mwh")
	}
	for _, t := range r.Tenants {
		head = append(head, "tenant_"+t.Name+"_accelerators")
	}
	cw.Write(head)
	for _, p := range r.Series {
		rec := []string{num(p.T), num(p.Utilization), strconv.Itoa(p.Queued), strconv.Itoa(p.Running)}
		for i := range r.SiteNames {
			rec = append(rec, num(p.SiteMW[i]), num(p.SitePeakMW[i]), num(r.SiteLimitMW[i]))
		}
		rec = append(rec, strconv.Itoa(p.CappedJobs), strconv.Itoa(p.CappedAccelerators), strconv.Itoa(p.Failures),
			strconv.Itoa(p.Preemptions), num(p.EmissionsTPerH))
		for _, h := range p.Hottest {
			rec = append(rec, h.Name, num(h.KW), num(h.LimitKW))
		}
		for i := range r.SiteNames {
			rec = append(rec, num(p.SiteUtilization[i]), num(p.SiteCarbon[i]), num(p.SitePrice[i]))
		}
		for _, n := range p.TenantAccelerators {
			rec = append(rec, strconv.Itoa(n))
		}
		cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

func num(x float64) string { return human.Decimal(x) }

func count(x float64) string { return human.Count(x) }

func dur(s float64) string { return human.Seconds(s) }

// sig formats a quantity with separators, keeping three significant
// digits for small ones (0.613, 12.4).
func sig(x float64) string {
	if x != 0 && x > -100 && x < 100 {
		return strconv.FormatFloat(x, 'g', 3, 64)
	}
	return count(x)
}

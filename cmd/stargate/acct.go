package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"stargate/client"
	"stargate/server"
)

func init() { register(newAcctCmd) }

type acctFlags struct {
	clientFlags
	tenant, since, until, by string
	states                   []string
	limit                    int
}

func newAcctCmd() *cobra.Command {
	var f acctFlags
	cmd := &cobra.Command{
		Use:   "acct",
		Short: "What jobs cost: accelerator-hours, energy, cost and emissions (as sacct and sreport)",
		Long: `Acct lists finished jobs with what they cost: elapsed time,
accelerator-hours, the energy their accelerators drew (IT) and at the
facility (times the site's PUE), that energy's cost and emissions at the
site's energy mix hour by hour, and the energy of attempts that did not
complete (preempted, requeued, failed). --by tenant|site|day sums them.

The energy comes from the agents' telemetry: the devices' energy counters
where they have them, their power readings otherwise, the fleet's power
model for nodes that report none; the SOURCE column says which. Users see
their tenant's jobs.`,
		Example: `  stargate acct
  stargate acct --by tenant --since 2026-05-01
  stargate acct --tenant acme --state failed -o csv > failed.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAcct(cmd, &f) },
	}
	f.add(cmd)
	fl := cmd.Flags()
	fl.Lookup("output").Usage = "output format: table, json or csv"
	fl.StringVar(&f.tenant, "tenant", "", "only this tenant's jobs")
	fl.StringSliceVar(&f.states, "state", nil, "jobs in these states (default: every finished one: succeeded, failed, cancelled, timeout)")
	fl.StringVar(&f.since, "since", "", "jobs that ended at or after this time (RFC 3339, or a date: 2026-05-01)")
	fl.StringVar(&f.until, "until", "", "jobs that ended before this time")
	fl.StringVar(&f.by, "by", "job", "one row per job, or totals by tenant, site or day")
	fl.IntVar(&f.limit, "limit", 1000, "jobs per page (by job)")
	return cmd
}

func runAcct(cmd *cobra.Command, f *acctFlags) error {
	format := f.output
	if format == "csv" {
		f.output = "table" // the client flags know table and json
	}
	c, err := f.client()
	if err != nil {
		return err
	}
	a, err := c.Accounting(cmd.Context(), client.AccountingQuery{Tenant: f.tenant, States: f.states, Since: f.since,
		Until: f.until, By: f.by, Limit: f.limit})
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	switch format {
	case "json":
		return printJSON(out, a)
	case "csv":
		return acctCSV(out, a, f.by)
	}
	grouped := f.by != "" && f.by != "job"
	head := []string{"JOB", "TENANT", "STATE", "SITE", "ELAPSED", "ACCEL-H", "ENERGY kWh", "FACILITY kWh", "COST USD", "CO2 kg", "LOST kWh", "SOURCE"}
	if grouped {
		head = []string{"BY " + f.by, "JOBS", "ACCEL-H", "ENERGY kWh", "FACILITY kWh", "COST USD", "CO2 kg", "LOST kWh"}
	}
	tw := table(out, head...)
	for _, r := range append(a.Rows, a.Totals) {
		figures := fmt.Sprintf("%.2f\t%.3f\t%.3f\t%.2f\t%.3f\t%.3f", r.AcceleratorHours, r.EnergyKWh, r.FacilityKWh, r.CostUSD, r.EmissionsKg, r.LostKWh)
		if r.Job == "" && r.Key == "" { // the totals
			if grouped {
				fmt.Fprintf(tw, "total\t%d\t%s\n", r.Jobs, figures)
			} else {
				fmt.Fprintf(tw, "total (%d jobs)\t\t\t\t\t%s\t\n", r.Jobs, figures)
			}
			continue
		}
		if grouped {
			fmt.Fprintf(tw, "%s\t%d\t%s\n", r.Key, r.Jobs, figures)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.0fs\t%s\t%s\n", r.Job, r.Tenant, r.State, orDash(r.Site), r.ElapsedS, figures, orDash(r.Source))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if a.Next != "" {
		fmt.Fprintf(out, "more: --limit, or the API's ?after=%s\n", a.Next)
	}
	return nil
}

func acctCSV(w io.Writer, a server.Accounting, by string) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"key", "job", "name", "tenant", "state", "site", "jobs", "elapsed_s", "accelerator_hours", "energy_kwh",
		"facility_kwh", "cost_usd", "emissions_kg", "lost_kwh", "source"})
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', 10, 64) }
	for _, r := range a.Rows {
		cw.Write([]string{r.Key, r.Job, r.Name, r.Tenant, r.State, r.Site, strconv.Itoa(r.Jobs), f(r.ElapsedS), f(r.AcceleratorHours),
			f(r.EnergyKWh), f(r.FacilityKWh), f(r.CostUSD), f(r.EmissionsKg), f(r.LostKWh), r.Source})
	}
	cw.Flush()
	return cw.Error()
}

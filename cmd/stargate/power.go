package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"stargate/server"
)

func init() { register(newPowerCmd) }

type powerFlags struct {
	clientFlags
	depth, site string
}

func newPowerCmd() *cobra.Command {
	var f powerFlags
	cmd := &cobra.Command{
		Use:   "power",
		Short: "Draw against the limit at every level of the power tree",
		Long: `Power shows, for each site and below it, the IT draw (measured where nodes
report it, otherwise expected from the running jobs) against the rated
limit. A site's limit is its substation's IT share: the rating over PUE.`,
		Example: `  stargate power
  stargate power --depth rack --site lab`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runPower(cmd.Context(), &f, cmd.OutOrStdout()) },
	}
	f.add(cmd)
	cmd.Flags().StringVar(&f.depth, "depth", "row", "deepest level shown: site, hall, row or rack")
	cmd.Flags().StringVar(&f.site, "site", "", "only this site")
	return cmd
}

func runPower(ctx context.Context, f *powerFlags, stdout io.Writer) error {
	c, err := f.client()
	if err != nil {
		return err
	}
	rep, err := c.Power(ctx, f.depth, f.site)
	if err != nil {
		return err
	}
	if f.output == "json" {
		return printJSON(stdout, rep)
	}
	tw := table(stdout, "DOMAIN", "LEVEL", "NODES", "DRAW kW", "LIMIT kW", "HEADROOM kW", "USE")
	var walk func(d server.PowerDomain, depth int)
	walk = func(d server.PowerDomain, depth int) {
		limit := d.LimitW
		if d.ITLimitW > 0 {
			limit = d.ITLimitW
		}
		use := "-"
		if limit > 0 {
			use = fmt.Sprintf("%.0f%%", 100*d.DrawW/float64(limit))
		}
		name := d.Name
		if i := strings.LastIndexByte(name, '/'); i >= 0 && depth > 0 {
			name = name[i+1:]
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%d\t%.1f\t%.1f\t%.1f\t%s\n", strings.Repeat("  ", depth), name, d.Level, d.Nodes,
			d.DrawW/1000, float64(limit)/1000, d.HeadroomW/1000, use)
		for _, ch := range d.Children {
			walk(ch, depth+1)
		}
	}
	for _, s := range rep.Sites {
		walk(s, 0)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// grid events in force or announced (people who may read them)
	evs, err := c.GridEvents(ctx, "scheduled", "active")
	if err != nil || len(evs) == 0 {
		return nil
	}
	fmt.Fprintln(stdout)
	for _, e := range evs {
		when := "from " + e.Start.Local().Format("15:04:05")
		if e.State == "active" {
			when = "until " + e.End().Local().Format("15:04:05")
		}
		fmt.Fprintf(stdout, "grid event %s (%s, %s): %s %s at most %s %s\n", e.ID, e.State, e.Kind, e.ScopeKind, e.Scope, targetText(e), when)
	}
	return nil
}

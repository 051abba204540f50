package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"stargate/api"
	"stargate/server"
)

func init() { register(newGridCmd) }

func newGridCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "grid",
		Short: "Grid events: a utility's call to cut a site's or region's draw (admins, operators, grid tokens)",
		Long: `A grid event asks a site or a region to draw at most a target (in MW at the
facility, or a share of its draw at the start) from a start, for a
duration. Mandatory events must be met; voluntary ones are met as far as
the price offered is worth the work shed. The server keeps events across
restarts and failovers, marks them active at their start (recording the
scope's draw then) and ended after their duration, and gives them to the
scheduler, which plans the shed. A token of role grid (a utility's signal)
may post and read events, nothing else.`,
	}
	ev := &cobra.Command{Use: "event", Short: "Create, list and cancel grid events"}
	ev.AddCommand(newGridCreateCmd(), newGridListCmd(), newGridCancelCmd())
	cmd.AddCommand(ev)
	return cmd
}

type gridCreateFlags struct {
	clientFlags
	scope, scopeKind, target, kind, start string
	duration, notice                      time.Duration
	price                                 float64
}

func newGridCreateCmd() *cobra.Command {
	var f gridCreateFlags
	cmd := &cobra.Command{
		Use:   "create --scope SITE|REGION --target 75%|120MW --duration 3h [--notice 10m] [--kind voluntary --price 500]",
		Short: "Post a grid event",
		Example: `  stargate grid event create --scope abilene --target 75% --duration 3h --notice 10m
  stargate grid event create --scope gulf-coast --target 900MW --duration 1h --kind voluntary --price 400`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := api.GridEventRequest{Scope: f.scope, ScopeKind: f.scopeKind, DurationS: int64(f.duration / time.Second),
				NoticeS: int64(f.notice / time.Second), Kind: f.kind, PriceUSDPerMWh: f.price}
			if err := parseTarget(f.target, &req); err != nil {
				return usageError{err}
			}
			if f.start != "" {
				t, err := time.Parse(time.RFC3339, f.start)
				if err != nil {
					return usageError{fmt.Errorf("--start: %w", err)}
				}
				req.Start = t
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			e, err := c.CreateGridEvent(cmd.Context(), req)
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(cmd.OutOrStdout(), e)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "grid event %s: %s cut of %s %s to %s from %s for %s\n", e.ID, e.Kind, e.ScopeKind, e.Scope,
				targetText(e), e.Start.Local().Format("2006-01-02 15:04:05"), time.Duration(e.DurationS)*time.Second)
			return nil
		},
	}
	f.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.scope, "scope", "", "the site or region to cut (required)")
	fl.StringVar(&f.scopeKind, "scope-kind", "", "site or region, when a name is both")
	fl.StringVar(&f.target, "target", "", "the most it may draw: a share of its draw at the start (75%) or MW at the facility (120MW)")
	fl.DurationVar(&f.duration, "duration", 0, "how long the cut holds (required)")
	fl.DurationVar(&f.notice, "notice", 0, "how long before the start the signal comes (the start defaults to now plus this)")
	fl.StringVar(&f.start, "start", "", "when the cut starts (RFC 3339); default now plus --notice")
	fl.StringVar(&f.kind, "kind", "mandatory", "mandatory or voluntary")
	fl.Float64Var(&f.price, "price", 0, "USD/MWh the grid pays for energy not drawn (voluntary events)")
	return cmd
}

// parseTarget reads "75%" or "120MW" into a request.
func parseTarget(v string, req *api.GridEventRequest) error {
	v = strings.TrimSpace(v)
	switch {
	case strings.HasSuffix(v, "%"):
		p, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
		if err != nil {
			return fmt.Errorf("--target %q: want a share (75%%) or MW (120MW)", v)
		}
		req.TargetFraction = p / 100
	case strings.HasSuffix(strings.ToUpper(v), "MW"):
		mw, err := strconv.ParseFloat(strings.TrimSpace(v[:len(v)-2]), 64)
		if err != nil {
			return fmt.Errorf("--target %q: want a share (75%%) or MW (120MW)", v)
		}
		req.TargetMW = mw
	default:
		return errors.New("--target: give a share of the draw (75%) or MW at the facility (120MW)")
	}
	return nil
}

func targetText(e api.GridEvent) string {
	if e.TargetMW > 0 {
		return fmt.Sprintf("%.2f MW", e.TargetMW)
	}
	s := fmt.Sprintf("%.0f%% of its draw", 100*e.TargetFraction)
	if e.BaselineMW > 0 {
		s += fmt.Sprintf(" (%.2f MW of %.2f)", server.GridTargetMW(e), e.BaselineMW)
	}
	return s
}

func newGridListCmd() *cobra.Command {
	var f clientFlags
	var states []string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List grid events",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			evs, err := c.GridEvents(cmd.Context(), states...)
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(cmd.OutOrStdout(), evs)
			}
			tw := table(cmd.OutOrStdout(), "ID", "STATE", "KIND", "SCOPE", "TARGET", "START", "DURATION")
			for _, e := range evs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s %s\t%s\t%s\t%s\n", e.ID, e.State, e.Kind, e.ScopeKind, e.Scope, targetText(e),
					e.Start.Local().Format("2006-01-02 15:04:05"), time.Duration(e.DurationS)*time.Second)
			}
			return tw.Flush()
		},
	}
	f.add(cmd)
	cmd.Flags().StringSliceVar(&states, "state", nil, "only events in these states: scheduled, active, ended, cancelled")
	return cmd
}

func newGridCancelCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "cancel ID...",
		Short: "Cancel grid events: their shed lifts",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, ids []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			return forEach(cmd.OutOrStdout(), ids, "cancelled grid event", func(id string) error {
				_, err := c.CancelGridEvent(cmd.Context(), id)
				return err
			})
		},
	}
	f.add(cmd)
	return cmd
}

package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"stargate/store"
)

func init() { register(newEventsCmd) }

type eventsFlags struct {
	clientFlags
	after  int64
	limit  int
	job    string
	follow bool
	every  time.Duration
}

func newEventsCmd() *cobra.Command {
	var f eventsFlags
	cmd := &cobra.Command{
		Use:   "events",
		Short: "The control plane's journal: placements, preemptions, caps, lost nodes (operators)",
		Example: `  stargate events
  stargate events --follow
  stargate events --job j01k8e85qor1h194bq4sh -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runEvents(cmd.Context(), &f, cmd.OutOrStdout()) },
	}
	f.add(cmd)
	fl := cmd.Flags()
	fl.Int64Var(&f.after, "after", 0, "only events after this sequence number")
	fl.IntVar(&f.limit, "limit", 100, "events per page")
	fl.StringVar(&f.job, "job", "", "only this job's events")
	fl.BoolVar(&f.follow, "follow", false, "keep printing new events until interrupted")
	fl.DurationVar(&f.every, "every", time.Second, "how often --follow asks for new events")
	return cmd
}

// followMargin is how far back --follow reads again on each poll: on
// PostgreSQL, events of concurrent transactions can become visible after
// events with higher sequence numbers, so a tail that only asked for
// "after the last one seen" could skip them.
const followMargin = 256

func runEvents(ctx context.Context, f *eventsFlags, stdout io.Writer) error {
	c, err := f.client()
	if err != nil {
		return err
	}
	if f.limit < 1 {
		return fmt.Errorf("events: --limit must be >= 1, got %d", f.limit)
	}
	var all []store.Event
	high := f.after // the highest sequence number shown
	seen := map[int64]bool{}
	shown := 0
	for sweep := 0; ; sweep++ {
		after := high
		if sweep > 0 {
			after = max(f.after, high-followMargin)
		}
		for {
			page, err := c.Events(ctx, after, f.limit, f.job)
			if err != nil {
				if f.follow && ctx.Err() != nil {
					return nil // interrupted: the normal end of --follow
				}
				return err
			}
			for _, e := range page.Events {
				if e.Seq <= f.after || seen[e.Seq] {
					continue
				}
				seen[e.Seq] = true
				high = max(high, e.Seq)
				if f.output != "table" {
					all = append(all, e)
					continue
				}
				if shown == 0 {
					fmt.Fprintf(stdout, "%s  %-19s  %-10s %s  %s\n", "SEQ", "TIME", "EVENT", "SUBJECT", "DETAIL")
				}
				shown++
				subject := e.Job
				if e.Node != "" {
					if subject != "" {
						subject += " on "
					}
					subject += e.Node
				}
				fmt.Fprintf(stdout, "%d  %s  %-10s %s  %s\n", e.Seq, e.Time.Local().Format("2006-01-02 15:04:05"), e.Kind, subject, e.Message)
			}
			after = page.Next
			if len(page.Events) < f.limit {
				break
			}
		}
		for seq := range seen {
			if seq < high-followMargin {
				delete(seen, seq)
			}
		}
		if !f.follow {
			break
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(f.every):
		}
	}
	if f.output == "json" {
		if all == nil {
			all = []store.Event{}
		}
		return printJSON(stdout, all)
	}
	if shown == 0 && !f.follow {
		fmt.Fprintln(stdout, "no events")
	}
	return nil
}

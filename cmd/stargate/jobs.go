package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"stargate/client"
	"stargate/server"
	"stargate/store"
)

func init() {
	register(newJobsCmd)
	register(newJobCmd)
	register(newCancelCmd)
}

type jobsFlags struct {
	clientFlags
	states []string
	tenant string
	array  string
	limit  int
	all    bool
	after  string
	watch  bool
	every  time.Duration
}

func newJobsCmd() *cobra.Command {
	var f jobsFlags
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "List jobs, with where they run or why they wait",
		Long: `Jobs lists the pending and running jobs (--state picks others, or all), oldest
first, with where each runs or why it waits. Users see their tenant's jobs.`,
		Example: `  stargate jobs
  stargate jobs --state pending --tenant acme
  stargate jobs --state all --all -o json
  stargate jobs --array j01k8e85qor1h194bq4sh --state all  # the elements of an array
  stargate jobs --watch                     # the listing again every 2 s, until interrupted`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runJobs(cmd.Context(), &f, cmd.OutOrStdout()) },
	}
	f.add(cmd)
	fl := cmd.Flags()
	fl.StringSliceVar(&f.states, "state", []string{"pending", "running"}, "jobs in these states (pending, running, succeeded, failed, cancelled, timeout), or all")
	fl.StringVar(&f.tenant, "tenant", "", "only this tenant's jobs")
	fl.StringVar(&f.array, "array", "", "only the elements of this array (its ID: that of its first element)")
	fl.IntVar(&f.limit, "limit", 100, "jobs per page")
	fl.BoolVar(&f.all, "all", false, "follow every page")
	fl.StringVar(&f.after, "after", "", "start after this job ID (the next page a listing names)")
	fl.BoolVarP(&f.watch, "watch", "w", false, "list again every --every until interrupted (the screen redrawn on a terminal)")
	fl.DurationVar(&f.every, "every", 2*time.Second, "how often --watch lists")
	return cmd
}

func runJobs(ctx context.Context, f *jobsFlags, stdout io.Writer) error {
	c, err := f.client()
	if err != nil {
		return err
	}
	if !f.watch {
		return listJobs(ctx, c, f, stdout)
	}
	if f.every <= 0 {
		return fmt.Errorf("jobs: --every must be positive, got %s", f.every)
	}
	onTerminal := (&progress{w: stdout}).terminal()
	for {
		if onTerminal {
			fmt.Fprint(stdout, "\x1b[H\x1b[2J") // home, clear: the listing in place
		}
		if f.output != "json" { // JSON stays one document per listing
			fmt.Fprintf(stdout, "every %s, %s (Ctrl-C ends)\n", f.every, time.Now().Format("15:04:05"))
		}
		if err := listJobs(ctx, c, f, stdout); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(f.every):
		}
	}
}

// listJobs prints one listing.
func listJobs(ctx context.Context, c *client.Client, f *jobsFlags, stdout io.Writer) error {
	states := f.states
	if len(states) == 1 && states[0] == "all" {
		states = nil
	}
	q := client.JobQuery{States: states, Tenant: f.tenant, Array: f.array, Limit: f.limit, After: f.after}
	var jobs []store.Job
	next := ""
	for {
		page, err := c.Jobs(ctx, q)
		if err != nil {
			return err
		}
		jobs = append(jobs, page.Jobs...)
		next = page.Next
		if !f.all || page.Next == "" {
			break
		}
		q.After = page.Next
	}
	if f.output == "json" {
		return printJSON(stdout, server.JobList{Jobs: jobs, Next: next})
	}
	tw := table(stdout, "ID", "TENANT", "NAME", "STATE", "ACCEL", "PRIO", "AGE", "WHERE / WHY")
	for _, j := range jobs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", j.ID, j.Tenant, orDash(j.Spec.Name), j.State,
			j.Spec.Accelerators, j.Spec.Priority, ago(j.SubmittedAt), whereOrWhy(j))
	}
	tw.Flush()
	if next != "" {
		fmt.Fprintf(stdout, "more: --all, or the next page with --after %s\n", next)
	}
	return nil
}

// whereOrWhy is a job's placement when it runs, else its reasons.
func whereOrWhy(j store.Job) string {
	if len(j.Placement) > 0 {
		nodes := make([]string, 0, len(j.Placement))
		for _, a := range j.Placement {
			nodes = append(nodes, fmt.Sprintf("%s×%d", a.Node, len(a.Accelerators)))
		}
		if len(nodes) > 3 {
			return fmt.Sprintf("%s … (%d nodes)", strings.Join(nodes[:3], ", "), len(nodes))
		}
		return strings.Join(nodes, ", ")
	}
	return orDash(strings.Join(j.Reasons, "; "))
}

func newJobCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "job ID",
		Short: "Show one job: spec, state, placement, why it waits, and its events",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runJob(cmd.Context(), &f, args[0], cmd.OutOrStdout())
		},
	}
	f.add(cmd)
	return cmd
}

func runJob(ctx context.Context, f *clientFlags, id string, stdout io.Writer) error {
	c, err := f.client()
	if err != nil {
		return err
	}
	j, err := c.Job(ctx, id)
	if err != nil {
		return err
	}
	events, err := c.JobEvents(ctx, id)
	if err != nil {
		return err
	}
	if f.output == "json" {
		return printJSON(stdout, struct {
			store.Job
			Events []store.Event `json:"events"`
		}{j, events})
	}
	s := j.Spec
	tw := table(stdout, "FIELD", "VALUE")
	row := func(k string, v any) { fmt.Fprintf(tw, "%s\t%v\n", k, v) }
	row("id", j.ID)
	row("tenant", j.Tenant)
	row("name", orDash(s.Name))
	row("state", j.State)
	row("kind", s.Kind)
	row("priority", s.Priority)
	row("accelerators", s.Accelerators)
	if s.PerNode > 0 {
		row("per node", s.PerNode)
	}
	row("model", orDash(s.Model))
	topo := orDash(s.Topology)
	if s.TopologyRequired {
		topo += " (required)"
	}
	row("topology", topo)
	if s.Region != "" || s.Site != "" {
		row("pinned", strings.Trim(s.Region+"/"+s.Site, "/"))
	}
	row("submitted", j.SubmittedAt.Local().Format("2006-01-02 15:04:05"))
	if !j.StartedAt.IsZero() {
		row("started", j.StartedAt.Local().Format("2006-01-02 15:04:05"))
	}
	if !j.EndedAt.IsZero() {
		row("ended", j.EndedAt.Local().Format("2006-01-02 15:04:05"))
	}
	row("attempts", j.Attempts)
	if j.CapW > 0 {
		row("power cap", fmt.Sprintf("%.0f W per accelerator", j.CapW))
	}
	for _, a := range j.Placement {
		row("placement", fmt.Sprintf("%s accelerators %v", a.Node, a.Accelerators))
	}
	for _, r := range j.Reasons {
		row("reason", r)
	}
	tw.Flush()
	if len(events) > 0 {
		fmt.Fprintln(stdout)
		tw = table(stdout, "TIME", "EVENT", "DETAIL")
		for _, e := range events {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Time.Local().Format("2006-01-02 15:04:05"), e.Kind, orDash(e.Message))
		}
		tw.Flush()
	}
	return nil
}

func newCancelCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "cancel ID...",
		Short: "Cancel jobs",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCancel(cmd.Context(), &f, args, cmd.OutOrStdout())
		},
	}
	f.add(cmd)
	return cmd
}

func runCancel(ctx context.Context, f *clientFlags, ids []string, stdout io.Writer) error {
	return eachJob(ctx, f, ids, stdout, "cancelled", (*client.Client).Cancel)
}

// eachJob applies op to every job ID and reports each as done (verb);
// every ID is tried, and the failures are reported together at the end.
func eachJob(ctx context.Context, f *clientFlags, ids []string, stdout io.Writer, verb string,
	op func(*client.Client, context.Context, string) (store.Job, error)) error {
	c, err := f.client()
	if err != nil {
		return err
	}
	var out []store.Job
	var failed []error
	for _, id := range ids {
		j, err := op(c, ctx, id)
		if err != nil {
			failed = append(failed, fmt.Errorf("%s: %w", id, err))
			continue
		}
		if f.output == "table" {
			fmt.Fprintf(stdout, "%s %s\n", verb, j.ID)
		}
		out = append(out, j)
	}
	if f.output == "json" {
		if err := printJSON(stdout, out); err != nil {
			return err
		}
	}
	return errors.Join(failed...)
}

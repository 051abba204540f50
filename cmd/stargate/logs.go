package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"stargate/client"
	"stargate/store"
)

func init() { register(newLogsCmd) }

type logsFlags struct {
	clientFlags
	node   string
	follow bool
	every  time.Duration
}

func newLogsCmd() *cobra.Command {
	var f logsFlags
	cmd := &cobra.Command{
		Use:   "logs JOB",
		Short: "A job's output (stdout and stderr of its processes), from every node or one",
		Long: `Logs prints what a job's processes wrote, as their agents shipped it to the
server. Output of each node and attempt comes under a header of its own
when there is more than one. The oldest output of a long job may have been
trimmed (the agent's --log-limit, the server's --log-keep): a line says
how much.

Users see only their tenant's jobs; another tenant's job is not found.`,
		Example: `  stargate logs j01k8e85qor1h194bq4sh
  stargate logs j01k8e85qor1h194bq4sh --node lab/hall-a/row-1/rack-1/n2 --follow`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLogs(cmd.Context(), &f, args[0], cmd.OutOrStdout())
		},
	}
	f.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.node, "node", "", "only this node's output")
	fl.BoolVarP(&f.follow, "follow", "f", false, "keep printing new output until the job ends or you interrupt")
	fl.DurationVar(&f.every, "every", time.Second, "how often --follow asks for new output")
	return cmd
}

// logStream is one node's output in one attempt.
type logStream struct {
	attempt int
	node    string
}

// logPrinter writes chunks in order, with a header whenever the stream
// changes (once more than one stream was seen) and a note where output
// was trimmed.
type logPrinter struct {
	w       io.Writer
	next    map[logStream]int64 // offset expected next
	last    logStream
	streams int
	headers bool
}

func (p *logPrinter) print(c store.LogChunk) {
	s := logStream{c.Attempt, c.Node}
	want, seen := p.next[s]
	if !seen {
		p.streams++
	}
	if p.headers && s != p.last {
		fmt.Fprintf(p.w, "==> %s (attempt %d) <==\n", s.node, s.attempt)
	}
	p.last = s
	if c.Offset > want {
		fmt.Fprintf(p.w, "[stargate: %d bytes of older output were trimmed]\n", c.Offset-want)
	}
	data := c.Data
	if c.Offset < want { // an overlap: print only what is new
		data = data[min(int64(len(data)), want-c.Offset):]
	}
	p.w.Write(data)
	p.next[s] = max(want, c.Offset+int64(len(c.Data)))
}

func runLogs(ctx context.Context, f *logsFlags, job string, stdout io.Writer) error {
	c, err := f.client()
	if err != nil {
		return err
	}
	var all []store.LogChunk
	var after int64
	for { // every page there is now
		page, err := c.Logs(ctx, job, f.node, after, 0)
		if err != nil {
			return err
		}
		all = append(all, page.Chunks...)
		if len(page.Chunks) == 0 {
			break
		}
		after = page.Next
	}
	if f.output == "json" && !f.follow {
		if all == nil {
			all = []store.LogChunk{}
		}
		return printJSON(stdout, map[string]any{"chunks": all})
	}
	p := &logPrinter{w: stdout, next: map[logStream]int64{}}
	streams := map[logStream]bool{}
	for _, ch := range all {
		streams[logStream{ch.Attempt, ch.Node}] = true
	}
	p.headers = len(streams) > 1 || f.follow
	// Whole streams one after another, attempts in order, then nodes.
	sort.SliceStable(all, func(a, b int) bool {
		x, y := all[a], all[b]
		if x.Attempt != y.Attempt {
			return x.Attempt < y.Attempt
		}
		if x.Node != y.Node {
			return x.Node < y.Node
		}
		return x.Offset < y.Offset
	})
	for _, ch := range all {
		p.print(ch)
	}
	if !f.follow {
		if len(all) == 0 {
			fmt.Fprintln(stdout, "(no output yet)")
		}
		return nil
	}
	return followLogs(ctx, c, f, job, after, p)
}

// followLogs prints new output until the job ends (and its last output
// came) or ctx ends. Like events --follow, it re-reads a margin each time:
// on PostgreSQL, chunks of concurrent uploads may become visible out of
// sequence order; the printer's offsets make a chunk print once.
func followLogs(ctx context.Context, c *client.Client, f *logsFlags, job string, after int64, p *logPrinter) error {
	ended := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(f.every):
		}
		page, err := c.Logs(ctx, job, f.node, max(after-followMargin, 0), 0)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for _, ch := range page.Chunks {
			if want, ok := p.next[logStream{ch.Attempt, ch.Node}]; ok && ch.Offset+int64(len(ch.Data)) <= want {
				continue // printed already
			}
			p.print(ch)
		}
		after = max(after, page.Next)
		if ended {
			return nil
		}
		j, err := c.Job(ctx, job)
		if err != nil {
			return err
		}
		// One more read after the end: the agents ship within a second.
		ended = j.State.Final()
	}
}

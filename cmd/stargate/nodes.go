package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"stargate/client"
	"stargate/store"
)

func init() {
	register(newNodesCmd)
	register(newDrainCmd)
}

func newNodesCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "nodes",
		Short: "List registered nodes: state, accelerators in use, draw, last heartbeat",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runNodes(cmd.Context(), &f, cmd.OutOrStdout()) },
	}
	f.add(cmd)
	return cmd
}

func runNodes(ctx context.Context, f *clientFlags, stdout io.Writer) error {
	c, err := f.client()
	if err != nil {
		return err
	}
	nodes, err := c.Nodes(ctx)
	if err != nil {
		return err
	}
	if f.output == "json" {
		return printJSON(stdout, nodes)
	}
	tw := table(stdout, "NAME", "STATE", "MODEL", "ACCEL", "USED", "DRAW kW", "HEARTBEAT")
	for _, n := range nodes.Nodes {
		draw := "-"
		if n.DrawW >= 0 {
			draw = fmt.Sprintf("%.1f", n.DrawW/1000)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s ago\n", n.Name, n.State, n.Model, n.Accelerators, n.Allocated, draw, ago(n.HeartbeatAt))
	}
	return tw.Flush()
}

func newDrainCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "drain NODE...",
		Short: "Drain nodes: they keep their jobs and take no new work until undrained",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDrain(cmd.Context(), &f, args, cmd.OutOrStdout())
		},
	}
	f.add(cmd)
	return cmd
}

func runDrain(ctx context.Context, f *clientFlags, names []string, stdout io.Writer) error {
	return eachNode(ctx, f, names, stdout, (*client.Client).Drain)
}

// eachNode applies a node action to each named node and prints the
// nodes as they are after it.
func eachNode(ctx context.Context, f *clientFlags, names []string, stdout io.Writer,
	act func(*client.Client, context.Context, string) (store.Node, error)) error {
	c, err := f.client()
	if err != nil {
		return err
	}
	var out []any
	for _, name := range names {
		n, err := act(c, ctx, name)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if f.output == "table" {
			fmt.Fprintf(stdout, "%s %s\n", n.Name, n.State)
		}
		out = append(out, n)
	}
	if f.output == "json" {
		return printJSON(stdout, out)
	}
	return nil
}

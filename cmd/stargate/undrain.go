package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"stargate/client"
)

func init() { register(newUndrainCmd) }

func newUndrainCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "undrain NODE...",
		Short: "Return drained nodes to service: they take new work again (a lost one once it is heard from)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runUndrain(cmd.Context(), &f, args, cmd.OutOrStdout())
		},
	}
	f.add(cmd)
	return cmd
}

func runUndrain(ctx context.Context, f *clientFlags, names []string, stdout io.Writer) error {
	return eachNode(ctx, f, names, stdout, (*client.Client).Undrain)
}

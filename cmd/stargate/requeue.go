package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"stargate/client"
)

func init() { register(newRequeueCmd) }

func newRequeueCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "requeue ID...",
		Short: "Stop running jobs and put them back in the queue (they start again, from their last checkpoint if they keep one)",
		Long: `Requeue stops each running job (SIGTERM to its processes, its grace period,
then SIGKILL) and puts it back in the queue, as a preemption does: it waits
out the scheduler's backoff and starts again as a new attempt. Users
requeue their tenant's jobs; operators any.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRequeue(cmd.Context(), &f, args, cmd.OutOrStdout())
		},
	}
	f.add(cmd)
	return cmd
}

func runRequeue(ctx context.Context, f *clientFlags, ids []string, stdout io.Writer) error {
	return eachJob(ctx, f, ids, stdout, "requeued", (*client.Client).Requeue)
}

package main

import (
	"github.com/spf13/cobra"

	"stargate/client"
)

func init() {
	register(newHoldCmd)
	register(newReleaseCmd)
}

func newHoldCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "hold ID...",
		Short: "Hold pending jobs: they leave the queue until released",
		Long: `Hold keeps each pending job out of the scheduler's queue until 'stargate
release' puts it back, as Slurm's 'scontrol hold'. A job submitted with
'hold: true' in its spec starts held. Only pending jobs can be held; users
hold their tenant's jobs, operators any.`,
		Example: `  stargate hold j01k8e85qor1h194bq4sh
  stargate release j01k8e85qor1h194bq4sh`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, ids []string) error {
			return eachJob(cmd.Context(), &f, ids, cmd.OutOrStdout(), "held", (*client.Client).Hold)
		},
	}
	f.add(cmd)
	return cmd
}

func newReleaseCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "release ID...",
		Short: "Release held jobs back to the queue",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, ids []string) error {
			return eachJob(cmd.Context(), &f, ids, cmd.OutOrStdout(), "released", (*client.Client).Release)
		},
	}
	f.add(cmd)
	return cmd
}

package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"stargate/internal/buildinfo"
)

// commands are the subcommand constructors; each subcommand's file adds
// its own in an init function, so that adding one touches one file.
var commands []func() *cobra.Command

func register(c func() *cobra.Command) { commands = append(commands, c) }

// newRoot builds the command tree, writing to stdout and stderr.
func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "stargate",
		Short: "Plan, run and rehearse a fleet of AI datacenters",
		Long: `Stargate is a control plane and digital twin for fleets of AI datacenters,
where power, not floor space, is the binding constraint.

  demo    a live fleet in one command: server, simulated nodes, tenants' jobs, console
  plan    how many accelerators a site's power feeds; energy, emissions, cost
  sim     replay a workload on a fleet with the scheduling engine, on a virtual clock
  bench   measure the engine (bench engine), the API (bench api), agents at scale (bench agents)
  server  run the control plane: durable store, API, scheduler, metrics, web console at /
  agent   run a node: register it, run the jobs placed there, apply power caps
          (--simulate N runs N simulated nodes in one process)

  submit, jobs, job, cancel, requeue, hold, release, logs, acct, nodes, drain,
  undrain, power, events, token, tenant
          client commands for a running server (--server, --token)

Every command runs on the built-in example fleet when no file is given
(see 'stargate plan --help').

` + exitCodes,
		Version:       buildinfo.Read().String(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	for _, c := range commands {
		root.AddCommand(c())
	}
	markUsage(root)
	return root
}

// Run executes the stargate command line with args (without the program
// name); it is what main calls and what tests call.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

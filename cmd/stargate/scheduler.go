package main

import (
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"stargate/engine"
	"stargate/fleet"
	"stargate/server"
	"stargate/server/enginesched"
)

// schedulerFlags configure the engine the server's reconcile loop drives.
type schedulerFlags struct {
	queue, sites string
	preemption   bool
	backoff      time.Duration
}

func (f *schedulerFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	reg := engine.NewRegistry()
	fl.StringVar(&f.queue, "queue", "priority", "queue policy: "+joinNames(reg.QueueNames()))
	fl.StringVar(&f.sites, "sites", "pack", "site policy for multi-site dispatch: "+joinNames(reg.SiteNames()))
	fl.BoolVar(&f.preemption, "preemption", false, "let jobs preempt lower-priority preemptible ones")
	fl.DurationVar(&f.backoff, "backoff", time.Minute, "delay before a preempted or requeued job may start again (doubles per requeue)")
}

func joinNames(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += n
	}
	return out
}

// scheduler returns the engine-backed scheduler of the reconcile loop.
func (f *schedulerFlags) scheduler(fl *fleet.Fleet, log *slog.Logger) (server.Scheduler, error) {
	return enginesched.New(fl, engine.Config{Queue: f.queue, Sites: f.sites, Preemption: f.preemption, Backoff: f.backoff}, log)
}

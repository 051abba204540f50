package main

import (
	"log/slog"

	"stargate/fleet"
	"stargate/server"
)

// newScheduler returns the scheduler the server's reconcile loop drives;
// nil until the engine is wired in.
func newScheduler(*fleet.Fleet, *slog.Logger) server.Scheduler { return nil }

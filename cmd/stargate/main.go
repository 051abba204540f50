// Command stargate plans, runs and rehearses a fleet of AI datacenters.
// Each subcommand lives in its own file and registers itself with root.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "stargate:", err)
		os.Exit(exitCode(err))
	}
}

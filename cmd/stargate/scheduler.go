package main

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
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
	tenants      []string
	settle       time.Duration
}

func (f *schedulerFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	reg := engine.NewRegistry()
	fl.StringVar(&f.queue, "queue", "priority", "queue policy: "+joinNames(reg.QueueNames()))
	fl.StringVar(&f.sites, "sites", "pack", "site policy for multi-site dispatch: "+joinNames(reg.SiteNames()))
	fl.BoolVar(&f.preemption, "preemption", false, "let jobs preempt lower-priority preemptible ones")
	fl.DurationVar(&f.backoff, "backoff", time.Minute, "delay before a preempted or requeued job may start again (doubles per requeue)")
	fl.DurationVar(&f.settle, "cap-settle", 15*time.Second, "after capping or uncapping, how long the power controller waits for new measurements before it decides again")
	fl.StringArrayVar(&f.tenants, "tenant", nil, "a tenant's fair-share weight and optional accelerator quota: NAME=WEIGHT[:QUOTA] (repeatable); seeds a store with no tenants, then 'stargate tenant' manages them")
}

// parseTenants reads --tenant values: NAME=WEIGHT or NAME=WEIGHT:QUOTA.
func parseTenants(vals []string) (map[string]engine.Tenant, error) {
	out := map[string]engine.Tenant{}
	for _, v := range vals {
		name, rest, ok := strings.Cut(v, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--tenant %q: want NAME=WEIGHT[:QUOTA]", v)
		}
		ws, qs, hasQuota := strings.Cut(rest, ":")
		w, err := strconv.ParseFloat(ws, 64)
		if err != nil || w <= 0 {
			return nil, fmt.Errorf("--tenant %q: the weight must be a number > 0", v)
		}
		t := engine.Tenant{Weight: w}
		if hasQuota {
			if t.Quota, err = strconv.Atoi(qs); err != nil || t.Quota < 0 {
				return nil, fmt.Errorf("--tenant %q: the quota must be a whole number of accelerators", v)
			}
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("--tenant %s given twice", name)
		}
		out[name] = t
	}
	return out, nil
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

// tenantConfigs returns the tenants' weights and quotas, for the server's
// GET /v1/tenants.
func (f *schedulerFlags) tenantConfigs() (map[string]server.TenantConfig, error) {
	tenants, err := parseTenants(f.tenants)
	if err != nil {
		return nil, err
	}
	out := make(map[string]server.TenantConfig, len(tenants))
	for name, t := range tenants {
		w := t.Weight
		if w == 0 {
			w = 1
		}
		out[name] = server.TenantConfig{Weight: w, Quota: t.Quota}
	}
	return out, nil
}

// scheduler returns the engine-backed scheduler of the reconcile loop.
func (f *schedulerFlags) scheduler(fl *fleet.Fleet, log *slog.Logger) (server.Scheduler, error) {
	tenants, err := parseTenants(f.tenants)
	if err != nil {
		return nil, err
	}
	return enginesched.New(fl, engine.Config{Queue: f.queue, Sites: f.sites, Preemption: f.preemption, Backoff: f.backoff,
		Tenants: tenants}, enginesched.Options{Log: log, Settle: f.settle})
}

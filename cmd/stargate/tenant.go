package main

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"stargate/server"
)

func init() { register(newTenantCmd) }

func newTenantCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tenant",
		Short: "Manage tenants: the queues of the fair share, with weights and quotas (admin)",
		Long: `Tenants share the fleet by weight under the fair policy: among the tenants
with work, each is entitled to its weight's part of the accelerators. A
quota caps the accelerators a tenant's running jobs hold at once; quotas
by accelerator model (--model-quota) and of rated power (--power-quota-kw)
cap them by model and in kW. Tenants
live in the server's store; a change is honoured by the next scheduling
pass. A tenant without a record has weight 1 and no quota. The server's
--tenant flags seed a store that has no tenants yet.`,
		Example: `  stargate tenant create research --weight 3 --quota 512
  stargate tenant set research --quota 1024 --model-quota h100=512 --power-quota-kw 900
  stargate tenant list
  stargate tenant delete research`,
	}
	cmd.AddCommand(newTenantCreateCmd(), newTenantSetCmd(), newTenantListCmd(), newTenantDeleteCmd())
	return cmd
}

type tenantFlags struct {
	clientFlags
	weight      float64
	quota       int
	modelQuotas map[string]int
	powerKW     float64
}

func (f *tenantFlags) addValues(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.Float64Var(&f.weight, "weight", 1, "fair-share weight, relative to the other tenants' (> 0)")
	fl.IntVar(&f.quota, "quota", 0, "the most accelerators its running jobs hold at once (0: none)")
	fl.StringToIntVar(&f.modelQuotas, "model-quota", nil, "the most accelerators of a model its running jobs hold: h100=256,b200=64 (0 removes one)")
	fl.Float64Var(&f.powerKW, "power-quota-kw", 0, "the most rated power its running jobs hold, in kW (0: none)")
}

// request holds the values given on the command line (on set, only those).
func (f *tenantFlags) request(cmd *cobra.Command, name string) server.TenantRequest {
	req := server.TenantRequest{Name: name}
	if cmd.Flags().Changed("weight") || cmd.Name() == "create" {
		req.Weight = &f.weight
	}
	if cmd.Flags().Changed("quota") || cmd.Name() == "create" {
		req.Quota = &f.quota
	}
	if cmd.Flags().Changed("model-quota") {
		req.ModelQuotas = f.modelQuotas
	}
	if cmd.Flags().Changed("power-quota-kw") {
		req.PowerQuotaKW = &f.powerKW
	}
	return req
}

func newTenantCreateCmd() *cobra.Command {
	var f tenantFlags
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a tenant",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			t, err := c.CreateTenant(cmd.Context(), f.request(cmd, args[0]))
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(cmd.OutOrStdout(), t)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created tenant %s: weight %g, quota %s\n", t.Name, t.Weight, quotaText(t.Quota))
			return nil
		},
	}
	f.add(cmd)
	f.addValues(cmd)
	return cmd
}

func newTenantSetCmd() *cobra.Command {
	var f tenantFlags
	cmd := &cobra.Command{
		Use:   "set NAME [--weight W] [--quota N]",
		Short: "Change a tenant's weight or quota",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := f.request(cmd, "")
			if req.Weight == nil && req.Quota == nil && req.ModelQuotas == nil && req.PowerQuotaKW == nil {
				return usageError{errors.New("tenant set: give --weight, --quota, --model-quota or --power-quota-kw")}
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			t, err := c.SetTenant(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(cmd.OutOrStdout(), t)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "tenant %s: weight %g, quota %s\n", t.Name, t.Weight, quotaText(t.Quota))
			return nil
		},
	}
	f.add(cmd)
	f.addValues(cmd)
	return cmd
}

func newTenantListCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List tenants: weight, quota, accelerators held, share against fair share, jobs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			list, err := c.Tenants(cmd.Context())
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(cmd.OutOrStdout(), list)
			}
			tw := table(cmd.OutOrStdout(), "TENANT", "WEIGHT", "QUOTA", "BY MODEL", "POWER kW", "HELD", "SHARE", "FAIR SHARE", "PENDING", "RUNNING")
			for _, t := range list.Tenants {
				w := strconv.FormatFloat(t.Weight, 'g', -1, 64)
				if !t.Configured {
					w += " (default)"
				}
				var byModel []string
				for m, q := range t.ModelQuotas {
					byModel = append(byModel, fmt.Sprintf("%s=%d", m, q))
				}
				sort.Strings(byModel)
				power := "none"
				if t.PowerQuotaKW > 0 {
					power = strconv.FormatFloat(t.PowerQuotaKW, 'g', -1, 64)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%.1f%%\t%.1f%%\t%d\t%d\n", t.Name, w, quotaText(t.Quota), orDash(strings.Join(byModel, ",")), power, t.Running,
					100*t.Share, 100*t.FairShare, t.Jobs["pending"], t.Jobs["running"])
			}
			return tw.Flush()
		},
	}
	f.add(cmd)
	return cmd
}

func newTenantDeleteCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "delete NAME...",
		Short: "Delete tenants: their jobs stay, with weight 1 and no quota",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, names []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			return forEach(cmd.OutOrStdout(), names, "deleted tenant", func(n string) error { return c.DeleteTenant(cmd.Context(), n) })
		},
	}
	f.add(cmd)
	return cmd
}

func quotaText(q int) string {
	if q == 0 {
		return "none"
	}
	return strconv.Itoa(q)
}

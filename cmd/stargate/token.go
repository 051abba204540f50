package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"stargate/server"
	"stargate/store"
)

func init() { register(newTokenCmd) }

func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage API tokens (admin)",
	}
	cmd.AddCommand(newTokenCreateCmd(), newTokenListCmd(), newTokenRevokeCmd())
	return cmd
}

type tokenCreateFlags struct {
	clientFlags
	role, tenant, name, nodePrefix string
}

func newTokenCreateCmd() *cobra.Command {
	var f tokenCreateFlags
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Mint a token: admin, operator, user (of a tenant) or agent (a join token for nodes)",
		Long: `Create mints a token and prints its secret, which the server keeps only as a
hash: store it now. Roles:

  admin     everything, including minting tokens
  operator  all jobs and nodes: drain, cancel, metrics
  user      its tenant's jobs only (--tenant is required)
  agent     a join token: registers nodes (--node-prefix limits which);
            each registration answers a credential for that node alone,
            which its agent uses for heartbeats and logs
  grid      a utility's signal: posts and reads grid events, nothing else`,
		Example: `  stargate token create --role user --tenant acme --name ci
  stargate token create --role agent --name abilene --node-prefix abilene/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTokenCreate(cmd.Context(), &f, cmd.OutOrStdout())
		},
	}
	f.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.role, "role", "user", "admin, operator, user, agent or grid")
	fl.StringVar(&f.tenant, "tenant", "", "the user's tenant")
	fl.StringVar(&f.name, "name", "", "a label for the token")
	fl.StringVar(&f.nodePrefix, "node-prefix", "", "an agent token registers only nodes whose names start with this")
	return cmd
}

func runTokenCreate(ctx context.Context, f *tokenCreateFlags, stdout io.Writer) error {
	c, err := f.client()
	if err != nil {
		return err
	}
	t, err := c.CreateToken(ctx, server.TokenRequest{Role: store.Role(f.role), Tenant: f.tenant, Name: f.name, NodePrefix: f.nodePrefix})
	if err != nil {
		return err
	}
	if f.output == "json" {
		return printJSON(stdout, t)
	}
	desc := string(t.Role)
	if t.Tenant != "" {
		desc += " of tenant " + t.Tenant
	}
	if t.NodePrefix != "" {
		desc += " for nodes " + t.NodePrefix + "…"
	}
	fmt.Fprintf(stdout, "%s\n", t.Secret)
	fmt.Fprintf(stdout, "token %s: %s; shown once, keep it safe\n", t.ID, desc)
	return nil
}

func newTokenRevokeCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "revoke ID...",
		Short: "Revoke tokens by ID (see 'token list'); other replicas may accept one for up to a minute more",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, ids []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			return forEach(cmd.OutOrStdout(), ids, "revoked", func(id string) error { return c.RevokeToken(cmd.Context(), id) })
		},
	}
	f.add(cmd)
	return cmd
}

func newTokenListCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			toks, err := c.Tokens(cmd.Context())
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(cmd.OutOrStdout(), toks)
			}
			tw := table(cmd.OutOrStdout(), "ID", "ROLE", "TENANT", "NAME", "CREATED")
			for _, t := range toks {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Role, orDash(t.Tenant), orDash(t.Name), t.CreatedAt.Local().Format("2006-01-02 15:04"))
			}
			return tw.Flush()
		},
	}
	f.add(cmd)
	return cmd
}

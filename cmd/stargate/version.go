package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"stargate/internal/buildinfo"
)

func init() { register(newVersionCmd) }

func newVersionCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Which build this is: version, commit, Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in := buildinfo.Read()
			switch output {
			case "json":
				return printJSON(cmd.OutOrStdout(), in)
			case "table":
				fmt.Fprintln(cmd.OutOrStdout(), "stargate", in)
				return nil
			}
			return usageError{fmt.Errorf("-o must be table or json, not %q", output)}
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

func init() { register(newManCmd) }

func newManCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "man DIR",
		Short: "Write man pages for every command into DIR (stargate.1, stargate-server.1, ...)",
		Example: `  stargate man /usr/local/share/man/man1 && mandb
  man stargate-submit`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return err
			}
			root := cmd.Root()
			root.DisableAutoGenTag = true // the pages do not change with the day they were made
			header := &doc.GenManHeader{Title: "STARGATE", Section: "1", Source: "Stargate", Manual: "Stargate manual"}
			if err := doc.GenManTree(root, header, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote man pages to %s\n", args[0])
			return nil
		},
	}
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"stargate/store"
)

func init() { register(newSubmitCmd) }

type submitFlags struct {
	clientFlags
	key string
}

func newSubmitCmd() *cobra.Command {
	var f submitFlags
	cmd := &cobra.Command{
		Use:   "submit FILE...",
		Short: "Submit jobs from YAML or JSON spec files ('-' reads standard input)",
		Long: `Submit sends each job spec to the server. A 'submitted' line means the job is
committed to the server's store. Specs are YAML or JSON:

  name: llama-70b
  accelerators: 1024       # all started together
  model: h100              # accelerator model (optional)
  topology: rack           # pack into: node, nvlink, rack, row, hall, site
  priority: 10
  duration_s: 86400        # estimate, used by backfill
  preemptible: true
  command: [torchrun, train.py]

With --idempotency-key, retrying a submit never creates a second job.`,
		Example: `  stargate submit job.yaml
  stargate submit --idempotency-key nightly-2026-05-01 job.yaml
  echo '{"accelerators": 8}' | stargate submit -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSubmit(cmd.Context(), &f, args, cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&f.key, "idempotency-key", "", "idempotency key (with several files, FILE's index is appended)")
	return cmd
}

func runSubmit(ctx context.Context, f *submitFlags, files []string, stdin io.Reader, stdout io.Writer) error {
	c, err := f.client()
	if err != nil {
		return err
	}
	var jobs []store.Job
	for i, file := range files {
		var data []byte
		if file == "-" {
			data, err = io.ReadAll(stdin)
		} else {
			data, err = os.ReadFile(file)
		}
		if err != nil {
			return err
		}
		key := f.key
		if key != "" && len(files) > 1 {
			key = fmt.Sprintf("%s-%d", key, i)
		}
		j, replayed, err := c.Submit(ctx, data, contentType(file, data), key)
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		if f.output == "table" {
			verb := "submitted"
			if replayed {
				verb = "already submitted"
			}
			fmt.Fprintf(stdout, "%s %s (tenant %s, %d accelerators)\n", verb, j.ID, j.Tenant, j.Spec.Accelerators)
		}
		jobs = append(jobs, j)
	}
	if f.output == "json" {
		return printJSON(stdout, jobs)
	}
	return nil
}

// contentType guesses a spec's format from its file name, then its first
// character.
func contentType(file string, data []byte) string {
	switch strings.ToLower(filepath.Ext(file)) {
	case ".json":
		return "application/json"
	case ".yaml", ".yml":
		return "application/yaml"
	}
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		return "application/json"
	}
	return "application/yaml"
}

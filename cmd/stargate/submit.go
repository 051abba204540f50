package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"stargate/client"
	"stargate/store"
)

func init() { register(newSubmitCmd) }

type submitFlags struct {
	clientFlags
	key    string
	dryRun bool
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
  flexible: true           # a grid event may slow or stop it (default: all but inference)
  command: [torchrun, train.py]
  array: 0-99%10           # one job per index, at most 10 running (optional)
  hold: true               # wait until 'stargate release' (optional)

--dry-run submits nothing: it answers where the next pass would place the
job now, or why it would wait and behind what, and which running jobs it
would stop, as 'nomad job plan' and 'sbatch --test-only'. A spec that no
node, domain or site of the fleet could ever hold is refused either way,
naming the constraint.

Each submit carries an idempotency key (--idempotency-key, or one made up
for the call), and a submit whose answer is lost to a network error or a
5xx is retried with it, up to 4 times: a retry never creates a second job.
Give your own key to make retries across separate commands safe too.`,
		Example: `  stargate submit job.yaml
  stargate submit --idempotency-key nightly-2026-05-01 job.yaml
  echo '{"accelerators": 8}' | stargate submit -
  stargate submit --dry-run job.yaml     # where would it run now, or why would it wait?`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSubmit(cmd.Context(), &f, args, cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&f.key, "idempotency-key", "", "idempotency key (with several files, FILE's index is appended)")
	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "submit nothing: say where each job would run now, or why it would wait")
	return cmd
}

// submitWithRetry submits, retrying with the same idempotency key when the
// answer is lost (a network error or a 5xx): the server then returns the
// job the first attempt committed instead of creating a second.
func submitWithRetry(ctx context.Context, c *client.Client, data []byte, ctype, key string) ([]store.Job, bool, error) {
	delay := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		j, replayed, err := c.SubmitAll(ctx, data, ctype, key)
		var apiErr *client.Error
		retryable := err != nil && (!errors.As(err, &apiErr) || apiErr.Status >= 500)
		if !retryable || attempt == 4 {
			return j, replayed, err
		}
		select {
		case <-ctx.Done():
			return j, replayed, err
		case <-time.After(delay):
		}
		delay *= 2
	}
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
		if f.dryRun {
			if err := printDryRun(ctx, c, file, data, f.output, stdout); err != nil {
				return err
			}
			continue
		}
		key := f.key
		switch {
		case key == "":
			// A key of its own makes the retries below safe.
			key = "submit-" + rand.Text()
		case len(files) > 1:
			key = fmt.Sprintf("%s-%d", key, i)
		}
		made, replayed, err := submitWithRetry(ctx, c, data, contentType(file, data), key)
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		if f.output == "table" && len(made) > 0 {
			verb := "submitted"
			if replayed {
				verb = "already submitted"
			}
			j := made[0]
			if j.ArrayJob != "" {
				fmt.Fprintf(stdout, "%s array %s: %d jobs, %s to %s (tenant %s, %d accelerators each; stargate jobs --array %s)\n",
					verb, j.ArrayJob, len(made), j.ID, made[len(made)-1].ID, j.Tenant, j.Spec.Accelerators, j.ArrayJob)
			} else {
				fmt.Fprintf(stdout, "%s %s (tenant %s, %d accelerators)\n", verb, j.ID, j.Tenant, j.Spec.Accelerators)
			}
		}
		jobs = append(jobs, made...)
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

// printDryRun asks the server what would happen to a spec, and says it.
func printDryRun(ctx context.Context, c *client.Client, file string, data []byte, output string, stdout io.Writer) error {
	d, err := c.DryRun(ctx, data, contentType(file, data))
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if output == "json" {
		return printJSON(stdout, d)
	}
	if d.Starts {
		var where []string
		for _, a := range d.Placement {
			where = append(where, fmt.Sprintf("%s×%d", a.Node, len(a.Accelerators)))
		}
		fmt.Fprintf(stdout, "%s: would start now on %s\n", file, strings.Join(where, ", "))
		if len(d.Preempts) > 0 {
			fmt.Fprintf(stdout, "  stopping %s\n", strings.Join(d.Preempts, ", "))
		}
		return nil
	}
	fmt.Fprintf(stdout, "%s: would wait: %s (%d jobs pending)\n", file, strings.Join(d.Reasons, "; "), d.Queued)
	return nil
}

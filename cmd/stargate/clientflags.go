package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"stargate/client"
)

// Environment variables read by the client commands.
const (
	envServer    = "STARGATE_SERVER"
	envToken     = "STARGATE_TOKEN"
	envTokenFile = "STARGATE_TOKEN_FILE"
	envData      = "STARGATE_DATA"
)

const defaultServer = "http://127.0.0.1:7070"

// defaultDataDir is where `stargate server` keeps its state by default.
func defaultDataDir() string {
	if d := os.Getenv(envData); d != "" {
		return d
	}
	return "stargate-data"
}

// clientFlags are the flags every client command shares.
type clientFlags struct {
	server, token, tokenFile, output string
}

func (c *clientFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&c.server, "server", "", "server URL (default $"+envServer+" or "+defaultServer+")")
	fl.StringVar(&c.token, "token", "", "API token (default $"+envToken+", else the file of --token-file)")
	fl.StringVar(&c.tokenFile, "token-file", "", "file holding the API token (default $"+envTokenFile+", else DATA/admin.token of a local server)")
	fl.StringVarP(&c.output, "output", "o", "table", "output format: table or json")
}

// client builds the API client from flags, environment and defaults.
func (c *clientFlags) client() (*client.Client, error) {
	if c.output != "table" && c.output != "json" {
		return nil, usageError{fmt.Errorf("--output must be table or json, not %q", c.output)}
	}
	srv := c.server
	if srv == "" {
		srv = os.Getenv(envServer)
	}
	if srv == "" {
		srv = defaultServer
	}
	tok := c.token
	if tok == "" {
		tok = os.Getenv(envToken)
	}
	if tok == "" {
		file := c.tokenFile
		if file == "" {
			file = os.Getenv(envTokenFile)
		}
		explicit := file != ""
		if file == "" {
			file = filepath.Join(defaultDataDir(), "admin.token")
		}
		b, err := os.ReadFile(file)
		switch {
		case err == nil:
			tok = strings.TrimSpace(string(b))
		case explicit:
			return nil, fmt.Errorf("token file: %w", err)
		}
	}
	if tok == "" {
		return nil, fmt.Errorf("no API token: give --token, set $%s, or point --token-file at one", envToken)
	}
	return client.New(srv, tok), nil
}

// printJSON writes v indented.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table is a tab-aligned table on w; call flush when done.
func table(w io.Writer, header ...string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	return tw
}

// ago formats how long ago t was, for people.
func ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := time.Since(t)
	switch {
	case d < 0:
		return "now"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// forEach runs op on each of ids, prints "<verb> ID" for each one that
// succeeds, and returns the failures joined, each named by its ID.
func forEach(stdout io.Writer, ids []string, verb string, op func(id string) error) error {
	var failed []error
	for _, id := range ids {
		if err := op(id); err != nil {
			failed = append(failed, fmt.Errorf("%s: %w", id, err))
			continue
		}
		fmt.Fprintf(stdout, "%s %s\n", verb, id)
	}
	return errors.Join(failed...)
}

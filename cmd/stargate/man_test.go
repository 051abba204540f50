package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Every command gets a man page, with its flags.
func TestManPages(t *testing.T) {
	dir := t.TempDir()
	if out, errOut, code := stargate(t, "man", dir); code != 0 || !strings.Contains(out, "wrote man pages") {
		t.Fatalf("man: exit %d, %q %q", code, out, errOut)
	}
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" {
			return
		}
		n++
		page := filepath.Join(dir, strings.ReplaceAll(c.CommandPath(), " ", "-")+".1")
		if _, err := os.Stat(page); err != nil {
			t.Errorf("no page for %q: %v", c.CommandPath(), err)
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(newRoot(nil, nil))
	submit, _ := os.ReadFile(filepath.Join(dir, "stargate-submit.1"))
	if n < 30 || !strings.Contains(string(submit), "dry-run") {
		t.Errorf("%d pages; submit's page lacks --dry-run", n)
	}
}

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// jobs --watch lists again and again until interrupted, and then ends
// quietly.
func TestJobsWatch(t *testing.T) {
	url, admin, _ := testServer(t)
	spec := filepath.Join(t.TempDir(), "job.yaml")
	if err := os.WriteFile(spec, []byte("tenant: acme\naccelerators: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cli(t, url, admin, "submit", spec)
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	var out, errb bytes.Buffer
	err := Run(ctx, []string{"jobs", "--watch", "--every", "100ms", "--server", url, "--token", admin}, &out, &errb)
	if err != nil {
		t.Fatalf("jobs --watch: %v: %s", err, errb.String())
	}
	if n := strings.Count(out.String(), "(Ctrl-C ends)"); n < 2 {
		t.Errorf("%d listings in 700 ms at 100 ms: %q", n, out.String())
	}
	if n := strings.Count(out.String(), "acme"); n < 2 {
		t.Errorf("the job in %d listings: %q", n, out.String())
	}
}

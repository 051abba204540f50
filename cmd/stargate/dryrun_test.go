package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"stargate/client"
	"stargate/engine"
	"stargate/examples"
	"stargate/server"
	"stargate/server/enginesched"
	"stargate/store"
	"stargate/store/sqlite"
)

func TestSubmitDryRun(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fl, err := examples.Fleet("small")
	if err != nil {
		t.Fatal(err)
	}
	sched, err := enginesched.New(fl, engine.Config{}, enginesched.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Store: st, Fleet: fl, Scheduler: sched})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	admin, _, _ := srv.MintToken(context.Background(), store.RoleAdmin, "", "")
	c := client.New(hs.URL, admin)
	if _, err := c.Register(context.Background(), server.NodeRegistration{Name: "lab/hall-a/row-1/rack-1/n1"}); err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(dir, "job.yaml")
	os.WriteFile(spec, []byte("tenant: acme\naccelerators: 8\n"), 0o644)
	if out := cli(t, hs.URL, admin, "submit", "--dry-run", spec); !strings.Contains(out, "would start now on lab/hall-a/row-1/rack-1/n1×8") {
		t.Errorf("dry run on a free node: %q", out)
	}
	os.WriteFile(spec, []byte("tenant: acme\naccelerators: 16\n"), 0o644)
	if out := cli(t, hs.URL, admin, "submit", "--dry-run", spec); !strings.Contains(out, "would wait: ") {
		t.Errorf("dry run of more than the registered nodes hold: %q", out)
	}
	if l, _ := c.Jobs(context.Background(), client.JobQuery{}); len(l.Jobs) != 0 {
		t.Errorf("a dry run stored %d jobs", len(l.Jobs))
	}
	// a server without a scheduler says it cannot answer
	url, admin2, _ := testServer(t)
	var stdout, stderr bytes.Buffer
	err = Run(context.Background(), []string{"submit", "--dry-run", spec, "--server", url, "--token", admin2}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "cannot answer dry runs") {
		t.Errorf("no scheduler: %v", err)
	}
}

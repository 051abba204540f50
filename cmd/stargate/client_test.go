package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"stargate/client"
	"stargate/examples"
	"stargate/server"
	"stargate/store/sqlite"
)

// testServer is an in-process control plane on SQLite with an admin token.
func testServer(t *testing.T) (url, admin string, srv *server.Server) {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	fl, err := examples.Fleet("small")
	if err != nil {
		t.Fatal(err)
	}
	srv, err = server.New(server.Config{Store: st, Fleet: fl})
	if err != nil {
		t.Fatal(err)
	}
	path, err := srv.Bootstrap(context.Background(), dir)
	if err != nil || path == "" {
		t.Fatalf("bootstrap: %q %v", path, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("admin token file mode: %v %v", fi.Mode(), err)
	}
	if again, _ := srv.Bootstrap(context.Background(), dir); again != "" {
		t.Errorf("a second bootstrap wrote %s again", again)
	}
	b, _ := os.ReadFile(path)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hs.Close(); cancel(); <-done; st.Close() })
	return hs.URL, strings.TrimSpace(string(b)), srv
}

// cli runs a client command against a server with a token.
func cli(t *testing.T, url, token string, args ...string) string {
	t.Helper()
	args = append(args, "--server", url, "--token", token)
	var out, errb bytes.Buffer
	if err := Run(context.Background(), args, &out, &errb); err != nil {
		t.Fatalf("stargate %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

func TestClientCommands(t *testing.T) {
	url, admin, _ := testServer(t)
	out := cli(t, url, admin, "token", "create", "--role", "user", "--tenant", "acme", "--name", "ci")
	user := strings.SplitN(out, "\n", 2)[0]
	if !strings.HasPrefix(user, "sgt_") || !strings.Contains(out, "user of tenant acme") {
		t.Fatalf("token create: %s", out)
	}
	if out := cli(t, url, admin, "token", "list"); !strings.Contains(out, "acme") {
		t.Errorf("token list: %s", out)
	}
	dir := t.TempDir()
	spec := filepath.Join(dir, "job.yaml")
	os.WriteFile(spec, []byte("name: llama\naccelerators: 16\ntopology: rack\npriority: 3\n"), 0o644)
	out = cli(t, url, user, "submit", "--idempotency-key", "k1", spec)
	if !strings.HasPrefix(out, "submitted j") {
		t.Fatalf("submit: %s", out)
	}
	id := strings.Fields(out)[1]
	if out := cli(t, url, user, "submit", "--idempotency-key", "k1", spec); !strings.HasPrefix(out, "already submitted "+id) {
		t.Errorf("resubmit: %s", out)
	}
	var list server.JobList
	json.Unmarshal([]byte(cli(t, url, user, "jobs", "-o", "json")), &list)
	if len(list.Jobs) != 1 || list.Jobs[0].ID != id || list.Jobs[0].Spec.Name != "llama" {
		t.Errorf("jobs -o json: %+v", list)
	}
	if out := cli(t, url, user, "jobs", "--state", "pending"); !strings.Contains(out, "llama") || !strings.Contains(out, "WHERE / WHY") {
		t.Errorf("jobs: %s", out)
	}
	if out := cli(t, url, user, "job", id); !strings.Contains(out, "topology") || !strings.Contains(out, "rack") {
		t.Errorf("job: %s", out)
	}
	if out := cli(t, url, user, "cancel", id); !strings.Contains(out, "cancelled "+id) {
		t.Errorf("cancel: %s", out)
	}
	if out := cli(t, url, user, "job", id); !strings.Contains(out, "cancelled") {
		t.Errorf("job after cancel: %s", out)
	}
	if out := cli(t, url, user, "jobs"); strings.Contains(out, id) {
		t.Errorf("jobs lists a cancelled job by default: %s", out)
	}
	if out := cli(t, url, user, "jobs", "--state", "all"); !strings.Contains(out, id) {
		t.Errorf("jobs --state all: %s", out)
	}

	agent := strings.SplitN(cli(t, url, admin, "token", "create", "--role", "agent"), "\n", 2)[0]
	c := client.New(url, agent)
	const node = "lab/hall-a/row-2/rack-1/n3"
	if _, err := c.Register(context.Background(), server.NodeRegistration{Name: node}); err != nil {
		t.Fatal(err)
	}
	if out := cli(t, url, admin, "nodes"); !strings.Contains(out, node) || !strings.Contains(out, "ready") {
		t.Errorf("nodes: %s", out)
	}
	if out := cli(t, url, admin, "drain", node); !strings.Contains(out, "draining") {
		t.Errorf("drain: %s", out)
	}
	if out := cli(t, url, admin, "events"); !strings.Contains(out, "cancelled") || !strings.Contains(out, "drain") {
		t.Errorf("events: %s", out)
	}
	out = cli(t, url, admin, "power", "--depth", "rack")
	for _, want := range []string{"lab", "hall-a", "row-2", "rack-1", "LIMIT kW", "1538.5"} {
		if !strings.Contains(out, want) {
			t.Errorf("power lacks %q:\n%s", want, out)
		}
	}
	var pw server.PowerReport
	json.Unmarshal([]byte(cli(t, url, admin, "power", "-o", "json")), &pw)
	if len(pw.Sites) != 1 || pw.Sites[0].Nodes != 1 {
		t.Errorf("power -o json: %+v", pw)
	}

	// Errors carry every problem.
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"accelerators":0,"gpus":4}`), 0o644)
	var o, e bytes.Buffer
	err := Run(context.Background(), []string{"submit", bad, "--server", url, "--token", user}, &o, &e)
	if err == nil || !strings.Contains(err.Error(), "gpus") || !strings.Contains(err.Error(), "400") {
		t.Errorf("bad submit: %v", err)
	}
	// A user may not drain.
	err = Run(context.Background(), []string{"drain", node, "--server", url, "--token", user}, &o, &e)
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("drain as a user: %v", err)
	}
}

func TestClientTokenFromEnvironment(t *testing.T) {
	url, admin, _ := testServer(t)
	t.Setenv(envServer, url)
	t.Setenv(envToken, admin)
	var out, errb bytes.Buffer
	if err := Run(context.Background(), []string{"jobs"}, &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	t.Setenv(envToken, "")
	tf := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(tf, []byte(admin+"\n"), 0o600)
	t.Setenv(envTokenFile, tf)
	if err := Run(context.Background(), []string{"nodes"}, &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
}

// cancel tries every ID and reports the ones it could not cancel together.
func TestCancelSeveral(t *testing.T) {
	url, admin, _ := testServer(t)
	spec := filepath.Join(t.TempDir(), "job.yaml")
	os.WriteFile(spec, []byte("tenant: acme\naccelerators: 8\n"), 0o644)
	var ids []string
	for range 2 {
		out := cli(t, url, admin, "submit", spec)
		ids = append(ids, strings.Fields(out)[1])
	}
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), []string{"cancel", "--server", url, "--token", admin, ids[0], "nope", ids[1]}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("err = %v, want one naming nope", err)
	}
	for _, id := range ids {
		if !strings.Contains(stdout.String(), "cancelled "+id) {
			t.Errorf("%s not cancelled:\n%s", id, stdout.String())
		}
	}
}

// A revoked token stops working at once on the replica that revoked it.
func TestTokenRevoke(t *testing.T) {
	url, admin, _ := testServer(t)
	out := cli(t, url, admin, "token", "create", "--role", "user", "--tenant", "acme", "--name", "temp", "-o", "json")
	var created server.TokenCreated
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.Secret == "" || created.ID == "" {
		t.Fatalf("token create -o json: %v\n%s", err, out)
	}
	cli(t, url, created.Secret, "jobs") // works before
	if out := cli(t, url, admin, "token", "revoke", created.ID); !strings.Contains(out, "revoked "+created.ID) {
		t.Errorf("revoke: %s", out)
	}
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), []string{"jobs", "--server", url, "--token", created.Secret}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("revoked token: err = %v", err)
	}
	err = Run(context.Background(), []string{"token", "revoke", "--server", url, "--token", admin, "nope"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown token: err = %v", err)
	}
}

package server

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"stargate/store"
)

// A job's secret_env is sealed at rest, shown to nobody, and given in
// clear only to the agent of a node it runs on.
func TestSecretEnv(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	h := newHarness(t, func(c *Config) { c.Scheduler = placeFirst{}; c.SecretKey = key })
	h.register(node1)
	h.register(node2)
	h.do("admin", "POST", NodePath(node2)+"/drain", "")
	ctx := context.Background()
	const secret = "hf_s3cr3t_value"
	spec := `{"accelerators":1,"env":{"A":"1"},"secret_env":{"HF_TOKEN":"` + secret + `"}}`
	r := h.do("acme", "POST", "/v1/jobs", spec, IdempotencyHeader, "k1")
	if r.status != http.StatusCreated || bytes.Contains(r.body, []byte(secret)) || !bytes.Contains(r.body, []byte(Redacted)) {
		t.Fatalf("submit: %d %s", r.status, r.body)
	}
	var j store.Job
	r.decode(t, &j)
	if r := h.do("acme", "POST", "/v1/jobs", `{"accelerators":1,"env":{"K":"a"},"secret_env":{"K":"v"}}`); r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "also in env") {
		t.Errorf("a name in both env and secret_env: %d %s", r.status, r.body)
	}
	stored, _ := h.st.Job(ctx, j.ID)
	if v := stored.Spec.SecretEnv["HF_TOKEN"]; !strings.HasPrefix(v, sealedPrefix) || strings.Contains(v, secret) {
		t.Errorf("stored as %q, want sealed", v)
	}
	if strings.Contains(stored.RequestHash, secret) {
		t.Error("the request hash holds the secret")
	}
	for _, path := range []string{JobPath(j.ID), "/v1/jobs", "/v1/jobs?state=pending"} {
		if r := h.do("admin", "GET", path, ""); r.status != 200 || bytes.Contains(r.body, []byte(secret)) || bytes.Contains(r.body, []byte(sealedPrefix)) {
			t.Errorf("GET %s shows the secret or its seal: %d %s", path, r.status, r.body)
		}
	}
	// The same submit again is the same request; another secret is not.
	if r := h.do("acme", "POST", "/v1/jobs", spec, IdempotencyHeader, "k1"); r.status != http.StatusCreated || r.header.Get(ReplayedHeader) != "true" {
		t.Errorf("replay: %d %s", r.status, r.body)
	}
	if r := h.do("acme", "POST", "/v1/jobs", strings.Replace(spec, secret, "other", 1), IdempotencyHeader, "k1"); r.status != http.StatusConflict {
		t.Errorf("the key with another secret: %d %s, want 409", r.status, r.body)
	}

	if err := h.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	hb := h.beat(node1)
	if len(hb.Jobs) != 1 || hb.Jobs[0].Spec.SecretEnv["HF_TOKEN"] != secret || hb.Jobs[0].Spec.Env["A"] != "1" {
		t.Fatalf("the node running it gets %+v", hb.Jobs)
	}
	if hb := h.beat(node2); len(hb.Jobs) != 0 {
		t.Errorf("another node gets %+v", hb.Jobs)
	}
	if r := h.do("admin", "POST", NodePath(node1)+"/heartbeat", ""); r.status != 200 || bytes.Contains(r.body, []byte(secret)) {
		t.Errorf("an admin speaking for the node reads the secret: %d %s", r.status, r.body)
	}
	if r := h.do("acme", "DELETE", JobPath(j.ID), ""); r.status != 200 || bytes.Contains(r.body, []byte(secret)) {
		t.Errorf("cancel shows the secret: %s", r.body)
	}

	// A seal opens only for its job and name.
	moved := stored
	moved.ID = "jother"
	if _, err := h.srv.open(moved); err == nil {
		t.Error("a sealed value copied to another job opened")
	}
	renamed := stored
	renamed.Spec.SecretEnv = map[string]string{"OTHER": stored.Spec.SecretEnv["HF_TOKEN"]}
	if _, err := h.srv.open(renamed); err == nil {
		t.Error("a sealed value under another name opened")
	}
}

// A job sealed under another key (a replica with a key of its own) fails,
// saying why, rather than run without its secrets.
func TestSecretSealedElsewhereFails(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Scheduler = placeFirst{}; c.SecretKey = bytes.Repeat([]byte{1}, 32) })
	h.register(node1)
	ctx := context.Background()
	j := h.submit("acme", `{"accelerators":1,"secret_env":{"K":"v"}}`)
	if err := h.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	// A second replica on the same store, with another key, hears the node.
	srv, err := New(Config{Store: h.st, Fleet: smallFleet(t), Clock: h.clock, ID: "other", SecretKey: bytes.Repeat([]byte{2}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { srv.Run(runCtx); close(done) }()
	hs := httptest.NewServer(srv.Handler())
	defer func() { hs.Close(); stop(); <-done }()
	other := &harness{t: t, srv: srv, st: h.st, clock: h.clock, url: hs.URL, tokens: map[string]string{node1: h.tokens[node1]}}
	if hb := other.beat(node1); len(hb.Jobs) != 0 {
		t.Errorf("the node was given a job whose secrets do not open: %+v", hb.Jobs)
	}
	if got, _ := h.st.Job(ctx, j.ID); got.State != store.JobFailed || !strings.Contains(got.Reasons[0], "secret-key-file") {
		t.Errorf("the job: %s %v, want failed naming the key", got.State, got.Reasons)
	}
}

// Without a key, a server refuses secrets rather than keep them in clear.
func TestSecretEnvNeedsAKey(t *testing.T) {
	h := newHarness(t, nil)
	r := h.do("acme", "POST", "/v1/jobs", `{"accelerators":1,"secret_env":{"K":"v"}}`)
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), SecretKeyFile) {
		t.Errorf("%d %s, want 400 naming the key file", r.status, r.body)
	}
	path := filepath.Join(t.TempDir(), SecretKeyFile)
	k1, err := LoadOrCreateSecretKey(path)
	if err != nil || len(k1) != 32 {
		t.Fatalf("make a key: %v", err)
	}
	if k2, err := LoadOrCreateSecretKey(path); err != nil || !bytes.Equal(k1, k2) {
		t.Errorf("the key read back differs: %v", err)
	}
}

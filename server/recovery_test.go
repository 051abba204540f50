package server

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"stargate/store"
)

// The last admin token cannot be revoked; ResetAdmin mints a new one
// when all are lost, and keeps the other tokens.
func TestAdminRecovery(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	toks, _ := h.st.Tokens(ctx)
	var admin, operator store.Token
	for _, tk := range toks {
		switch tk.Role {
		case store.RoleAdmin:
			admin = tk
		case store.RoleOperator:
			operator = tk
		}
	}
	if r := h.do("admin", "DELETE", "/v1/tokens/"+admin.ID, ""); r.status != http.StatusConflict || !strings.Contains(string(r.body), "reset-admin") {
		t.Fatalf("revoking the last admin: %d %s, want 409", r.status, r.body)
	}
	// With a second admin, the first may go.
	second, _, err := h.srv.MintToken(ctx, store.RoleAdmin, "", "second")
	if err != nil {
		t.Fatal(err)
	}
	if r := h.do("admin", "DELETE", "/v1/tokens/"+admin.ID, ""); r.status != 200 {
		t.Fatalf("revoking one admin of two: %d %s", r.status, r.body)
	}
	h.tokens["second"] = second
	if r := h.do("second", "DELETE", "/v1/tokens/nosuch", ""); r.status != http.StatusNotFound {
		t.Errorf("revoking an unknown token: %d %s", r.status, r.body)
	}

	// Every admin token lost (removed behind the server's back): break glass.
	all, _ := h.st.Tokens(ctx)
	for _, tk := range all {
		if tk.Role == store.RoleAdmin {
			h.st.DeleteToken(ctx, tk.ID)
		}
	}
	h.srv.forgetTokens()
	dir := t.TempDir()
	path, err := h.srv.ResetAdmin(ctx, dir)
	if err != nil || path != filepath.Join(dir, AdminTokenFile) {
		t.Fatalf("reset: %q %v", path, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("admin.token mode %v, want 0600", fi.Mode().Perm())
	}
	h.tokens["reset"] = strings.TrimSpace(string(b))
	if r := h.do("reset", "GET", "/v1/tokens", ""); r.status != 200 || !strings.Contains(string(r.body), operator.ID) {
		t.Errorf("the reset admin token: %d %s; other tokens must be kept", r.status, r.body)
	}
}

// A duration that would overflow is refused, not stored to wait for ever.
func TestDurationsAreBounded(t *testing.T) {
	h := newHarness(t, nil)
	for _, spec := range []string{
		`{"accelerators":1,"duration_s":9223372036854775807}`,
		`{"accelerators":1,"checkpoint_s":9223372036854775807}`,
		`{"accelerators":1,"grace_s":9223372036854775807}`,
	} {
		if r := h.do("acme", "POST", "/v1/jobs", spec); r.status != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", spec, r.status, r.body)
		}
	}
	h.submit("acme", `{"accelerators":1,"duration_s":315360000}`)
}

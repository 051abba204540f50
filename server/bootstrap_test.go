package server

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"stargate/store"
)

// refuseTokens is a store that cannot store tokens; it notes whether the
// token file was already on disk when it was asked to.
type refuseTokens struct {
	store.Store
	file      string
	fileFirst *bool
}

func (r refuseTokens) CreateToken(context.Context, store.Token) error {
	_, err := os.Stat(r.file)
	*r.fileFirst = err == nil
	return errors.New("disk full")
}

// The admin token file is written before the token is stored: when the
// store refuses it, no file is left claiming a token that does not exist,
// and when it takes it, the file holds a working admin token.
func TestBootstrapWritesTheFileFirst(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	dir := t.TempDir()

	var fileFirst bool
	failing, err := New(Config{Store: refuseTokens{emptyTokens{h.st}, filepath.Join(dir, AdminTokenFile), &fileFirst},
		Fleet: h.srv.fleet, Clock: h.clock, ID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := failing.Bootstrap(ctx, dir); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("bootstrap on a refusing store: %v", err)
	}
	if !fileFirst {
		t.Error("the token was stored before its file was written: a crash between would leave nobody holding it")
	}
	if _, err := os.Stat(filepath.Join(dir, AdminTokenFile)); !os.IsNotExist(err) {
		t.Errorf("a token file was left behind: %v", err)
	}

	ok, err := New(Config{Store: emptyTokens{h.st}, Fleet: h.srv.fleet, Clock: h.clock, ID: "y"})
	if err != nil {
		t.Fatal(err)
	}
	path, err := ok.Bootstrap(ctx, dir)
	if err != nil || path == "" {
		t.Fatalf("bootstrap: %q %v", path, err)
	}
	b, _ := os.ReadFile(path)
	tok, err := h.st.TokenByHash(ctx, store.HashSecret(strings.TrimSpace(string(b))))
	if err != nil || tok.Role != store.RoleAdmin {
		t.Errorf("the file's token: %+v %v", tok, err)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left: %v", err)
	}
}

// emptyTokens hides the harness's tokens, so that Bootstrap sees a new store.
type emptyTokens struct{ store.Store }

func (emptyTokens) Tokens(context.Context) ([]store.Token, error) { return nil, nil }

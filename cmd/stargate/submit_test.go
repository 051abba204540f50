package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"stargate/server"
	"stargate/store"
)

// A submit whose answer is lost (here a 503) is retried with the same
// idempotency key, made up when none is given; a 4xx is not retried.
func TestSubmitRetriesWithItsKey(t *testing.T) {
	var mu sync.Mutex
	var keys []string
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		keys = append(keys, r.Header.Get(server.IdempotencyHeader))
		if len(keys) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			json.NewEncoder(w).Encode(server.ErrorBody{Error: "shutting down"})
			return
		}
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(store.Job{ID: "j1", Tenant: "acme", Spec: store.JobSpec{Accelerators: 8}})
	}))
	defer hs.Close()
	spec := filepath.Join(t.TempDir(), "job.yaml")
	os.WriteFile(spec, []byte("tenant: acme\naccelerators: 8\n"), 0o644)
	var out, errb bytes.Buffer
	if err := Run(context.Background(), []string{"submit", spec, "--server", hs.URL, "--token", "sgt_x"}, &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	if len(keys) != 2 || keys[0] == "" || keys[0] != keys[1] {
		t.Errorf("keys sent: %q; want the same made-up key twice", keys)
	}
	if !strings.Contains(out.String(), "submitted j1") {
		t.Errorf("output: %s", out.String())
	}

	keys = nil
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get(server.IdempotencyHeader))
		mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(server.ErrorBody{Error: "accelerators: must be at least 1"})
	}))
	defer bad.Close()
	if err := Run(context.Background(), []string{"submit", spec, "--server", bad.URL, "--token", "sgt_x"}, &out, &errb); err == nil {
		t.Error("a 400 was not an error")
	}
	if len(keys) != 1 {
		t.Errorf("a 400 was sent %d times, want once", len(keys))
	}
}

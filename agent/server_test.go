package agent

import (
	"context"
	"io"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"stargate/client"
	"stargate/examples"
	"stargate/fleet"
	"stargate/server"
	"stargate/store"
	"stargate/store/sqlite"
)

// testServer is an in-process control plane of the small fleet on SQLite,
// with an admin client and a join token.
type testServer struct {
	st    store.Store
	fl    *fleet.Fleet
	url   string
	admin *client.Client
	join  string
	// stop shuts the server down; the caller stops its agents first.
	stop func()
}

func startTestServer(t *testing.T, sched server.Scheduler) *testServer {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := examples.Open("small")
	fl, err := fleet.Parse(r.(io.Reader))
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Store: st, Fleet: fl, Scheduler: sched, ReconcileEvery: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	admin, _, err := srv.MintToken(ctx, store.RoleAdmin, "", "")
	if err != nil {
		t.Fatal(err)
	}
	join, _, err := srv.MintToken(ctx, store.RoleAgent, "", "")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { srv.Run(sctx); close(done) }()
	hs := httptest.NewServer(srv.Handler())
	return &testServer{st: st, fl: fl, url: hs.URL, admin: client.New(hs.URL, admin), join: join,
		stop: func() { hs.Close(); cancel(); <-done; st.Close() }}
}

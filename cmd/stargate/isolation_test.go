package main

import (
	"context"
	"fmt"
	"path/filepath"
	"stargate/internal/pgtest"
	"sync"
	"testing"

	"stargate/client"
	"stargate/server"
	"stargate/store"
)

// A heartbeat for a name no store can keep (a NUL in it) is refused on its
// own; the heartbeats of real nodes committed alongside it all succeed.
// On PostgreSQL such a name once failed the whole batch, and real nodes
// were declared lost.
func TestHeartbeatsIsolatedFromABadOne(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			args := []string{"--data", filepath.Join(dir, "server")}
			if backend == "postgres" {
				args = append(args, "--store", pgtest.Schema(t))
			}
			sp := startServer(t, args...)
			ctx := context.Background()
			admin := client.New(sp.url, readToken(t, filepath.Join(dir, "server")))
			join, err := admin.CreateToken(ctx, server.TokenRequest{Role: store.RoleAgent})
			if err != nil {
				t.Fatal(err)
			}
			var nodes []*client.Client
			var names []string
			for i := 1; i <= 16; i++ {
				name := fmt.Sprintf("lab/hall-a/row-%d/rack-%d/n%d", 1+(i-1)/8, 1+(i-1)/4%2, 1+(i-1)%4)
				reg, err := client.New(sp.url, join.Secret).Register(ctx, server.NodeRegistration{Name: name})
				if err != nil {
					t.Fatal(err)
				}
				nodes, names = append(nodes, client.New(sp.url, reg.Credential)), append(names, name)
			}
			stop := make(chan struct{})
			var bad sync.WaitGroup
			bad.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := admin.Heartbeat(ctx, "a\x00b", server.Heartbeat{}); err == nil {
						t.Error("a heartbeat for a\\x00b was accepted")
						return
					}
				}
			})
			var real sync.WaitGroup
			var mu sync.Mutex
			failed := 0
			for i := range nodes {
				real.Go(func() {
					for range 30 {
						if _, err := nodes[i].Heartbeat(ctx, names[i], server.Heartbeat{}); err != nil {
							mu.Lock()
							failed++
							mu.Unlock()
							t.Logf("%s: %v", names[i], err)
						}
					}
				})
			}
			real.Wait()
			close(stop)
			bad.Wait()
			if failed > 0 {
				t.Errorf("%d of %d real heartbeats failed next to a bad one", failed, 16*30)
			}
		})
	}
}

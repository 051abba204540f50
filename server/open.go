package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"stargate/store"
	"stargate/store/postgres"
	"stargate/store/sqlite"
)

// OpenStore opens the store a server was told to use: a postgres:// (or
// postgresql://) URL opens PostgreSQL; "" or "sqlite" opens DIR/stargate.db;
// sqlite:PATH opens that file. It returns the store and a short
// description for logs.
func OpenStore(ctx context.Context, spec, dir string) (store.Store, string, error) {
	switch {
	case strings.HasPrefix(spec, "postgres://"), strings.HasPrefix(spec, "postgresql://"):
		db, err := postgres.Open(ctx, spec)
		if err != nil {
			return nil, "", err
		}
		return db, "postgres", nil
	case spec == "", spec == "sqlite", strings.HasPrefix(spec, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(spec, "sqlite"), ":")
		if path == "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, "", fmt.Errorf("server: data directory: %w", err)
			}
			path = filepath.Join(dir, "stargate.db")
		}
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			return nil, "", err
		}
		return db, "sqlite " + path, nil
	}
	return nil, "", fmt.Errorf("server: unknown store %q (sqlite, sqlite:PATH or postgres://...)", spec)
}

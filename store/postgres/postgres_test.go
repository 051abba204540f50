package postgres_test

import (
	"context"
	"fmt"
	"stargate/internal/pgtest"
	"testing"

	"stargate/store"
	"stargate/store/postgres"
	"stargate/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (store.Store, func() store.Store) {
		d := pgtest.Schema(t)
		open := func() store.Store {
			db, err := postgres.Open(context.Background(), d)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
		return open(), open
	})
}

func TestConcurrentMigrations(t *testing.T) {
	d := pgtest.Schema(t)
	errs := make(chan error, 3)
	for i := 0; i < 3; i++ {
		go func() {
			db, err := postgres.Open(context.Background(), d)
			if err == nil {
				var v int
				v, err = db.SchemaVersion(context.Background())
				if err == nil && v < 1 {
					err = fmt.Errorf("schema version %d", v)
				}
				db.Close()
			}
			errs <- err
		}()
	}
	for i := 0; i < 3; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

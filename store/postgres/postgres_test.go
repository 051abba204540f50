package postgres_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"stargate/store"
	"stargate/store/postgres"
	"stargate/store/storetest"
)

// testDSN returns the throwaway database's DSN, or skips the test.
func testDSN(t *testing.T) string {
	dsn := os.Getenv("STARGATE_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("STARGATE_TEST_POSTGRES is not set; run the suite with `bash scripts/test.sh`, which starts a throwaway PostgreSQL")
	}
	return dsn
}

var schemaSeq atomic.Int64

// freshSchema creates an empty schema for one test, dropped at its end,
// and returns a DSN that uses it.
func freshSchema(t *testing.T, dsn string) string {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("t_%d_%d", time.Now().UnixNano(), schemaSeq.Add(1))
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), dsn)
		if err == nil {
			c.Exec(context.Background(), "DROP SCHEMA "+name+" CASCADE")
			c.Close(context.Background())
		}
	})
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + name
}

func TestConformance(t *testing.T) {
	dsn := testDSN(t)
	storetest.Run(t, func(t *testing.T) (store.Store, func() store.Store) {
		d := freshSchema(t, dsn)
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
	d := freshSchema(t, testDSN(t))
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

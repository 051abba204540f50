// Package pgtest gives tests a fresh PostgreSQL schema of the suite's
// throwaway database ($STARGATE_TEST_POSTGRES, which scripts/test.sh
// starts), dropped when the test ends.
package pgtest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Env names the variable that holds the test database's DSN.
const Env = "STARGATE_TEST_POSTGRES"

// SkipMessage says how to run the tests that need PostgreSQL.
const SkipMessage = Env + " is not set; run the suite with `bash scripts/test.sh`, which starts a throwaway PostgreSQL"

var seq atomic.Int64

// DSN returns the test database's DSN, or "" when there is none.
func DSN() string { return os.Getenv(Env) }

// Schema creates an empty schema in the test database, dropped at the
// end of t, and returns a DSN that uses it; it skips t when there is no
// test database.
func Schema(t testing.TB) string {
	t.Helper()
	dsn := DSN()
	if dsn == "" {
		t.Skip(SkipMessage)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("t_%d_%d", time.Now().UnixNano(), seq.Add(1))
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c, err := pgx.Connect(context.Background(), dsn); err == nil {
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

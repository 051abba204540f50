package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"stargate/store/storetest"
)

// Migration 14 gives the jobs stored before it their spec's priority: a
// queue read by priority from an old database is in priority order.
func TestMigration14OrdersOldJobs(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	old, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for v := range 13 {
		if _, err := old.Exec(migrations[v]); err != nil {
			t.Fatalf("migration %d: %v", v+1, err)
		}
		if _, err := old.Exec(`INSERT INTO schema_migrations VALUES (?, 0)`, v+1); err != nil {
			t.Fatal(err)
		}
	}
	ids, specs := storetest.OldQueue()
	for i, id := range ids {
		if _, err := old.Exec(`INSERT INTO jobs (id, tenant, state, spec, accelerators, submitted_at, version) VALUES (?, 'acme', 'pending', ?, 8, 0, 1)`,
			id, specs[i]); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	storetest.CheckOldQueue(t, db)
}

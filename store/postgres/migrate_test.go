package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"stargate/internal/pgtest"
	"stargate/store/storetest"
)

// Migration 13 counts the jobs and adds the triggers that keep counting
// them; a job written meanwhile by a replica still on schema 12 must be
// counted all the same.
func TestMigration13CountsAWriteDuringIt(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx := context.Background()
	setup, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer setup.Close(ctx)
	if _, err := setup.Exec(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for v := range 12 {
		if _, err := setup.Exec(ctx, migrations[v]); err != nil {
			t.Fatalf("migration %d: %v", v+1, err)
		}
		if _, err := setup.Exec(ctx, `INSERT INTO schema_migrations VALUES ($1, 0)`, v+1); err != nil {
			t.Fatal(err)
		}
	}
	ins := `INSERT INTO jobs (id, tenant, state, spec, accelerators, submitted_at, version) VALUES ($1, 'acme', 'pending', '{}', 8, 0, 1)`
	if _, err := setup.Exec(ctx, ins, "j1"); err != nil {
		t.Fatal(err)
	}
	old, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close(ctx)
	tx, err := old.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, ins, "j2"); err != nil { // the old replica's submit, not yet committed
		t.Fatal(err)
	}
	opened := make(chan *DB, 1)
	go func() {
		db, err := Open(ctx, dsn)
		if err != nil {
			t.Error(err)
		}
		opened <- db
	}()
	time.Sleep(500 * time.Millisecond) // the migration under way, waiting on the writer
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	db := <-opened
	if db == nil {
		t.FailNow()
	}
	defer db.Close()
	counts, err := db.JobCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for _, c := range counts {
		got += c.Jobs
	}
	if got != 2 {
		t.Fatalf("JobCounts says %d jobs (%+v), a recount 2", got, counts)
	}
}

// Migration 14 gives the jobs stored before it their spec's priority,
// whatever else the spec's text holds (a \u0000 that jsonb refuses, text
// that looks like a priority): a queue read by priority from an old
// database is in priority order.
func TestMigration14OrdersOldJobs(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx := context.Background()
	old, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close(ctx)
	if _, err := old.Exec(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for v := range 13 {
		if _, err := old.Exec(ctx, migrations[v]); err != nil {
			t.Fatalf("migration %d: %v", v+1, err)
		}
		if _, err := old.Exec(ctx, `INSERT INTO schema_migrations VALUES ($1, 0)`, v+1); err != nil {
			t.Fatal(err)
		}
	}
	ids, specs := storetest.OldQueue()
	for i, id := range ids {
		if _, err := old.Exec(ctx, `INSERT INTO jobs (id, tenant, state, spec, accelerators, submitted_at, version) VALUES ($1, 'acme', 'pending', $2, 8, 0, 1)`,
			id, specs[i]); err != nil {
			t.Fatal(err)
		}
	}
	db, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	storetest.CheckOldQueue(t, db)
}

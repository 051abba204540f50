package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"stargate/store"
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
	prios := []int{0, 7, -3, 7, 1000, 0, -1000}
	for i, p := range prios {
		spec := store.EncodeJSON(store.JobSpec{Name: `"priority":5`, Priority: p, Accelerators: 8, Env: map[string]string{"priority": "9"}})
		if _, err := old.Exec(`INSERT INTO jobs (id, tenant, state, spec, accelerators, submitted_at, version) VALUES (?, 'acme', 'pending', ?, 8, 0, 1)`,
			fmt.Sprintf("j%d", i), spec); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.Jobs(ctx, store.JobQuery{States: []store.JobState{store.JobPending}, ByPriority: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"j4", "j1", "j3", "j0", "j5", "j2", "j6"}
	if ids := jobIDs(got); !slices.Equal(ids, want) {
		t.Fatalf("old jobs by priority: %v, want %v", ids, want)
	}
}

func jobIDs(jobs []store.Job) []string {
	var out []string
	for _, j := range jobs {
		out = append(out, j.ID)
	}
	return out
}

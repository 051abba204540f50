package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"stargate/store"

	msqlite "modernc.org/sqlite" // and the database/sql driver "sqlite"
)

func init() {
	// Commit with fdatasync(2), as SQLite's own Linux builds do: as
	// durable as fsync(2) without flushing timestamps through the file
	// system's journal. Process-wide; an error means the platform syncs
	// with fsync, which is fine too.
	msqlite.Fdatasync(true)
}

// DB is the SQLite Store.
type DB struct {
	w  *sql.DB // one connection: SQLite has one writer at a time
	r  *sql.DB // readers, concurrent with the writer under WAL
	ck *sql.DB // the checkpointer's connection
	// stop ends the checkpointer; done is closed when it has.
	stop, done chan struct{}
}

var _ store.Store = (*DB)(nil)

// Open opens (creating if needed) the database file at path and brings its
// schema up to date.
func Open(ctx context.Context, path string) (*DB, error) {
	base := "file:" + (&url.URL{Path: path}).EscapedPath() + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(FULL)&_pragma=foreign_keys(ON)"
	// Commits never checkpoint (wal_autocheckpoint=0): a background
	// goroutine does, so that no submit waits for one.
	w, err := sql.Open("sqlite", base+"&_txlock=immediate&_pragma=wal_autocheckpoint(0)")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	db := &DB{w: w}
	if err := db.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", base+"&_pragma=query_only(ON)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	r.SetConnMaxIdleTime(0)
	db.r = r
	ck, err := sql.Open("sqlite", base)
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	ck.SetMaxOpenConns(1)
	db.ck, db.stop, db.done = ck, make(chan struct{}), make(chan struct{})
	go db.checkpointer()
	return db, nil
}

// CheckpointEvery is how often the background checkpointer copies the
// write-ahead log into the database file.
const CheckpointEvery = 250 * time.Millisecond

// checkpointer runs passive checkpoints, which never block the writer,
// until Close. It uses its own clock: it does no logic a test controls.
func (db *DB) checkpointer() {
	defer close(db.done)
	t := time.NewTicker(CheckpointEvery)
	defer t.Stop()
	for {
		select {
		case <-db.stop:
			db.ck.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
			return
		case <-t.C:
			db.ck.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
		}
	}
}

// Close closes the database. It is safe to call more than once.
func (db *DB) Close() error {
	select {
	case <-db.stop:
	default:
		close(db.stop)
	}
	<-db.done
	return errors.Join(db.ck.Close(), db.r.Close(), db.w.Close())
}

// SchemaVersion returns the number of migrations applied.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := db.w.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	for {
		v, err := db.SchemaVersion(ctx)
		if err != nil {
			return fmt.Errorf("sqlite: migrate: %w", err)
		}
		if v > len(migrations) {
			return fmt.Errorf("sqlite: database schema version %d is newer than this binary's %d", v, len(migrations))
		}
		if v == len(migrations) {
			return nil
		}
		err = db.tx(ctx, func(tx *sql.Tx) error {
			// Re-check inside the write lock: another process may have
			// migrated meanwhile.
			var cur int
			if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&cur); err != nil {
				return err
			}
			if cur != v {
				return nil
			}
			if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
				return fmt.Errorf("migration %d: %w", v+1, err)
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
				v+1, time.Now().UnixNano())
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlite: migrate: %w", err)
		}
	}
}

// tx runs fn in a write transaction, committing when it returns nil.
func (db *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

const jobColumns = `id, tenant, state, spec, reasons, placement, attempts, submitted_at, started_at, ended_at,
	COALESCE(idem_key, ''), request_hash, version, cap_w, failures, held, array_job, array_index`

type scanner interface{ Scan(dest ...any) error }

func scanJob(s scanner) (store.Job, error) {
	var j store.Job
	var spec, reasons, placement string
	var sub, start, end int64
	if err := s.Scan(&j.ID, &j.Tenant, &j.State, &spec, &reasons, &placement, &j.Attempts, &sub, &start, &end,
		&j.IdempotencyKey, &j.RequestHash, &j.Version, &j.CapW, &j.Failures, &j.Held, &j.ArrayJob, &j.ArrayIndex); err != nil {
		return j, err
	}
	j.SubmittedAt, j.StartedAt, j.EndedAt = store.FromUnixNano(sub), store.FromUnixNano(start), store.FromUnixNano(end)
	err := errors.Join(store.DecodeJSON(spec, &j.Spec), store.DecodeJSON(reasons, &j.Reasons), store.DecodeJSON(placement, &j.Placement))
	return j, err
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func listJSON[T any](v []T) string {
	if len(v) == 0 {
		return ""
	}
	return store.EncodeJSON(v)
}

// SubmitJobs implements store.Store.
func (db *DB) SubmitJobs(ctx context.Context, jobs []store.Job) ([]store.SubmitResult, error) {
	out := make([]store.SubmitResult, len(jobs))
	err := db.tx(ctx, func(tx *sql.Tx) error {
		seq, err := nextSeq(ctx, tx)
		if err != nil {
			return err
		}
		ins, err := tx.PrepareContext(ctx, `INSERT INTO jobs (id, tenant, state, spec, reasons, placement, attempts, failures, accelerators,
			submitted_at, started_at, ended_at, idem_key, request_hash, version, held, array_job, array_index, seq, priority)
			VALUES (?, ?, ?, ?, ?, '', 0, 0, ?, ?, 0, 0, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
		if err != nil {
			return err
		}
		defer ins.Close()
		for i, j := range jobs {
			res, err := ins.ExecContext(ctx, j.ID, j.Tenant, j.State, store.EncodeJSON(j.Spec), listJSON(j.Reasons),
				j.Spec.Accelerators, store.UnixNano(j.SubmittedAt), nullable(j.IdempotencyKey), j.RequestHash, j.Version, j.Held, j.ArrayJob, j.ArrayIndex, seq,
				j.Spec.Priority)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				out[i] = store.SubmitResult{Job: j, Created: true}
				out[i].Job.Placement = nil
				continue
			}
			if j.IdempotencyKey == "" {
				return fmt.Errorf("job %s: %w", j.ID, store.ErrExists)
			}
			prev, err := scanJob(tx.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE tenant = ? AND idem_key = ?`,
				j.Tenant, j.IdempotencyKey))
			if err != nil {
				return err
			}
			out[i] = store.SubmitResult{Job: prev}
			if prev.RequestHash != j.RequestHash {
				out[i].Err = store.ErrIdempotencyMismatch
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: submit: %w", err)
	}
	return out, nil
}

// Job implements store.Store.
func (db *DB) Job(ctx context.Context, id string) (store.Job, error) {
	j, err := scanJob(db.r.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return j, fmt.Errorf("sqlite: job %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return j, fmt.Errorf("sqlite: job %s: %w", id, err)
	}
	return j, nil
}

// Jobs implements store.Store.
func (db *DB) Jobs(ctx context.Context, q store.JobQuery) ([]store.Job, error) {
	var where []string
	var args []any
	if len(q.States) > 0 {
		where = append(where, "state IN ("+strings.TrimSuffix(strings.Repeat("?,", len(q.States)), ",")+")")
		for _, s := range q.States {
			args = append(args, s)
		}
	}
	if q.Tenant != "" {
		where = append(where, "tenant = ?")
		args = append(args, q.Tenant)
	}
	if q.Node != "" {
		where = append(where, "id IN (SELECT job_id FROM allocations WHERE node = ?)")
		args = append(args, q.Node)
	}
	if q.Array != "" {
		where = append(where, "array_job = ?")
		args = append(args, q.Array)
	}
	if q.ByPriority {
		return db.jobsByPriority(ctx, where, args, q)
	}
	cmp, order := ">", ""
	if q.Newest {
		cmp, order = "<", " DESC"
	}
	if q.After != "" {
		where = append(where, "id "+cmp+" ?")
		args = append(args, q.After)
	}
	return db.jobsWhere(ctx, where, args, "id"+order, q.Limit)
}

// jobsByPriority lists jobs by priority, then ID, after a position: the
// rest of the position's priority, then the lower ones, each read from
// the index (state, priority DESC, id) in its order.
func (db *DB) jobsByPriority(ctx context.Context, where []string, args []any, q store.JobQuery) ([]store.Job, error) {
	if q.Newest {
		return nil, fmt.Errorf("sqlite: jobs: %w", store.ErrBadQuery)
	}
	const order = "priority DESC, id"
	if q.After == "" {
		return db.jobsWhere(ctx, where, args, order, q.Limit)
	}
	out, err := db.jobsWhere(ctx, append(where[:len(where):len(where)], "priority = ?", "id > ?"),
		append(args[:len(args):len(args)], q.AfterPriority, q.After), order, q.Limit)
	if err != nil || q.Limit > 0 && len(out) >= q.Limit {
		return out, err
	}
	more, err := db.jobsWhere(ctx, append(where, "priority < ?"), append(args, q.AfterPriority), order, q.Limit-len(out))
	return append(out, more...), err
}

// jobsWhere lists the jobs matching every condition, in an order, at
// most limit of them (<= 0: all).
func (db *DB) jobsWhere(ctx context.Context, where []string, args []any, order string, limit int) ([]store.Job, error) {
	query := `SELECT ` + jobColumns + ` FROM jobs`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY " + order
	if limit > 0 {
		query += fmt.Sprintf(" LIMIT %d", limit)
	}
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: jobs: %w", err)
	}
	defer rows.Close()
	out := make([]store.Job, 0, store.PageCap(limit))
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: jobs: %w", err)
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: jobs: %w", err)
	}
	return out, nil
}

// ActiveJobs implements store.Store.
func (db *DB) ActiveJobs(ctx context.Context) ([]store.JobVersion, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, state, version FROM jobs WHERE state IN ('pending', 'running') ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: active jobs: %w", err)
	}
	defer rows.Close()
	var out []store.JobVersion
	for rows.Next() {
		var v store.JobVersion
		if err := rows.Scan(&v.ID, &v.State, &v.Version); err != nil {
			return nil, fmt.Errorf("sqlite: active jobs: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// nextSeq is the change sequence number of a transaction that writes
// jobs. Writers are serialized, so numbers grow in commit order and a
// reader past a number has seen every change up to it.
func nextSeq(ctx context.Context, tx *sql.Tx) (int64, error) {
	var seq int64
	err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs`).Scan(&seq)
	return seq, err
}

// JobCursor implements store.Store.
func (db *DB) JobCursor(ctx context.Context) (int64, error) {
	var seq int64
	if err := db.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM jobs`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("sqlite: job cursor: %w", err)
	}
	return seq, nil
}

// JobChanges implements store.Store: the jobs stamped after the cursor.
func (db *DB) JobChanges(ctx context.Context, since int64) ([]store.JobVersion, int64, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, state, version, priority, seq FROM jobs WHERE seq > ? ORDER BY seq`, since)
	if err != nil {
		return nil, since, fmt.Errorf("sqlite: job changes: %w", err)
	}
	defer rows.Close()
	var out []store.JobVersion
	next := since
	for rows.Next() {
		var v store.JobVersion
		var seq int64
		if err := rows.Scan(&v.ID, &v.State, &v.Version, &v.Priority, &seq); err != nil {
			return nil, since, fmt.Errorf("sqlite: job changes: %w", err)
		}
		out = append(out, v)
		next = max(next, seq)
	}
	if err := rows.Err(); err != nil {
		return nil, since, fmt.Errorf("sqlite: job changes: %w", err)
	}
	return out, next, nil
}

// JobsByID implements store.Store.
func (db *DB) JobsByID(ctx context.Context, ids []string) ([]store.Job, error) {
	var out []store.Job
	const chunk = 500
	for len(ids) > 0 {
		n := min(chunk, len(ids))
		args := make([]any, n)
		for i, id := range ids[:n] {
			args[i] = id
		}
		ids = ids[n:]
		rows, err := db.r.QueryContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id IN (`+
			strings.TrimSuffix(strings.Repeat("?,", n), ",")+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: jobs by id: %w", err)
		}
		for rows.Next() {
			j, err := scanJob(rows)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: jobs by id: %w", err)
			}
			out = append(out, j)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("sqlite: jobs by id: %w", err)
		}
	}
	slices.SortFunc(out, func(a, b store.Job) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// JobCounts implements store.Store: the counts the jobs' triggers keep.
func (db *DB) JobCounts(ctx context.Context) ([]store.JobCount, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT tenant, state, jobs, accelerators
		FROM job_counts WHERE jobs <> 0 ORDER BY tenant, state`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: job counts: %w", err)
	}
	defer rows.Close()
	var out []store.JobCount
	for rows.Next() {
		var c store.JobCount
		if err := rows.Scan(&c.Tenant, &c.State, &c.Jobs, &c.Accelerators); err != nil {
			return nil, fmt.Errorf("sqlite: job counts: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Apply implements store.Store.
func (db *DB) Apply(ctx context.Context, c store.Changes) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if f := c.Fence; f != nil {
			var holder string
			var exp int64
			err := tx.QueryRowContext(ctx, `SELECT holder, expires_at FROM leases WHERE name = ?`, f.Lease).Scan(&holder, &exp)
			if errors.Is(err, sql.ErrNoRows) || (err == nil && (holder != f.Holder || exp <= store.UnixNano(f.Now))) {
				return store.ErrNotLeader
			}
			if err != nil {
				return err
			}
		}
		if len(c.Jobs) > 0 {
			seq, err := nextSeq(ctx, tx)
			if err != nil {
				return err
			}
			upd, err := tx.PrepareContext(ctx, `UPDATE jobs SET state = ?, reasons = ?, placement = ?, attempts = ?,
				failures = ?, started_at = ?, ended_at = ?, cap_w = ?, held = ?, seq = ?, version = version + 1 WHERE id = ? AND version = ?`)
			if err != nil {
				return err
			}
			defer upd.Close()
			ids := make([]any, 0, len(c.Jobs))
			var allocs [][]any
			for _, j := range c.Jobs {
				res, err := upd.ExecContext(ctx, j.State, listJSON(j.Reasons), listJSON(j.Placement), j.Attempts,
					j.Failures, store.UnixNano(j.StartedAt), store.UnixNano(j.EndedAt), j.CapW, j.Held, seq, j.ID, j.Version)
				if err != nil {
					return err
				}
				if n, _ := res.RowsAffected(); n != 1 {
					return missing(ctx, tx, "jobs", "id", "job", j.ID)
				}
				ids = append(ids, j.ID)
				for _, a := range j.Placement {
					allocs = append(allocs, []any{j.ID, a.Node, store.EncodeJSON(a.Accelerators)})
				}
			}
			// The allocations follow the placements: many rows per statement.
			for chunk := range slices.Chunk(ids, 500) {
				if _, err := tx.ExecContext(ctx, `DELETE FROM allocations WHERE job_id IN (`+marks(len(chunk), 1)+`)`, chunk...); err != nil {
					return err
				}
			}
			if err := insertRows(ctx, tx, `INSERT INTO allocations (job_id, node, accelerators) VALUES `, 3, allocs); err != nil {
				return err
			}
		}
		for _, n := range c.Nodes {
			res, err := tx.ExecContext(ctx, `UPDATE nodes SET state = ?, drained = ?, address = ?, labels = ?, version = version + 1
				WHERE name = ? AND version = ?`, n.State, n.Drained, n.Address, mapJSON(n.Labels), n.Name, n.Version)
			if err != nil {
				return err
			}
			if k, _ := res.RowsAffected(); k != 1 {
				return missing(ctx, tx, "nodes", "name", "node", n.Name)
			}
		}
		evs := make([][]any, len(c.Events))
		for i, e := range c.Events {
			evs[i] = []any{store.UnixNano(e.Time), e.Kind, e.Job, e.Node, e.Message}
		}
		if err := insertRows(ctx, tx, `INSERT INTO events (time, kind, job, node, message) VALUES `, 5, evs); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: apply: %w", err)
	}
	for i := range c.Jobs {
		c.Jobs[i].Version++
	}
	for i := range c.Nodes {
		c.Nodes[i].Version++
	}
	return nil
}

// marks returns n groups of k placeholders: "(?, ?), (?, ?)" for k = 2,
// or "?, ?" for k = 1.
func marks(n, k int) string {
	one := strings.TrimSuffix(strings.Repeat("?, ", k), ", ")
	if k == 1 {
		return strings.TrimSuffix(strings.Repeat(one+", ", n), ", ")
	}
	return strings.TrimSuffix(strings.Repeat("("+one+"), ", n), ", ")
}

// insertRows inserts rows of k values each with multi-row statements.
func insertRows(ctx context.Context, tx *sql.Tx, prefix string, k int, rows [][]any) error {
	per := 2000 / k // well under SQLite's limit of bound parameters
	for chunk := range slices.Chunk(rows, per) {
		args := make([]any, 0, len(chunk)*k)
		for _, r := range chunk {
			args = append(args, r...)
		}
		if _, err := tx.ExecContext(ctx, prefix+marks(len(chunk), k), args...); err != nil {
			return err
		}
	}
	return nil
}

// missing explains why a compare-and-set matched no row.
func missing(ctx context.Context, tx *sql.Tx, table, key, what, id string) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM `+table+` WHERE `+key+` = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s %s: %w", what, id, store.ErrNotFound)
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%s %s: %w", what, id, store.ErrConflict)
}

func mapJSON(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	return store.EncodeJSON(m)
}

const nodeColumns = `name, model, accelerators, address, labels, state, registered_at, heartbeat_at, draw_w, version, drained`

func scanNode(s scanner) (store.Node, error) {
	var n store.Node
	var labels string
	var reg, hb int64
	if err := s.Scan(&n.Name, &n.Model, &n.Accelerators, &n.Address, &labels, &n.State, &reg, &hb, &n.DrawW, &n.Version, &n.Drained); err != nil {
		return n, err
	}
	n.RegisteredAt, n.HeartbeatAt = store.FromUnixNano(reg), store.FromUnixNano(hb)
	return n, store.DecodeJSON(labels, &n.Labels)
}

const upsertNode = `INSERT INTO nodes (` + nodeColumns + `) VALUES (?, ?, ?, ?, ?, 'ready', ?, ?, ?, 1, 0)
	ON CONFLICT (name) DO UPDATE SET model = excluded.model, accelerators = excluded.accelerators,
		address = excluded.address, labels = excluded.labels, heartbeat_at = excluded.heartbeat_at,
		draw_w = excluded.draw_w,
		state = CASE WHEN nodes.state <> 'lost' THEN nodes.state WHEN nodes.drained THEN 'draining' ELSE 'ready' END,
		version = nodes.version + 1`

// heartbeatNode records a heartbeat. A lost node comes back (draining
// when it was drained, else ready), which is a change of the node: its
// version moves.
const heartbeatNode = `UPDATE nodes SET heartbeat_at = ?, draw_w = ?,
	state = CASE WHEN state <> 'lost' THEN state WHEN drained THEN 'draining' ELSE 'ready' END,
	version = CASE WHEN state = 'lost' THEN version + 1 ELSE version END
	WHERE name = ?`

func nodeArgs(n store.Node) []any {
	return []any{n.Name, n.Model, n.Accelerators, n.Address, mapJSON(n.Labels), store.UnixNano(n.RegisteredAt),
		store.UnixNano(n.HeartbeatAt), n.DrawW}
}

// RegisterNode implements store.Store.
func (db *DB) RegisterNode(ctx context.Context, n store.Node) (store.Node, error) {
	var out store.Node
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, upsertNode, nodeArgs(n)...); err != nil {
			return err
		}
		var err error
		out, err = scanNode(tx.QueryRowContext(ctx, `SELECT `+nodeColumns+` FROM nodes WHERE name = ?`, n.Name))
		return err
	})
	if err != nil {
		return out, fmt.Errorf("sqlite: register node %s: %w", n.Name, err)
	}
	return out, nil
}

// RegisterNodes implements store.Store.
func (db *DB) RegisterNodes(ctx context.Context, nodes []store.Node) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, upsertNode)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, n := range nodes {
			if _, err := st.ExecContext(ctx, nodeArgs(n)...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: register nodes: %w", err)
	}
	return nil
}

// Heartbeat implements store.Store.
func (db *DB) Heartbeat(ctx context.Context, name string, at time.Time, drawW float64) error {
	res, err := db.w.ExecContext(ctx, heartbeatNode, store.UnixNano(at), drawW, name)
	if err != nil {
		return fmt.Errorf("sqlite: heartbeat %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("sqlite: heartbeat %s: %w", name, store.ErrNotFound)
	}
	return nil
}

// Heartbeats implements store.Store.
func (db *DB) Heartbeats(ctx context.Context, beats []store.Beat) ([]bool, error) {
	found := make([]bool, len(beats))
	err := db.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, heartbeatNode)
		if err != nil {
			return err
		}
		defer st.Close()
		for i, b := range beats {
			res, err := st.ExecContext(ctx, store.UnixNano(b.At), b.DrawW, b.Node)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			found[i] = n == 1
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: heartbeats: %w", err)
	}
	return found, nil
}

// Node implements store.Store.
func (db *DB) Node(ctx context.Context, name string) (store.Node, error) {
	n, err := scanNode(db.r.QueryRowContext(ctx, `SELECT `+nodeColumns+` FROM nodes WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return n, fmt.Errorf("sqlite: node %s: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return n, fmt.Errorf("sqlite: node %s: %w", name, err)
	}
	return n, nil
}

// Nodes implements store.Store.
func (db *DB) Nodes(ctx context.Context) ([]store.Node, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+nodeColumns+` FROM nodes ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: nodes: %w", err)
	}
	defer rows.Close()
	var out []store.Node
	for rows.Next() {
		n, err := scanNode(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: nodes: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// NodeDigest implements store.Store.
func (db *DB) NodeDigest(ctx context.Context) (store.NodeDigest, error) {
	var d store.NodeDigest
	err := db.r.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(version), 0) FROM nodes`).Scan(&d.Count, &d.VersionSum)
	if err != nil {
		return d, fmt.Errorf("sqlite: node digest: %w", err)
	}
	return d, nil
}

// SilentNodes implements store.Store.
func (db *DB) SilentNodes(ctx context.Context, before time.Time) ([]store.Node, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+nodeColumns+` FROM nodes WHERE state != 'lost' AND heartbeat_at < ? ORDER BY name`,
		store.UnixNano(before))
	if err != nil {
		return nil, fmt.Errorf("sqlite: silent nodes: %w", err)
	}
	defer rows.Close()
	var out []store.Node
	for rows.Next() {
		n, err := scanNode(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: silent nodes: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// Events implements store.Store.
func (db *DB) Events(ctx context.Context, q store.EventQuery) ([]store.Event, error) {
	query := `SELECT seq, time, kind, job, node, message FROM events WHERE seq > ?`
	args := []any{q.After}
	if q.Job != "" {
		query += ` AND job = ?`
		args = append(args, q.Job)
	}
	query += ` ORDER BY seq`
	if q.Last {
		query += ` DESC`
	}
	if q.Limit > 0 {
		query += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: events: %w", err)
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		var e store.Event
		var t int64
		if err := rows.Scan(&e.Seq, &t, &e.Kind, &e.Job, &e.Node, &e.Message); err != nil {
			return nil, fmt.Errorf("sqlite: events: %w", err)
		}
		e.Time = store.FromUnixNano(t)
		out = append(out, e)
	}
	if q.Last {
		slices.Reverse(out)
	}
	return out, rows.Err()
}

const tokenColumns = `id, hash, role, tenant, name, node, node_prefix, created_at`

const insertToken = `INSERT INTO tokens (` + tokenColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`

func tokenArgs(t store.Token) []any {
	return []any{t.ID, t.Hash, t.Role, t.Tenant, t.Name, t.Node, t.NodePrefix, store.UnixNano(t.CreatedAt)}
}

func scanToken(s scanner) (store.Token, error) {
	var t store.Token
	var at int64
	err := s.Scan(&t.ID, &t.Hash, &t.Role, &t.Tenant, &t.Name, &t.Node, &t.NodePrefix, &at)
	t.CreatedAt = store.FromUnixNano(at)
	return t, err
}

// CreateToken implements store.Store.
func (db *DB) CreateToken(ctx context.Context, t store.Token) error {
	res, err := db.w.ExecContext(ctx, insertToken, tokenArgs(t)...)
	if err != nil {
		return fmt.Errorf("sqlite: create token: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("sqlite: create token %s: %w", t.ID, store.ErrExists)
	}
	return nil
}

// SetNodeToken implements store.Store.
func (db *DB) SetNodeToken(ctx context.Context, t store.Token) error {
	if err := store.CheckNodeToken(t); err != nil {
		return fmt.Errorf("sqlite: set node token: %w", err)
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, insertToken, tokenArgs(t)...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("token %s: %w", t.ID, store.ErrExists)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM tokens WHERE node = ? AND role = ? AND id <> ?`, t.Node, store.RoleNode, t.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: set node token %s: %w", t.Node, err)
	}
	return nil
}

// TokenByHash implements store.Store.
func (db *DB) TokenByHash(ctx context.Context, hash string) (store.Token, error) {
	t, err := scanToken(db.r.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("sqlite: token: %w", store.ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("sqlite: token: %w", err)
	}
	return t, nil
}

// DeleteToken implements store.Store.
func (db *DB) DeleteToken(ctx context.Context, id string) error {
	res, err := db.w.ExecContext(ctx, `DELETE FROM tokens WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("sqlite: delete token: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("sqlite: token %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// Tokens implements store.Store.
func (db *DB) Tokens(ctx context.Context) ([]store.Token, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+tokenColumns+` FROM tokens ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: tokens: %w", err)
	}
	defer rows.Close()
	var out []store.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: tokens: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// AcquireLease implements store.Store.
func (db *DB) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (store.Lease, error) {
	l := store.Lease{Name: name}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO leases (name, holder, epoch, expires_at) VALUES (?, ?, 1, ?)
			ON CONFLICT (name) DO UPDATE SET
				epoch = CASE WHEN leases.holder = excluded.holder THEN leases.epoch ELSE leases.epoch + 1 END,
				holder = excluded.holder, expires_at = excluded.expires_at
			WHERE leases.holder = excluded.holder OR leases.expires_at <= ?`,
			name, holder, store.UnixNano(now.Add(ttl)), store.UnixNano(now))
		if err != nil {
			return err
		}
		var exp int64
		err = tx.QueryRowContext(ctx, `SELECT holder, epoch, expires_at FROM leases WHERE name = ?`, name).Scan(&l.Holder, &l.Epoch, &exp)
		l.ExpiresAt = store.FromUnixNano(exp)
		return err
	})
	if err != nil {
		return l, fmt.Errorf("sqlite: lease %s: %w", name, err)
	}
	return l, nil
}

// ReleaseLease implements store.Store.
func (db *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := db.w.ExecContext(ctx, `UPDATE leases SET expires_at = 0 WHERE name = ? AND holder = ?`, name, holder)
	if err != nil {
		return fmt.Errorf("sqlite: release lease %s: %w", name, err)
	}
	return nil
}

// Tenants implements store.Store.
func (db *DB) Tenants(ctx context.Context) ([]store.Tenant, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT name, weight, quota, model_quotas, power_quota_kw, updated_at FROM tenants ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: tenants: %w", err)
	}
	defer rows.Close()
	var out []store.Tenant
	for rows.Next() {
		var t store.Tenant
		var at int64
		var models string
		if err := rows.Scan(&t.Name, &t.Weight, &t.Quota, &models, &t.PowerQuotaKW, &at); err != nil {
			return nil, fmt.Errorf("sqlite: tenants: %w", err)
		}
		if err := store.DecodeJSON(models, &t.ModelQuotas); err != nil {
			return nil, fmt.Errorf("sqlite: tenants: %w", err)
		}
		t.UpdatedAt = store.FromUnixNano(at)
		out = append(out, t)
	}
	return out, rows.Err()
}

// PutTenant implements store.Store.
func (db *DB) PutTenant(ctx context.Context, t store.Tenant, create bool) error {
	q := `UPDATE tenants SET weight = ?, quota = ?, model_quotas = ?, power_quota_kw = ?, updated_at = ? WHERE name = ?`
	args := []any{t.Weight, t.Quota, quotasJSON(t.ModelQuotas), t.PowerQuotaKW, store.UnixNano(t.UpdatedAt), t.Name}
	if create {
		q = `INSERT INTO tenants (weight, quota, model_quotas, power_quota_kw, updated_at, name) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`
	}
	res, err := db.w.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("sqlite: put tenant: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		if create {
			return fmt.Errorf("sqlite: tenant %s: %w", t.Name, store.ErrExists)
		}
		return fmt.Errorf("sqlite: tenant %s: %w", t.Name, store.ErrNotFound)
	}
	return nil
}

// DeleteTenant implements store.Store.
func (db *DB) DeleteTenant(ctx context.Context, name string) error {
	res, err := db.w.ExecContext(ctx, `DELETE FROM tenants WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("sqlite: delete tenant: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("sqlite: tenant %s: %w", name, store.ErrNotFound)
	}
	return nil
}

const upsertEnergy = `INSERT INTO job_energy (job, attempt, site, energy_j, facility_j, accelerator_s, cost_usd, co2_g, source, samples)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (job, attempt) DO UPDATE SET energy_j = energy_j + excluded.energy_j,
		facility_j = facility_j + excluded.facility_j, accelerator_s = accelerator_s + excluded.accelerator_s,
		cost_usd = cost_usd + excluded.cost_usd, co2_g = co2_g + excluded.co2_g, samples = samples + excluded.samples,
		source = CASE WHEN source = excluded.source THEN source ELSE 'mixed' END`

// AddEnergy implements store.Store.
func (db *DB) AddEnergy(ctx context.Context, records []store.JobEnergy) error {
	if len(records) == 0 {
		return nil
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, upsertEnergy)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, e := range records {
			if _, err := st.ExecContext(ctx, e.Job, e.Attempt, e.Site, e.EnergyJ, e.FacilityJ, e.AcceleratorS,
				e.CostUSD, e.CO2g, e.Source, e.Samples); err != nil {
				return fmt.Errorf("sqlite: add energy: %w", err)
			}
		}
		return nil
	})
}

// Energy implements store.Store.
func (db *DB) Energy(ctx context.Context, jobs []string) ([]store.JobEnergy, error) {
	var out []store.JobEnergy
	for start := 0; start < len(jobs); start += 500 {
		ids := jobs[start:min(len(jobs), start+500)]
		args := make([]any, len(ids))
		for i, id := range ids {
			args[i] = id
		}
		rows, err := db.r.QueryContext(ctx, `SELECT job, attempt, site, energy_j, facility_j, accelerator_s, cost_usd, co2_g, source, samples
			FROM job_energy WHERE job IN (`+strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")+`) ORDER BY job, attempt`, args...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: energy: %w", err)
		}
		for rows.Next() {
			var e store.JobEnergy
			if err := rows.Scan(&e.Job, &e.Attempt, &e.Site, &e.EnergyJ, &e.FacilityJ, &e.AcceleratorS, &e.CostUSD, &e.CO2g, &e.Source, &e.Samples); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: energy: %w", err)
			}
			out = append(out, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, func(a, b store.JobEnergy) int {
		if c := strings.Compare(a.Job, b.Job); c != 0 {
			return c
		}
		return a.Attempt - b.Attempt
	})
	return out, nil
}

// CreateGridEvent implements store.Store.
func (db *DB) CreateGridEvent(ctx context.Context, e store.GridEvent) error {
	e.Version = 1
	res, err := db.w.ExecContext(ctx, `INSERT INTO grid_events (id, start_ns, state, data, version) VALUES (?, ?, ?, ?, 1)
		ON CONFLICT DO NOTHING`, e.ID, store.UnixNano(e.Start), e.State, store.EncodeJSON(e))
	if err != nil {
		return fmt.Errorf("sqlite: create grid event: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("sqlite: grid event %s: %w", e.ID, store.ErrExists)
	}
	return nil
}

// GridEvents implements store.Store.
func (db *DB) GridEvents(ctx context.Context, states ...string) ([]store.GridEvent, error) {
	q := `SELECT data, version FROM grid_events`
	args := make([]any, len(states))
	for i, st := range states {
		args[i] = st
	}
	if len(states) > 0 {
		q += ` WHERE state IN (` + strings.TrimSuffix(strings.Repeat("?,", len(states)), ",") + `)`
	}
	rows, err := db.r.QueryContext(ctx, q+` ORDER BY start_ns, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: grid events: %w", err)
	}
	defer rows.Close()
	var out []store.GridEvent
	for rows.Next() {
		var data string
		var e store.GridEvent
		var v int64
		if err := rows.Scan(&data, &v); err != nil {
			return nil, fmt.Errorf("sqlite: grid events: %w", err)
		}
		if err := store.DecodeJSON(data, &e); err != nil {
			return nil, fmt.Errorf("sqlite: grid events: %w", err)
		}
		e.Version = v
		out = append(out, e)
	}
	return out, rows.Err()
}

// UpdateGridEvent implements store.Store.
func (db *DB) UpdateGridEvent(ctx context.Context, e store.GridEvent) error {
	want := e.Version
	e.Version++
	res, err := db.w.ExecContext(ctx, `UPDATE grid_events SET start_ns = ?, state = ?, data = ?, version = version + 1
		WHERE id = ? AND version = ?`, store.UnixNano(e.Start), e.State, store.EncodeJSON(e), e.ID, want)
	if err != nil {
		return fmt.Errorf("sqlite: update grid event: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		var one int
		if err := db.r.QueryRowContext(ctx, `SELECT 1 FROM grid_events WHERE id = ?`, e.ID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: grid event %s: %w", e.ID, store.ErrNotFound)
		}
		return fmt.Errorf("sqlite: grid event %s: %w", e.ID, store.ErrConflict)
	}
	return nil
}

func quotasJSON(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	return store.EncodeJSON(m)
}

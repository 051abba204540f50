package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"stargate/store"
)

// DB is the PostgreSQL Store.
type DB struct {
	pool *pgxpool.Pool
}

var _ store.Store = (*DB)(nil)

// Open connects to the database at dsn (a postgres:// URL or key=value
// string; pool_max_conns and search_path are honoured) and brings its
// schema up to date.
func Open(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = 16
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db := &DB{pool: pool}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// Close closes the pool.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// SchemaVersion returns the number of migrations applied.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := db.pool.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

// migrateLock is the advisory lock key that serializes migrations of
// replicas starting together.
const migrateLock = 0x5374_6172_6761_7465 // "Stargate"

func (db *DB) migrate(ctx context.Context) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrateLock)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
			return err
		}
		var v int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
			return err
		}
		if v > len(migrations) {
			return fmt.Errorf("database schema version %d is newer than this binary's %d", v, len(migrations))
		}
		for ; v < len(migrations); v++ {
			if _, err := tx.Exec(ctx, migrations[v]); err != nil {
				return fmt.Errorf("migration %d: %w", v+1, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
				v+1, time.Now().UnixNano()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

func (db *DB) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, db.pool, fn)
}

const jobColumns = `id, tenant, state, spec, reasons, placement, attempts, submitted_at, started_at, ended_at,
	COALESCE(idem_key, ''), request_hash, version, cap_w, failures, held, array_job, array_index`

func scanJob(s pgx.Row) (store.Job, error) {
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

func listJSON[T any](v []T) string {
	if len(v) == 0 {
		return ""
	}
	return store.EncodeJSON(v)
}

func mapJSON(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	return store.EncodeJSON(m)
}

// SubmitJobs implements store.Store: one multi-row INSERT per call.
func (db *DB) SubmitJobs(ctx context.Context, jobs []store.Job) ([]store.SubmitResult, error) {
	n := len(jobs)
	var (
		ids, tenants, states, specs, reasons, hashes = make([]string, n), make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n)
		accels      = make([]int32, n)
		submitted   = make([]int64, n)
		versions    = make([]int64, n)
		held        = make([]bool, n)
		arrays      = make([]string, n)
		indexes     = make([]int32, n)
		keys        = make([]*string, n)
		out         = make([]store.SubmitResult, n)
		createdByID = map[string]bool{}
	)
	for i, j := range jobs {
		ids[i], tenants[i], states[i], specs[i] = j.ID, j.Tenant, string(j.State), store.EncodeJSON(j.Spec)
		reasons[i], hashes[i] = listJSON(j.Reasons), j.RequestHash
		accels[i], submitted[i], versions[i], held[i] = int32(j.Spec.Accelerators), store.UnixNano(j.SubmittedAt), j.Version, j.Held
		arrays[i], indexes[i] = j.ArrayJob, int32(j.ArrayIndex)
		if j.IdempotencyKey != "" {
			k := j.IdempotencyKey
			keys[i] = &k
		}
	}
	err := db.tx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `INSERT INTO jobs (id, tenant, state, spec, reasons, accelerators, submitted_at,
				idem_key, request_hash, version, held, array_job, array_index)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::bigint[],
				$8::text[], $9::text[], $10::bigint[], $11::bool[], $12::text[], $13::int[])
			ON CONFLICT DO NOTHING RETURNING id`,
			ids, tenants, states, specs, reasons, accels, submitted, keys, hashes, versions, held, arrays, indexes)
		if err != nil {
			return err
		}
		created, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, id := range created {
			createdByID[id] = true
		}
		for i, j := range jobs {
			if createdByID[j.ID] {
				out[i] = store.SubmitResult{Job: j, Created: true}
				out[i].Job.Placement = nil
				delete(createdByID, j.ID) // a later job with the same ID is a duplicate
				continue
			}
			if j.IdempotencyKey == "" {
				return fmt.Errorf("job %s: %w", j.ID, store.ErrExists)
			}
			prev, err := scanJob(tx.QueryRow(ctx, `SELECT `+jobColumns+` FROM jobs WHERE tenant = $1 AND idem_key = $2`,
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
		return nil, fmt.Errorf("postgres: submit: %w", err)
	}
	return out, nil
}

// Job implements store.Store.
func (db *DB) Job(ctx context.Context, id string) (store.Job, error) {
	j, err := scanJob(db.pool.QueryRow(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return j, fmt.Errorf("postgres: job %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return j, fmt.Errorf("postgres: job %s: %w", id, err)
	}
	return j, nil
}

// Jobs implements store.Store.
func (db *DB) Jobs(ctx context.Context, q store.JobQuery) ([]store.Job, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	switch len(q.States) {
	case 0:
	case 1: // not ANY: PostgreSQL reads an index in order only for =
		where = append(where, "state = "+arg(string(q.States[0])))
	default:
		states := make([]string, len(q.States))
		for i, s := range q.States {
			states[i] = string(s)
		}
		where = append(where, "state = ANY("+arg(states)+"::text[])")
	}
	if q.Tenant != "" {
		where = append(where, "tenant = "+arg(q.Tenant))
	}
	if q.Node != "" {
		where = append(where, "id IN (SELECT job_id FROM allocations WHERE node = "+arg(q.Node)+")")
	}
	if q.Array != "" {
		where = append(where, "array_job = "+arg(q.Array))
	}
	if q.ByPriority {
		return db.jobsByPriority(ctx, where, args, q)
	}
	cmp, order := ">", ""
	if q.Newest {
		cmp, order = "<", " DESC"
	}
	if q.After != "" {
		where = append(where, "id "+cmp+" "+arg(q.After))
	}
	return db.jobsWhere(ctx, where, args, "id"+order, q.Limit)
}

// jobsByPriority lists jobs by priority, then ID, after a position: the
// rest of the position's priority, then the lower ones, each read from
// the index (state, priority DESC, id) in its order.
func (db *DB) jobsByPriority(ctx context.Context, where []string, args []any, q store.JobQuery) ([]store.Job, error) {
	if q.Newest {
		return nil, fmt.Errorf("postgres: jobs: %w", store.ErrBadQuery)
	}
	const order = "priority DESC, id"
	if q.After == "" {
		return db.jobsWhere(ctx, where, args, order, q.Limit)
	}
	n := len(args)
	out, err := db.jobsWhere(ctx, append(where[:len(where):len(where)], fmt.Sprintf("priority = $%d", n+1), fmt.Sprintf("id > $%d", n+2)),
		append(args[:n:n], q.AfterPriority, q.After), order, q.Limit)
	if err != nil || q.Limit > 0 && len(out) >= q.Limit {
		return out, err
	}
	more, err := db.jobsWhere(ctx, append(where, fmt.Sprintf("priority < $%d", n+1)), append(args, q.AfterPriority), order, q.Limit-len(out))
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
	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: jobs: %w", err)
	}
	out, err := pgx.AppendRows(make([]store.Job, 0, store.PageCap(limit)), rows, func(r pgx.CollectableRow) (store.Job, error) { return scanJob(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: jobs: %w", err)
	}
	return out, nil
}

// ActiveJobs implements store.Store.
func (db *DB) ActiveJobs(ctx context.Context) ([]store.JobVersion, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, state, version FROM jobs WHERE state IN ('pending', 'running') ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: active jobs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.JobVersion, error) {
		var v store.JobVersion
		err := r.Scan(&v.ID, &v.State, &v.Version)
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: active jobs: %w", err)
	}
	return out, nil
}

// A job's seq is the ID of the transaction that last wrote it (the
// column's default on insert, set on update). Transactions commit out of
// the order of their IDs, so a cursor is the oldest transaction still
// running when a read's snapshot was taken (its xmin): every transaction
// before it had ended and is seen, and a later one is read again next time.

// JobCursor implements store.Store.
func (db *DB) JobCursor(ctx context.Context) (int64, error) {
	var x int64
	if err := db.pool.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint`).Scan(&x); err != nil {
		return 0, fmt.Errorf("postgres: job cursor: %w", err)
	}
	return x, nil
}

// JobChanges implements store.Store: the jobs written by transactions
// at or after the cursor.
func (db *DB) JobChanges(ctx context.Context, since int64) ([]store.JobVersion, int64, error) {
	rows, err := db.pool.Query(ctx, `SELECT s.x, j.id, j.state, j.version, j.priority
		FROM (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS x) s
		LEFT JOIN jobs j ON j.seq >= $1 ORDER BY j.seq`, since)
	if err != nil {
		return nil, since, fmt.Errorf("postgres: job changes: %w", err)
	}
	defer rows.Close()
	var out []store.JobVersion
	next := since
	for rows.Next() {
		var (
			x       int64
			id, st  *string
			version *int64
			prio    *int
		)
		if err := rows.Scan(&x, &id, &st, &version, &prio); err != nil {
			return nil, since, fmt.Errorf("postgres: job changes: %w", err)
		}
		next = max(next, x)
		if id != nil {
			out = append(out, store.JobVersion{ID: *id, State: store.JobState(*st), Version: *version, Priority: *prio})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, since, fmt.Errorf("postgres: job changes: %w", err)
	}
	return out, next, nil
}

// JobsByID implements store.Store.
func (db *DB) JobsByID(ctx context.Context, ids []string) ([]store.Job, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = ANY($1::text[]) ORDER BY id`, ids)
	if err != nil {
		return nil, fmt.Errorf("postgres: jobs by id: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Job, error) { return scanJob(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: jobs by id: %w", err)
	}
	return out, nil
}

// countFold is the number of delta rows past which JobCounts folds them
// into job_counts.
const countFold = 1000

// JobCounts implements store.Store: job_counts plus the deltas not yet
// folded into it. One reader at a time folds them, when there are many
// (writers only add deltas: folding waits for none of them).
func (db *DB) JobCounts(ctx context.Context) ([]store.JobCount, error) {
	var many bool
	if err := db.pool.QueryRow(ctx, `SELECT COUNT(*) > $1 FROM (SELECT 1 FROM job_count_deltas LIMIT $1 + 1) d`, countFold).Scan(&many); err != nil {
		return nil, fmt.Errorf("postgres: job counts: %w", err)
	}
	if many {
		err := db.tx(ctx, func(tx pgx.Tx) error {
			var mine bool
			if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || '.job_counts'))`).Scan(&mine); err != nil || !mine {
				return err
			}
			_, err := tx.Exec(ctx, `WITH d AS (DELETE FROM job_count_deltas RETURNING *)
				INSERT INTO job_counts (tenant, state, jobs, accelerators)
				SELECT tenant, state, SUM(jobs), SUM(accelerators) FROM d GROUP BY tenant, state
				ON CONFLICT (tenant, state) DO UPDATE SET jobs = job_counts.jobs + excluded.jobs,
					accelerators = job_counts.accelerators + excluded.accelerators`)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("postgres: job counts: %w", err)
		}
	}
	rows, err := db.pool.Query(ctx, `SELECT tenant, state, SUM(jobs)::bigint, SUM(accelerators)::bigint FROM (
			SELECT tenant, state, jobs, accelerators FROM job_counts
			UNION ALL SELECT tenant, state, jobs, accelerators FROM job_count_deltas) c
		GROUP BY tenant, state HAVING SUM(jobs) <> 0 ORDER BY tenant, state`)
	if err != nil {
		return nil, fmt.Errorf("postgres: job counts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.JobCount, error) {
		var c store.JobCount
		err := r.Scan(&c.Tenant, &c.State, &c.Jobs, &c.Accelerators)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: job counts: %w", err)
	}
	return out, nil
}

// Apply implements store.Store. The statements of a change set are sent in
// one pipelined batch.
func (db *DB) Apply(ctx context.Context, c store.Changes) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if f := c.Fence; f != nil {
			var holder string
			var exp int64
			err := tx.QueryRow(ctx, `SELECT holder, expires_at FROM leases WHERE name = $1 FOR SHARE`, f.Lease).Scan(&holder, &exp)
			if errors.Is(err, pgx.ErrNoRows) || (err == nil && (holder != f.Holder || exp <= store.UnixNano(f.Now))) {
				return store.ErrNotLeader
			}
			if err != nil {
				return err
			}
		}
		b := &pgx.Batch{}
		type check struct{ table, key, what, id string }
		var checks []*check // one per queued statement; nil: no row count to check
		for _, j := range c.Jobs {
			b.Queue(`UPDATE jobs SET state = $1, reasons = $2, placement = $3, attempts = $4,
				failures = $5, started_at = $6, ended_at = $7, cap_w = $8, held = $11, seq = pg_current_xact_id()::text::bigint,
				version = version + 1 WHERE id = $9 AND version = $10`,
				string(j.State), listJSON(j.Reasons), listJSON(j.Placement), j.Attempts,
				j.Failures, store.UnixNano(j.StartedAt), store.UnixNano(j.EndedAt), j.CapW, j.ID, j.Version, j.Held)
			checks = append(checks, &check{"jobs", "id", "job", j.ID})
			b.Queue(`DELETE FROM allocations WHERE job_id = $1`, j.ID)
			checks = append(checks, nil)
			for _, a := range j.Placement {
				b.Queue(`INSERT INTO allocations (job_id, node, accelerators) VALUES ($1, $2, $3)`,
					j.ID, a.Node, store.EncodeJSON(a.Accelerators))
				checks = append(checks, nil)
			}
		}
		for _, n := range c.Nodes {
			b.Queue(`UPDATE nodes SET state = $1, address = $2, labels = $3, drained = $6, version = version + 1
				WHERE name = $4 AND version = $5`, string(n.State), n.Address, mapJSON(n.Labels), n.Name, n.Version, n.Drained)
			checks = append(checks, &check{"nodes", "name", "node", n.Name})
		}
		for _, e := range c.Events {
			b.Queue(`INSERT INTO events (time, kind, job, node, message) VALUES ($1, $2, $3, $4, $5)`,
				store.UnixNano(e.Time), e.Kind, e.Job, e.Node, e.Message)
			checks = append(checks, nil)
		}
		if b.Len() == 0 {
			return nil
		}
		br := tx.SendBatch(ctx, b)
		var failed *check
		for _, ck := range checks {
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				return err
			}
			if ck != nil && tag.RowsAffected() != 1 && failed == nil {
				failed = ck
			}
		}
		if err := br.Close(); err != nil {
			return err
		}
		if failed != nil {
			var one int
			err := tx.QueryRow(ctx, `SELECT 1 FROM `+failed.table+` WHERE `+failed.key+` = $1`, failed.id).Scan(&one)
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("%s %s: %w", failed.what, failed.id, store.ErrNotFound)
			}
			if err != nil {
				return err
			}
			return fmt.Errorf("%s %s: %w", failed.what, failed.id, store.ErrConflict)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: apply: %w", err)
	}
	for i := range c.Jobs {
		c.Jobs[i].Version++
	}
	for i := range c.Nodes {
		c.Nodes[i].Version++
	}
	return nil
}

const nodeColumns = `name, model, accelerators, address, labels, state, registered_at, heartbeat_at, draw_w, version, drained`

func scanNode(s pgx.Row) (store.Node, error) {
	var n store.Node
	var labels string
	var reg, hb int64
	if err := s.Scan(&n.Name, &n.Model, &n.Accelerators, &n.Address, &labels, &n.State, &reg, &hb, &n.DrawW, &n.Version, &n.Drained); err != nil {
		return n, err
	}
	n.RegisteredAt, n.HeartbeatAt = store.FromUnixNano(reg), store.FromUnixNano(hb)
	return n, store.DecodeJSON(labels, &n.Labels)
}

const upsertNode = `INSERT INTO nodes (` + nodeColumns + `)
	VALUES ($1, $2, $3, $4, $5, 'ready', $6, $7, $8, 1, false)
	ON CONFLICT (name) DO UPDATE SET model = excluded.model, accelerators = excluded.accelerators,
		address = excluded.address, labels = excluded.labels, heartbeat_at = excluded.heartbeat_at,
		draw_w = excluded.draw_w,
		state = CASE WHEN nodes.state <> 'lost' THEN nodes.state WHEN nodes.drained THEN 'draining' ELSE 'ready' END,
		version = nodes.version + 1`

// heartbeatNode records a heartbeat. A lost node comes back (draining
// when it was drained, else ready), which is a change of the node: its
// version moves.
const heartbeatNode = `UPDATE nodes SET heartbeat_at = $1, draw_w = $2,
	state = CASE WHEN state <> 'lost' THEN state WHEN drained THEN 'draining' ELSE 'ready' END,
	version = CASE WHEN state = 'lost' THEN version + 1 ELSE version END
	WHERE name = $3`

func nodeArgs(n store.Node) []any {
	return []any{n.Name, n.Model, n.Accelerators, n.Address, mapJSON(n.Labels), store.UnixNano(n.RegisteredAt),
		store.UnixNano(n.HeartbeatAt), n.DrawW}
}

// RegisterNode implements store.Store.
func (db *DB) RegisterNode(ctx context.Context, n store.Node) (store.Node, error) {
	out, err := scanNode(db.pool.QueryRow(ctx, upsertNode+` RETURNING `+nodeColumns, nodeArgs(n)...))
	if err != nil {
		return out, fmt.Errorf("postgres: register node %s: %w", n.Name, err)
	}
	return out, nil
}

// RegisterNodes implements store.Store: one pipelined batch in one
// transaction.
func (db *DB) RegisterNodes(ctx context.Context, nodes []store.Node) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, n := range nodes {
			b.Queue(upsertNode, nodeArgs(n)...)
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return fmt.Errorf("postgres: register nodes: %w", err)
	}
	return nil
}

// Heartbeat implements store.Store.
func (db *DB) Heartbeat(ctx context.Context, name string, at time.Time, drawW float64) error {
	tag, err := db.pool.Exec(ctx, heartbeatNode, store.UnixNano(at), drawW, name)
	if err != nil {
		return fmt.Errorf("postgres: heartbeat %s: %w", name, err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("postgres: heartbeat %s: %w", name, store.ErrNotFound)
	}
	return nil
}

// Heartbeats implements store.Store: one pipelined batch in one
// transaction.
func (db *DB) Heartbeats(ctx context.Context, beats []store.Beat) ([]bool, error) {
	found := make([]bool, len(beats))
	err := db.tx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, h := range beats {
			b.Queue(heartbeatNode, store.UnixNano(h.At), h.DrawW, h.Node)
		}
		br := tx.SendBatch(ctx, b)
		for i := range beats {
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				return err
			}
			found[i] = tag.RowsAffected() == 1
		}
		return br.Close()
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: heartbeats: %w", err)
	}
	return found, nil
}

// Node implements store.Store.
func (db *DB) Node(ctx context.Context, name string) (store.Node, error) {
	n, err := scanNode(db.pool.QueryRow(ctx, `SELECT `+nodeColumns+` FROM nodes WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return n, fmt.Errorf("postgres: node %s: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return n, fmt.Errorf("postgres: node %s: %w", name, err)
	}
	return n, nil
}

// Nodes implements store.Store.
func (db *DB) Nodes(ctx context.Context) ([]store.Node, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+nodeColumns+` FROM nodes ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("postgres: nodes: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Node, error) { return scanNode(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: nodes: %w", err)
	}
	return out, nil
}

// NodeDigest implements store.Store.
func (db *DB) NodeDigest(ctx context.Context) (store.NodeDigest, error) {
	var d store.NodeDigest
	err := db.pool.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(version), 0)::bigint FROM nodes`).Scan(&d.Count, &d.VersionSum)
	if err != nil {
		return d, fmt.Errorf("postgres: node digest: %w", err)
	}
	return d, nil
}

// SilentNodes implements store.Store.
func (db *DB) SilentNodes(ctx context.Context, before time.Time) ([]store.Node, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+nodeColumns+` FROM nodes WHERE state != 'lost' AND heartbeat_at < $1 ORDER BY name`,
		store.UnixNano(before))
	if err != nil {
		return nil, fmt.Errorf("postgres: silent nodes: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Node, error) { return scanNode(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: silent nodes: %w", err)
	}
	return out, nil
}

// Events implements store.Store.
func (db *DB) Events(ctx context.Context, q store.EventQuery) ([]store.Event, error) {
	query := `SELECT seq, time, kind, job, node, message FROM events WHERE seq > $1`
	args := []any{q.After}
	if q.Job != "" {
		query += ` AND job = $2`
		args = append(args, q.Job)
	}
	query += ` ORDER BY seq`
	if q.Last {
		query += ` DESC`
	}
	if q.Limit > 0 {
		query += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: events: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Event, error) {
		var e store.Event
		var t int64
		err := r.Scan(&e.Seq, &t, &e.Kind, &e.Job, &e.Node, &e.Message)
		e.Time = store.FromUnixNano(t)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: events: %w", err)
	}
	if q.Last {
		slices.Reverse(out)
	}
	return out, nil
}

const tokenColumns = `id, hash, role, tenant, name, node, node_prefix, created_at`

const insertToken = `INSERT INTO tokens (` + tokenColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`

func tokenArgs(t store.Token) []any {
	return []any{t.ID, t.Hash, string(t.Role), t.Tenant, t.Name, t.Node, t.NodePrefix, store.UnixNano(t.CreatedAt)}
}

func scanToken(s pgx.Row) (store.Token, error) {
	var t store.Token
	var at int64
	err := s.Scan(&t.ID, &t.Hash, &t.Role, &t.Tenant, &t.Name, &t.Node, &t.NodePrefix, &at)
	t.CreatedAt = store.FromUnixNano(at)
	return t, err
}

// CreateToken implements store.Store.
func (db *DB) CreateToken(ctx context.Context, t store.Token) error {
	tag, err := db.pool.Exec(ctx, insertToken, tokenArgs(t)...)
	if err != nil {
		return fmt.Errorf("postgres: create token: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("postgres: create token %s: %w", t.ID, store.ErrExists)
	}
	return nil
}

// SetNodeToken implements store.Store.
func (db *DB) SetNodeToken(ctx context.Context, t store.Token) error {
	if err := store.CheckNodeToken(t); err != nil {
		return fmt.Errorf("postgres: set node token: %w", err)
	}
	err := db.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, insertToken, tokenArgs(t)...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("token %s: %w", t.ID, store.ErrExists)
		}
		_, err = tx.Exec(ctx, `DELETE FROM tokens WHERE node = $1 AND role = $2 AND id <> $3`, t.Node, string(store.RoleNode), t.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: set node token %s: %w", t.Node, err)
	}
	return nil
}

// TokenByHash implements store.Store.
func (db *DB) TokenByHash(ctx context.Context, hash string) (store.Token, error) {
	t, err := scanToken(db.pool.QueryRow(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return t, fmt.Errorf("postgres: token: %w", store.ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("postgres: token: %w", err)
	}
	return t, nil
}

// DeleteToken implements store.Store.
func (db *DB) DeleteToken(ctx context.Context, id string) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM tokens WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("postgres: delete token: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("postgres: token %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// Tokens implements store.Store.
func (db *DB) Tokens(ctx context.Context) ([]store.Token, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+tokenColumns+` FROM tokens ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: tokens: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Token, error) { return scanToken(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: tokens: %w", err)
	}
	return out, nil
}

// AcquireLease implements store.Store.
func (db *DB) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (store.Lease, error) {
	l := store.Lease{Name: name}
	var exp int64
	err := db.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO leases (name, holder, epoch, expires_at) VALUES ($1, $2, 1, $3)
			ON CONFLICT (name) DO UPDATE SET
				epoch = CASE WHEN leases.holder = excluded.holder THEN leases.epoch ELSE leases.epoch + 1 END,
				holder = excluded.holder, expires_at = excluded.expires_at
			WHERE leases.holder = excluded.holder OR leases.expires_at <= $4`,
			name, holder, store.UnixNano(now.Add(ttl)), store.UnixNano(now))
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT holder, epoch, expires_at FROM leases WHERE name = $1`, name).Scan(&l.Holder, &l.Epoch, &exp)
	})
	if err != nil {
		return l, fmt.Errorf("postgres: lease %s: %w", name, err)
	}
	l.ExpiresAt = store.FromUnixNano(exp)
	return l, nil
}

// ReleaseLease implements store.Store.
func (db *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := db.pool.Exec(ctx, `UPDATE leases SET expires_at = 0 WHERE name = $1 AND holder = $2`, name, holder); err != nil {
		return fmt.Errorf("postgres: release lease %s: %w", name, err)
	}
	return nil
}

// Tenants implements store.Store.
func (db *DB) Tenants(ctx context.Context) ([]store.Tenant, error) {
	rows, err := db.pool.Query(ctx, `SELECT name, weight, quota, model_quotas, power_quota_kw, updated_at FROM tenants ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("postgres: tenants: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Tenant, error) {
		var t store.Tenant
		var at int64
		var models string
		if err := r.Scan(&t.Name, &t.Weight, &t.Quota, &models, &t.PowerQuotaKW, &at); err != nil {
			return t, err
		}
		t.UpdatedAt = store.FromUnixNano(at)
		return t, store.DecodeJSON(models, &t.ModelQuotas)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: tenants: %w", err)
	}
	return out, nil
}

// PutTenant implements store.Store.
func (db *DB) PutTenant(ctx context.Context, t store.Tenant, create bool) error {
	q := `UPDATE tenants SET weight = $1, quota = $2, model_quotas = $3, power_quota_kw = $4, updated_at = $5 WHERE name = $6`
	if create {
		q = `INSERT INTO tenants (weight, quota, model_quotas, power_quota_kw, updated_at, name) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`
	}
	models := ""
	if len(t.ModelQuotas) > 0 {
		models = store.EncodeJSON(t.ModelQuotas)
	}
	tag, err := db.pool.Exec(ctx, q, t.Weight, t.Quota, models, t.PowerQuotaKW, store.UnixNano(t.UpdatedAt), t.Name)
	if err != nil {
		return fmt.Errorf("postgres: put tenant: %w", err)
	}
	if tag.RowsAffected() != 1 {
		if create {
			return fmt.Errorf("postgres: tenant %s: %w", t.Name, store.ErrExists)
		}
		return fmt.Errorf("postgres: tenant %s: %w", t.Name, store.ErrNotFound)
	}
	return nil
}

// DeleteTenant implements store.Store.
func (db *DB) DeleteTenant(ctx context.Context, name string) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM tenants WHERE name = $1`, name)
	if err != nil {
		return fmt.Errorf("postgres: delete tenant: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("postgres: tenant %s: %w", name, store.ErrNotFound)
	}
	return nil
}

// AddEnergy implements store.Store.
func (db *DB) AddEnergy(ctx context.Context, records []store.JobEnergy) error {
	if len(records) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, e := range records {
		b.Queue(`INSERT INTO job_energy (job, attempt, site, energy_j, facility_j, accelerator_s, cost_usd, co2_g, source, samples)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (job, attempt) DO UPDATE SET energy_j = job_energy.energy_j + excluded.energy_j,
				facility_j = job_energy.facility_j + excluded.facility_j, accelerator_s = job_energy.accelerator_s + excluded.accelerator_s,
				cost_usd = job_energy.cost_usd + excluded.cost_usd, co2_g = job_energy.co2_g + excluded.co2_g,
				samples = job_energy.samples + excluded.samples,
				source = CASE WHEN job_energy.source = excluded.source THEN job_energy.source ELSE 'mixed' END`,
			e.Job, e.Attempt, e.Site, e.EnergyJ, e.FacilityJ, e.AcceleratorS, e.CostUSD, e.CO2g, e.Source, e.Samples)
	}
	err := db.tx(ctx, func(tx pgx.Tx) error { return tx.SendBatch(ctx, b).Close() })
	if err != nil {
		return fmt.Errorf("postgres: add energy: %w", err)
	}
	return nil
}

// Energy implements store.Store.
func (db *DB) Energy(ctx context.Context, jobs []string) ([]store.JobEnergy, error) {
	rows, err := db.pool.Query(ctx, `SELECT job, attempt, site, energy_j, facility_j, accelerator_s, cost_usd, co2_g, source, samples
		FROM job_energy WHERE job = ANY($1) ORDER BY job, attempt`, jobs)
	if err != nil {
		return nil, fmt.Errorf("postgres: energy: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.JobEnergy, error) {
		var e store.JobEnergy
		err := r.Scan(&e.Job, &e.Attempt, &e.Site, &e.EnergyJ, &e.FacilityJ, &e.AcceleratorS, &e.CostUSD, &e.CO2g, &e.Source, &e.Samples)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: energy: %w", err)
	}
	return out, nil
}

// CreateGridEvent implements store.Store.
func (db *DB) CreateGridEvent(ctx context.Context, e store.GridEvent) error {
	e.Version = 1
	tag, err := db.pool.Exec(ctx, `INSERT INTO grid_events (id, start_ns, state, data, version) VALUES ($1, $2, $3, $4, 1)
		ON CONFLICT DO NOTHING`, e.ID, store.UnixNano(e.Start), e.State, store.EncodeJSON(e))
	if err != nil {
		return fmt.Errorf("postgres: create grid event: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("postgres: grid event %s: %w", e.ID, store.ErrExists)
	}
	return nil
}

// GridEvents implements store.Store.
func (db *DB) GridEvents(ctx context.Context, states ...string) ([]store.GridEvent, error) {
	q := `SELECT data, version FROM grid_events`
	var args []any
	if len(states) > 0 {
		q += ` WHERE state = ANY($1)`
		args = append(args, states)
	}
	rows, err := db.pool.Query(ctx, q+` ORDER BY start_ns, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: grid events: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.GridEvent, error) {
		var data string
		var e store.GridEvent
		var v int64
		if err := r.Scan(&data, &v); err != nil {
			return e, err
		}
		err := store.DecodeJSON(data, &e)
		e.Version = v
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: grid events: %w", err)
	}
	return out, nil
}

// UpdateGridEvent implements store.Store.
func (db *DB) UpdateGridEvent(ctx context.Context, e store.GridEvent) error {
	want := e.Version
	e.Version++
	tag, err := db.pool.Exec(ctx, `UPDATE grid_events SET start_ns = $1, state = $2, data = $3, version = version + 1
		WHERE id = $4 AND version = $5`, store.UnixNano(e.Start), e.State, store.EncodeJSON(e), e.ID, want)
	if err != nil {
		return fmt.Errorf("postgres: update grid event: %w", err)
	}
	if tag.RowsAffected() != 1 {
		var one int
		if err := db.pool.QueryRow(ctx, `SELECT 1 FROM grid_events WHERE id = $1`, e.ID).Scan(&one); errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: grid event %s: %w", e.ID, store.ErrNotFound)
		}
		return fmt.Errorf("postgres: grid event %s: %w", e.ID, store.ErrConflict)
	}
	return nil
}

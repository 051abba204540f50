package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"stargate/store"
)

// trimLogs deletes the chunks of one stream that end before its last keep
// bytes (the last argument).
const trimLogs = `DELETE FROM job_logs WHERE job = ? AND attempt = ? AND node = ?
	AND off + length(data) <= (SELECT MAX(off + length(data)) FROM job_logs WHERE job = ? AND attempt = ? AND node = ?) - ?`

// AppendLogs implements store.Store.
func (db *DB) AppendLogs(ctx context.Context, chunks []store.LogChunk, keep int64) error {
	streams := store.LogStreams(chunks)
	if len(streams) == 0 {
		return nil
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		ins, err := tx.PrepareContext(ctx, `INSERT INTO job_logs (job, attempt, node, off, data) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT DO NOTHING`)
		if err != nil {
			return err
		}
		defer ins.Close()
		ends := map[store.LogStream]int64{}
		for _, s := range streams {
			var end sql.NullInt64
			if err := tx.QueryRowContext(ctx, `SELECT MAX(off + length(data)) FROM job_logs WHERE job = ? AND attempt = ? AND node = ?`,
				s.Job, s.Attempt, s.Node).Scan(&end); err != nil {
				return err
			}
			if end.Valid {
				ends[s] = end.Int64
			}
		}
		for _, c := range store.NewParts(chunks, ends) {
			if _, err := ins.ExecContext(ctx, c.Job, c.Attempt, c.Node, c.Offset, c.Data); err != nil {
				return err
			}
		}
		if keep <= 0 {
			return nil
		}
		trim, err := tx.PrepareContext(ctx, trimLogs)
		if err != nil {
			return err
		}
		defer trim.Close()
		for _, s := range streams {
			if _, err := trim.ExecContext(ctx, s.Job, s.Attempt, s.Node, s.Job, s.Attempt, s.Node, keep); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: append logs: %w", err)
	}
	return nil
}

// Logs implements store.Store.
func (db *DB) Logs(ctx context.Context, q store.LogQuery) ([]store.LogChunk, error) {
	if q.Job == "" {
		return nil, fmt.Errorf("sqlite: logs: no job given")
	}
	query := `SELECT seq, job, attempt, node, off, data FROM job_logs WHERE job = ? AND seq > ?`
	args := []any{q.Job, q.After}
	if q.Node != "" {
		query += ` AND node = ?`
		args = append(args, q.Node)
	}
	query += ` ORDER BY seq`
	if q.Limit > 0 {
		query += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: logs of %s: %w", q.Job, err)
	}
	defer rows.Close()
	var out []store.LogChunk
	for rows.Next() {
		var c store.LogChunk
		if err := rows.Scan(&c.Seq, &c.Job, &c.Attempt, &c.Node, &c.Offset, &c.Data); err != nil {
			return nil, fmt.Errorf("sqlite: logs of %s: %w", q.Job, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: logs of %s: %w", q.Job, err)
	}
	return out, nil
}

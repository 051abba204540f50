package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"stargate/store"
)

// trimLogs deletes the chunks of one stream that end before its last $4
// bytes.
const trimLogs = `DELETE FROM job_logs WHERE job = $1 AND attempt = $2 AND node = $3
	AND off + octet_length(data) <= (SELECT MAX(off + octet_length(data)) FROM job_logs
		WHERE job = $1 AND attempt = $2 AND node = $3) - $4`

// AppendLogs implements store.Store: after one read of each stream's end,
// the inserts, in input order, and then the trims are sent in one
// pipelined batch.
func (db *DB) AppendLogs(ctx context.Context, chunks []store.LogChunk, keep int64) error {
	streams := store.LogStreams(chunks)
	if len(streams) == 0 {
		return nil
	}
	err := db.tx(ctx, func(tx pgx.Tx) error {
		ends := map[store.LogStream]int64{}
		for _, s := range streams {
			var end *int64
			if err := tx.QueryRow(ctx, `SELECT MAX(off + octet_length(data)) FROM job_logs WHERE job = $1 AND attempt = $2 AND node = $3`,
				s.Job, s.Attempt, s.Node).Scan(&end); err != nil {
				return err
			}
			if end != nil {
				ends[s] = *end
			}
		}
		b := &pgx.Batch{}
		for _, c := range store.NewParts(chunks, ends) {
			b.Queue(`INSERT INTO job_logs (job, attempt, node, off, data) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
				c.Job, c.Attempt, c.Node, c.Offset, c.Data)
		}
		if keep > 0 {
			for _, s := range streams {
				b.Queue(trimLogs, s.Job, s.Attempt, s.Node, keep)
			}
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return fmt.Errorf("postgres: append logs: %w", err)
	}
	return nil
}

// Logs implements store.Store.
func (db *DB) Logs(ctx context.Context, q store.LogQuery) ([]store.LogChunk, error) {
	if q.Job == "" {
		return nil, fmt.Errorf("postgres: logs: no job given")
	}
	query := `SELECT seq, job, attempt, node, off, data FROM job_logs WHERE job = $1 AND seq > $2`
	args := []any{q.Job, q.After}
	if q.Node != "" {
		query += ` AND node = $3`
		args = append(args, q.Node)
	}
	query += ` ORDER BY seq`
	if q.Limit > 0 {
		query += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: logs of %s: %w", q.Job, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.LogChunk, error) {
		var c store.LogChunk
		err := r.Scan(&c.Seq, &c.Job, &c.Attempt, &c.Node, &c.Offset, &c.Data)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: logs of %s: %w", q.Job, err)
	}
	return out, nil
}

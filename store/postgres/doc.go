// Package postgres is the PostgreSQL Store backend (pgx), for a control
// plane shared by several server replicas. Migrations run on Open under an
// advisory lock, so replicas may start together; leader election uses the
// store's lease table with row locks, and change sets fenced by the lease
// lock its row so that a deposed leader cannot commit.
package postgres

// Package hostile is the hostile suite: its tests start a real stargate
// server process, on SQLite and on PostgreSQL, and replay what a careless
// or hostile user and an unlucky operator did to it (a node name no store
// keeps, half-megabyte specs, 900 KB of labels, submit-and-cancel churn,
// credentials used for the wrong node, revoking the last admin, durations
// that overflow, a lost node's job, text no store keeps), failing on any
// regression. 'bash scripts/test.sh' runs it with a throwaway PostgreSQL.
package hostile

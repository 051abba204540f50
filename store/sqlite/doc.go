// Package sqlite is the embedded Store backend, the default of
// `stargate server`: one database file in WAL mode, fsynced on every commit
// (synchronous=FULL), with versioned migrations applied on Open. One
// connection writes and a small pool reads, so readers never wait for a
// commit.
package sqlite

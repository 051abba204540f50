package store

import "errors"

// NoSpace reports whether err says the store's disk is full: SQLite's
// SQLITE_FULL (13, in any extended form) or PostgreSQL's disk_full
// (SQLSTATE 53100). The drivers' errors are matched by their methods, so
// that callers need not import them.
func NoSpace(err error) bool {
	var lite interface{ Code() int }
	if errors.As(err, &lite) && lite.Code()&0xff == 13 {
		return true
	}
	var pg interface{ SQLState() string }
	return errors.As(err, &pg) && pg.SQLState() == "53100"
}

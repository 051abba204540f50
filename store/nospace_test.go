package store

import (
	"errors"
	"fmt"
	"testing"
)

type liteErr int

func (e liteErr) Error() string { return fmt.Sprintf("sqlite %d", int(e)) }
func (e liteErr) Code() int     { return int(e) }

type pgErr string

func (e pgErr) Error() string    { return "pg " + string(e) }
func (e pgErr) SQLState() string { return string(e) }

func TestNoSpace(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{liteErr(13), true},
		{fmt.Errorf("sqlite: submit: %w", liteErr(13|3<<8)), true}, // an extended code of SQLITE_FULL
		{liteErr(5), false}, // SQLITE_BUSY
		{fmt.Errorf("apply: %w", pgErr("53100")), true},
		{pgErr("53200"), false}, // out of memory
		{errors.New("disk full"), false},
		{nil, false},
	} {
		if got := NoSpace(c.err); got != c.want {
			t.Errorf("NoSpace(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

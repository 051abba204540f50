package engine

import (
	"testing"
	"unsafe"
)

// A queue of millions holds a Pending per job and a fleet's running jobs
// an Alloc each: a field added or moved that takes either past its
// allocation size class costs a size class on every job. The classes are
// the Go allocator's (runtime/sizeclasses.go).
func TestRecordSizes(t *testing.T) {
	for _, c := range []struct {
		name      string
		size, max uintptr
	}{
		{"Job", unsafe.Sizeof(Job{}), 136},
		{"Pending", unsafe.Sizeof(Pending{}), 256},
		{"Alloc", unsafe.Sizeof(Alloc{}), 320},
	} {
		if c.size > c.max {
			t.Errorf("%s is %d bytes, past its %d: reorder its fields (the one-byte ones side by side) or say why it grew", c.name, c.size, c.max)
		}
	}
}

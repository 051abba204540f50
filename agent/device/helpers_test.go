package device_test

import (
	"sync"
	"testing"
	"time"

	"stargate/agent/device"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// h100 is the model tests use, with figures written out rather than taken
// from the catalog so that the oracles below stand on their own: TDP 700 W,
// idle 70 W, caps in [210, 700] W.
func h100(clock *fakeClock, count int) device.FakeModel {
	return device.FakeModel{
		Node: "node-a", Model: "h100-sxm", Count: count,
		TDPW: 700, IdleW: 70, MemoryMiB: 81920,
		Clock: clock.Now,
	}
}

// demand is the draw of an uncapped H100 at load u, from first principles:
// linear between idle and TDP.
func demand(u float64) float64 { return 70 + u*(700-70) }

func read(t testing.TB, d device.Devices) []device.Reading {
	t.Helper()
	rs, err := d.Read()
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if len(rs) != d.Count() {
		t.Fatalf("Read returned %d readings, Count is %d", len(rs), d.Count())
	}
	for i, r := range rs {
		if r.Index != i {
			t.Fatalf("reading %d has Index %d", i, r.Index)
		}
	}
	return rs
}

func near(a, b float64) bool {
	d := a - b
	return d < 1e-6 && d > -1e-6
}

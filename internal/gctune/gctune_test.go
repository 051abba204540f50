package gctune

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 400}, {10 * mib, 400}, {256 * mib, 400}, {300 * mib, 341},
		{512 * mib, 200}, {1024 * mib, 100}, {1200 * mib, 100}, {8192 * mib, 100},
	} {
		if got := Server.Percent(c.live); got != c.want {
			t.Errorf("live %d MiB: GOGC %d, want %d", c.live/mib, got, c.want)
		}
	}
	// the bytes past the live heap stay within the headroom once the
	// percentage is below its maximum, and never below the minimum
	for live := uint64(1); live < 1<<34; live = live*3 + 7 {
		p := Server.Percent(live)
		past := live * uint64(p) / 100
		if p < Server.MinPercent || p > Server.MaxPercent {
			t.Fatalf("live %d: GOGC %d out of [%d, %d]", live, p, Server.MinPercent, Server.MaxPercent)
		}
		if p > Server.MinPercent && past > Server.Headroom {
			t.Fatalf("live %d: GOGC %d lets the heap grow %d bytes past it, more than %d", live, p, past, Server.Headroom)
		}
	}
}

// Step sets GOGC from what it reads, and only when it changes.
func TestStep(t *testing.T) {
	live := uint64(0)
	var sets []int
	tu := Tuner{Policy: Server, Live: func() uint64 { return live }, Set: func(p int) int { sets = append(sets, p); return 0 }}
	for _, l := range []uint64{1 << 20, 2 << 20, 512 << 20, 600 << 20, 600 << 20, 4 << 30, 1 << 20} {
		live = l
		tu.Step()
	}
	want := []int{400, 200, 170, 100, 400}
	if len(sets) != len(want) {
		t.Fatalf("GOGC set to %v, want %v", sets, want)
	}
	for i := range want {
		if sets[i] != want[i] {
			t.Fatalf("GOGC set to %v, want %v", sets, want)
		}
	}
}

// The live heap read from the runtime follows what the program keeps.
func TestLiveHeap(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	runtime.GC()
	before := LiveHeap()
	keep := make([][]byte, 64)
	for i := range keep {
		keep[i] = make([]byte, 1<<20)
	}
	runtime.GC()
	after := LiveHeap()
	if after < before+60<<20 {
		t.Fatalf("live heap %d then %d bytes with 64 MiB more kept", before, after)
	}
	// 64 MiB kept: a headroom of 32 MiB is 50%, below the floor
	tu := Tuner{Policy: Policy{MaxPercent: 400, MinPercent: 100, Headroom: 32 << 20}}
	if got := tu.Step(); got != 100 {
		t.Fatalf("GOGC %d for a live heap of at least 64 MiB and a headroom of 32 MiB, want 100", got)
	}
	if got := debug.SetGCPercent(old); got != 100 {
		t.Fatalf("the runtime's GOGC is %d after Step set 100", got)
	}
	runtime.KeepAlive(keep)
}

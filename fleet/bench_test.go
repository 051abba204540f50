package fleet_test

import (
	"bytes"
	"os"
	"runtime"
	"testing"

	"stargate/fleet"
)

// BenchmarkLoadMillion loads examples/million-gpu.yaml (1,028,096
// accelerators) and reports the time and allocations of a load, and the
// heap the loaded Fleet holds.
func BenchmarkLoadMillion(b *testing.B) {
	data, err := os.ReadFile("../examples/million-gpu.yaml")
	if err != nil {
		b.Fatal(err)
	}
	f, err := fleet.Parse(bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	if f.Accelerators < 1_000_000 {
		b.Fatalf("the fleet has %d accelerators, want at least a million", f.Accelerators)
	}
	f = nil
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		f, err = fleet.Parse(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(heapOf(func() any { f, _ := fleet.Parse(bytes.NewReader(data)); return f })/(1<<20), "MiB-heap")
	runtime.KeepAlive(f)
}

// heapOf returns the bytes of heap in use that build's result holds, after
// garbage collection.
func heapOf(build func() any) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v := build()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(v)
	return float64(after.HeapInuse) - float64(before.HeapInuse)
}

// TestMillionCompact checks issue 2's bound: the million-accelerator
// example holds well under 1 GiB once loaded.
func TestMillionCompact(t *testing.T) {
	if testing.Short() {
		t.Skip("loads a million accelerators")
	}
	heap := heapOf(func() any { return loadExample(t, "million-gpu") })
	t.Logf("million-gpu fleet: %.1f MiB of heap", heap/(1<<20))
	if heap > 1<<30 {
		t.Fatalf("the loaded fleet holds %.0f MiB, want under 1 GiB", heap/(1<<20))
	}
}

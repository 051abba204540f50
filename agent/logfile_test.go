package agent

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"pgregory.net/rapid"
)

// onDisk is what a job's directory holds of its output: the segments'
// start offsets and sizes, read from the directory itself.
func onDisk(t tb, dir string) (starts, sizes []int64) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read dir: %v", err)
	}
	for _, e := range ents {
		var at int64
		name := e.Name()
		if len(name) != len("out.")+20 || name[:4] != "out." {
			continue
		}
		for _, c := range name[4:] {
			if c < '0' || c > '9' {
				t.Fatalf("segment %q: offset not 20 digits", name)
			}
			at = at*10 + int64(c-'0')
		}
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("stat %s: %v", name, err)
		}
		starts = append(starts, at) // ReadDir sorts by name, 20 digits sort by offset
		sizes = append(sizes, fi.Size())
	}
	return starts, sizes
}

// checkRead reads from from with max and checks the answer against what
// was written: data starts at from, or at the oldest byte kept when from
// was trimmed, and is exactly the bytes written there.
func checkRead(t tb, dir string, written []byte, oldest, from int64, max int) (data []byte, start int64) {
	t.Helper()
	data, start, err := readLog(dir, from, max)
	if err != nil {
		t.Fatalf("readLog(%d, %d): %v", from, max, err)
	}
	total := int64(len(written))
	wantStart := from
	if from < oldest {
		wantStart = oldest
	}
	if start != wantStart {
		t.Fatalf("readLog(%d, %d) starts at %d, want %d (oldest kept %d)", from, max, start, wantStart, oldest)
	}
	want := []byte{}
	if wantStart < total {
		want = written[wantStart:min(total, wantStart+int64(max))]
	}
	if !bytes.Equal(data, want) {
		t.Fatalf("readLog(%d, %d) = %d bytes, want %d bytes of %d..%d", from, max, len(data), len(want), wantStart, wantStart+int64(len(want)))
	}
	return data, start
}

// Output written in random pieces under a random limit: the directory
// keeps at most two segments, about limit bytes in all, contiguous and
// ending at what was written; nothing newer than the limit is lost; and
// readLog gives back exactly the bytes written, whole or in small steps,
// while writing and after.
func TestLogKeepsTailWithinLimit(t *testing.T) {
	root := t.TempDir()
	rapid.Check(t, func(t *rapid.T) {
		dir, err := os.MkdirTemp(root, "log")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		limit := rapid.Int64Range(0, 2048).Draw(t, "limit")
		half := max(limit/2, 1) // the documented segment size
		sizes := rapid.SliceOfN(rapid.IntRange(0, 700), 0, 60).Draw(t, "writes")
		rng := rand.New(rand.NewPCG(rapid.Uint64().Draw(t, "seed"), 1))

		w, err := newLogWriter(dir, limit)
		if err != nil {
			t.Fatal(err)
		}
		var written []byte
		biggest := int64(0)
		for i, n := range sizes {
			p := make([]byte, n)
			for k := range p {
				p[k] = byte(rng.Uint32())
			}
			m, err := w.Write(p)
			if err != nil || m != n {
				t.Fatalf("write %d: %d, %v; want %d", i, m, err, n)
			}
			written = append(written, p...)
			biggest = max(biggest, int64(n))
			// A reader meanwhile sees the bytes written so far.
			starts, _ := onDisk(t, dir)
			if len(starts) == 0 {
				t.Fatal("no segment while writing")
			}
			from := rapid.Int64Range(0, int64(len(written))+5).Draw(t, "from")
			checkRead(t, dir, written, starts[0], from, rapid.IntRange(1, 1000).Draw(t, "max"))
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		total := int64(len(written))

		starts, segSizes := onDisk(t, dir)
		if len(starts) == 0 || len(starts) > 2 {
			t.Fatalf("%d segments kept, want 1 or 2", len(starts))
		}
		kept := int64(0)
		for i := range starts {
			if i+1 < len(starts) && starts[i]+segSizes[i] != starts[i+1] {
				t.Fatalf("segment %d..%d is followed by one at %d", starts[i], starts[i]+segSizes[i], starts[i+1])
			}
			// A segment takes writes while it holds less than half.
			if segSizes[i] > half-1+biggest && segSizes[i] > 0 {
				t.Fatalf("segment at %d holds %d bytes, over half %d plus the largest write %d", starts[i], segSizes[i], half, biggest)
			}
			kept += segSizes[i]
		}
		if end := starts[len(starts)-1] + segSizes[len(segSizes)-1]; end != total {
			t.Fatalf("segments end at %d, want %d written", end, total)
		}
		if kept > limit+2*biggest {
			t.Fatalf("%d bytes kept, over the limit %d (largest write %d)", kept, limit, biggest)
		}
		if kept < min(total, half) {
			t.Fatalf("%d bytes kept of %d written: trimmed below half the limit %d", kept, total, half)
		}
		if size, err := logSize(dir); err != nil || size != total {
			t.Fatalf("logSize = %d, %v; want %d", size, err, total)
		}

		// All at once, from the start: the tail that was kept.
		data, start := checkRead(t, dir, written, starts[0], 0, int(total)+1)
		if start+int64(len(data)) != total {
			t.Fatalf("a whole read ends at %d, want %d", start+int64(len(data)), total)
		}
		// In small steps: the same stream, reassembled.
		step := rapid.IntRange(1, 64).Draw(t, "step")
		var got []byte
		from := int64(0)
		for from < total {
			data, start := checkRead(t, dir, written, starts[0], from, step)
			if len(data) == 0 {
				t.Fatalf("readLog(%d, %d) made no progress before the end %d", from, step, total)
			}
			got = append(got, data...)
			from = start + int64(len(data))
		}
		if !bytes.Equal(got, written[starts[0]:]) {
			t.Fatalf("reassembled %d bytes differ from the %d kept", len(got), total-starts[0])
		}
		// Past the end: nothing, where it was asked.
		checkRead(t, dir, written, starts[0], total+7, 10)
	})
}

// Before the writer starts, a job has no output.
func TestLogEmptyDir(t *testing.T) {
	dir := t.TempDir()
	if size, err := logSize(dir); err != nil || size != 0 {
		t.Errorf("logSize of an empty dir = %d, %v; want 0", size, err)
	}
	data, start, err := readLog(dir, 5, 100)
	if err != nil || len(data) != 0 || start != 5 {
		t.Errorf("readLog of an empty dir = %q, %d, %v; want nothing at 5", data, start, err)
	}
}

// A reader racing the writer (the shipper reads while the job writes)
// never fails and never gets a wrong byte, though segments vanish under
// it: a trimmed segment is skipped for the next one.
func TestLogReadWhileTrimming(t *testing.T) {
	dir := t.TempDir()
	w, err := newLogWriter(dir, 2) // a segment per write: trimming all the time
	if err != nil {
		t.Fatal(err)
	}
	at := func(off int64) byte { return byte(off % 251) }
	const total = 5000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for off := int64(0); off < total; off++ {
			w.Write([]byte{at(off)})
		}
		w.Close()
	}()
	defer func() { <-done }() // the writer ends before the directory goes
	from := int64(0)
	for reading := true; reading; {
		select {
		case <-done:
			reading = false
		default:
		}
		data, start, err := readLog(dir, from, 8)
		if err != nil {
			t.Fatalf("readLog(%d): %v", from, err)
		}
		if start < from {
			t.Fatalf("readLog(%d) went back to %d", from, start)
		}
		for i, b := range data {
			if b != at(start+int64(i)) {
				t.Fatalf("readLog(%d): byte at %d is %d, want %d", from, start+int64(i), b, at(start+int64(i)))
			}
		}
		from = start + int64(len(data))
	}
}

package agent

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// A job's output on a node is kept in its directory as segments named
// "out.OFFSET", OFFSET being where the segment starts in the output (20
// digits, so that names sort by offset). Offsets count every byte ever
// written, so that a reader's position survives trimming: at most two
// segments of half the limit each are kept, and the oldest is removed
// when a third would start.

const segPrefix = "out."

// logWriter appends a job's output to bounded segments. It is used by one
// goroutine (the supervisor's copier).
type logWriter struct {
	dir   string
	half  int64 // a segment is closed once it holds this much
	f     *os.File
	start int64 // offset of the current segment
	n     int64 // bytes in the current segment
}

// newLogWriter starts a job's output in dir, keeping about limit bytes.
func newLogWriter(dir string, limit int64) (*logWriter, error) {
	w := &logWriter{dir: dir, half: max(limit/2, 1)}
	return w, w.open(0)
}

func (w *logWriter) open(at int64) error {
	f, err := os.OpenFile(filepath.Join(w.dir, fmt.Sprintf("%s%020d", segPrefix, at)), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	w.f, w.start, w.n = f, at, 0
	return nil
}

// Write appends p, starting a new segment (and trimming the oldest) when
// the current one is full.
func (w *logWriter) Write(p []byte) (int, error) {
	if w.n >= w.half {
		if err := w.f.Close(); err != nil {
			return 0, err
		}
		if err := w.open(w.start + w.n); err != nil {
			return 0, err
		}
		segs, err := segments(w.dir)
		if err != nil {
			return 0, err
		}
		for len(segs) > 2 {
			os.Remove(filepath.Join(w.dir, fmt.Sprintf("%s%020d", segPrefix, segs[0])))
			segs = segs[1:]
		}
	}
	n, err := w.f.Write(p)
	w.n += int64(n)
	return n, err
}

// Close closes the current segment.
func (w *logWriter) Close() error { return w.f.Close() }

// segments lists the start offsets of a directory's segments, in order.
func segments(dir string) ([]int64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, e := range ents {
		if rest, ok := strings.CutPrefix(e.Name(), segPrefix); ok {
			if v, err := strconv.ParseInt(rest, 10, 64); err == nil {
				out = append(out, v)
			}
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a] < out[b] })
	return out, nil
}

// readLog reads at most max bytes of a job's output from offset from on.
// When from was trimmed away, it reads from the oldest byte kept: start
// says where data begins.
func readLog(dir string, from int64, max int) (data []byte, start int64, err error) {
	segs, err := segments(dir)
	if err != nil || len(segs) == 0 {
		return nil, from, err
	}
	if from < segs[0] {
		from = segs[0]
	}
	start = from
	for i, s := range segs {
		if len(data) >= max {
			break
		}
		if i+1 < len(segs) && segs[i+1] <= from {
			continue
		}
		if from < s { // the segment holding from was trimmed meanwhile
			if len(data) > 0 {
				break // a gap: what follows is for the next read
			}
			from, start = s, s
		}
		f, err := os.Open(filepath.Join(dir, fmt.Sprintf("%s%020d", segPrefix, s)))
		if err != nil {
			if os.IsNotExist(err) { // trimmed meanwhile
				continue
			}
			return nil, start, err
		}
		buf := make([]byte, max-len(data))
		n, err := f.ReadAt(buf, from-s)
		f.Close()
		if err != nil && err != io.EOF {
			return nil, start, err
		}
		data = append(data, buf[:n]...)
		from += int64(n)
		if i+1 < len(segs) && from < segs[i+1] {
			break // a short segment: the writer moved on mid-read; read on later
		}
	}
	return data, start, nil
}

// logSize is the offset just past a job's output written so far.
func logSize(dir string) (int64, error) {
	segs, err := segments(dir)
	if err != nil || len(segs) == 0 {
		return 0, err
	}
	last := segs[len(segs)-1]
	fi, err := os.Stat(filepath.Join(dir, fmt.Sprintf("%s%020d", segPrefix, last)))
	if err != nil {
		return 0, err
	}
	return last + fi.Size(), nil
}

package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress draws a one-line progress bar on a terminal stream once the
// work has run for a second, at most five times a second.
type progress struct {
	w     io.Writer
	label string
	total int
	start time.Time
	last  time.Time
	drawn bool
}

func newProgress(w io.Writer, label string, total int) *progress {
	return &progress{w: w, label: label, total: total, start: time.Now()}
}

func (p *progress) update(virtual time.Duration, done, _ int) {
	t := time.Now()
	if t.Sub(p.start) < time.Second || t.Sub(p.last) < 200*time.Millisecond {
		return
	}
	p.last, p.drawn = t, true
	frac := 0.0
	if p.total > 0 {
		frac = float64(done) / float64(p.total)
	}
	n := int(frac * 30)
	fmt.Fprintf(p.w, "\r%s [%s%s] %3.0f%%  %d/%d jobs  virtual %s  ", p.label, strings.Repeat("#", n), strings.Repeat(" ", 30-n),
		100*frac, done, p.total, virtual.Truncate(time.Minute))
}

// terminal reports whether the bar's stream is a terminal; a bar written
// into a file or a pipe would only litter it.
func (p *progress) terminal() bool {
	f, ok := p.w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// clear erases the bar if it was drawn.
func (p *progress) clear() {
	if p.drawn {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", 100))
	}
}

package fleet

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors wrapped by every *Error, so callers can test the kind of a
// problem with errors.Is.
var (
	ErrSyntax         = errors.New("invalid YAML")
	ErrUnknownField   = errors.New("unknown field")
	ErrType           = errors.New("wrong type")
	ErrRequired       = errors.New("required")
	ErrRange          = errors.New("out of range")
	ErrReference      = errors.New("dangling reference")
	ErrDuplicate      = errors.New("duplicate name")
	ErrOversubscribed = errors.New("oversubscribed")
	ErrTooLarge       = errors.New("too large")
)

// Error is one problem in a fleet file, at a path such as
// regions[0].sites[1].halls[2].limit_kw and, where known, a line of the file.
type Error struct {
	Path string
	Line int // 1-based; 0 when unknown
	Msg  string
	Kind error // one of the sentinels above
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the sentinel that classifies the problem.
func (e *Error) Unwrap() error { return e.Kind }

// Errors is every problem found in a fleet file, in file order.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return fmt.Sprintf("fleet: %d problem(s):\n  %s", len(es), strings.Join(lines, "\n  "))
}

// Unwrap lets errors.Is find any of the contained problems' sentinels.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// collector gathers problems and knows the line of every decoded path.
type collector struct {
	errs  Errors
	lines map[string]int
	mute  int // >0 while decoding a template copy: its problems are reported once, at the template
}

func newCollector() *collector { return &collector{lines: map[string]int{}} }

func (c *collector) add(path string, kind error, format string, args ...any) {
	if c.mute > 0 {
		return
	}
	if len(c.errs) >= maxErrors {
		return
	}
	c.errs = append(c.errs, &Error{Path: path, Line: c.lineOf(path), Msg: fmt.Sprintf(format, args...), Kind: kind})
}

// addAt records a problem at an explicit line (used while decoding).
func (c *collector) addAt(path string, line int, kind error, format string, args ...any) {
	if c.mute > 0 || len(c.errs) >= maxErrors {
		return
	}
	c.errs = append(c.errs, &Error{Path: path, Line: line, Msg: fmt.Sprintf(format, args...), Kind: kind})
}

// lineOf returns the line of path or of its nearest decoded ancestor.
func (c *collector) lineOf(path string) int {
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := c.lines[p]; ok {
			return l
		}
	}
	return 0
}

// maxErrors bounds the report so that a huge broken file stays readable.
const maxErrors = 200

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i <= 0 {
		return ""
	}
	return p[:i]
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

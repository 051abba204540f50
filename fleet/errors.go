package fleet

import (
	"errors"
	"fmt"
	"sort"
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
	// File is the fleet file's name when it was read with Load; "" for Parse.
	File string
	Path string
	Line int // 1-based; 0 when unknown
	Msg  string
	Kind error // one of the sentinels above
}

// Error reads "FILE: line N: PATH: MSG", leaving out what is unknown.
func (e *Error) Error() string {
	if e.File == "" {
		return e.local()
	}
	return e.File + ": " + e.local()
}

// local is the problem without its file name.
func (e *Error) local() string {
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

// Error lists every problem, one a line. When they all come from one named
// file the heading names it once ("fleet: FILE: 2 problem(s):") and the
// lines leave it out.
func (es Errors) Error() string {
	file := ""
	if len(es) > 0 {
		file = es[0].File
	}
	for _, e := range es {
		if e.File != file {
			file = ""
			break
		}
	}
	lines := make([]string, len(es))
	for i, e := range es {
		if file != "" {
			lines[i] = e.local()
		} else {
			lines[i] = e.Error()
		}
	}
	head := "fleet: "
	if file != "" {
		head += file + ": "
	}
	return fmt.Sprintf("%s%d problem(s):\n  %s", head, len(es), strings.Join(lines, "\n  "))
}

// inFile names the file of every problem.
func (es Errors) inFile(name string) Errors {
	for _, e := range es {
		e.File = name
	}
	return es
}

// sorted returns the problems in file order (by line, problems without a
// line last), keeping the order of those on one line.
func (es Errors) sorted() Errors {
	sort.SliceStable(es, func(i, j int) bool {
		li, lj := es[i].Line, es[j].Line
		if li == 0 || lj == 0 {
			return li != 0 && lj == 0
		}
		return li < lj
	})
	return es
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
	// nulls are paths given as an explicit null: decoded, so they have a
	// line, but not given.
	nulls map[string]bool
	// failed are paths whose value could not be decoded; validation does
	// not report them, nor anything below them, again.
	failed map[string]bool
	mute   int // >0 while decoding a template copy: its problems are reported once, at the template
}

func newCollector() *collector {
	return &collector{lines: map[string]int{}, nulls: map[string]bool{}, failed: map[string]bool{}}
}

// add records a problem found by validation.
func (c *collector) add(path string, kind error, format string, args ...any) {
	if c.mute > 0 || c.failedAt(path) {
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

// failedAt reports whether path or one of its ancestors failed to decode.
func (c *collector) failedAt(path string) bool {
	if len(c.failed) == 0 {
		return false
	}
	for p := path; p != ""; p = parentPath(p) {
		if c.failed[p] {
			return true
		}
	}
	return false
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

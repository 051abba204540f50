// Command mutate applies each deliberate bug (mutation) listed in
// scripts/mutations.txt to a scratch copy of the repository, runs the
// tests the mutation names, and reports which mutations the suites kill
// and which survive. A surviving mutation is a bug no test would see.
//
//	go run ./scripts/mutate                 # every mutation
//	go run ./scripts/mutate -run backfill   # those whose name matches
//
// It exits 1 when a mutation survives or no longer applies (its text is
// gone from the code: update the list).
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// mutation is one deliberate bug: edits to apply and the tests to run.
type mutation struct {
	name     string
	line     int
	test     []string // go test arguments
	killedBy string   // the tests expected to fail, for the report
	// equivalent says why the mutation cannot change behaviour: it is
	// expected to survive, and the report says so
	equivalent string
	edits      []edit
}

type edit struct {
	file     string
	old, new string
}

func main() {
	list := flag.String("f", "scripts/mutations.txt", "the mutation list")
	run := flag.String("run", "", "only mutations whose name matches this regular expression")
	flag.Parse()
	muts, err := parse(*list)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		os.Exit(2)
	}
	re, err := regexp.Compile(*run)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutate: -run:", err)
		os.Exit(2)
	}
	dir, err := scratchCopy()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		os.Exit(2)
	}
	defer os.RemoveAll(dir)
	bad := 0
	fmt.Printf("%-4s  %-8s  %6s  %s\n", "LINE", "RESULT", "SECS", "MUTATION  (failing tests)")
	for _, m := range muts {
		if !re.MatchString(m.name) {
			continue
		}
		start := time.Now()
		result, failed := try(dir, m)
		if result == "survived" && m.equivalent != "" {
			result, failed = "equiv", []string{m.equivalent}
		}
		if result != "killed" && result != "equiv" {
			bad++
		}
		detail := strings.Join(failed, " ")
		if result == "survived" {
			detail = "expected: " + m.killedBy
		}
		fmt.Printf("%-4d  %-8s  %6.1f  %s  (%s)\n", m.line, result, time.Since(start).Seconds(), m.name, detail)
	}
	if bad > 0 {
		fmt.Printf("%d mutation(s) not killed\n", bad)
		os.Exit(1)
	}
}

// try applies m in dir, runs its tests and restores the files.
func try(dir string, m mutation) (result string, failed []string) {
	saved := map[string][]byte{}
	defer func() {
		for f, b := range saved {
			os.WriteFile(filepath.Join(dir, f), b, 0o644)
		}
	}()
	for _, e := range m.edits {
		path := filepath.Join(dir, e.file)
		b, err := os.ReadFile(path)
		if err != nil {
			return "error", []string{err.Error()}
		}
		if _, ok := saved[e.file]; !ok {
			saved[e.file] = b
		}
		if n := bytes.Count(b, []byte(e.old)); n != 1 {
			return "stale", []string{fmt.Sprintf("%s: the text to replace occurs %d times", e.file, n)}
		}
		b = bytes.Replace(b, []byte(e.old), []byte(e.new), 1)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return "error", []string{err.Error()}
		}
	}
	cmd := exec.Command("go", append([]string{"test", "-count=1"}, m.test...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err == nil {
		return "survived", nil
	}
	seen := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.TrimSpace(l)
		if name, ok := strings.CutPrefix(l, "--- FAIL: "); ok {
			name, _, _ = strings.Cut(name, " ")
			if !seen[name] {
				seen[name] = true
				failed = append(failed, name)
			}
		}
	}
	if len(failed) == 0 {
		// a mutation that does not compile is not a kill
		return "broken", []string{firstLines(string(out), 3)}
	}
	return "killed", failed
}

func firstLines(s string, n int) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(ls[:min(n, len(ls))], " | ")
}

// scratchCopy copies the repository's tracked files (and ../shared, which
// some tests read, by a link) to a temporary directory.
func scratchCopy() (string, error) {
	out, err := exec.Command("git", "ls-files", "-z").Output()
	if err != nil {
		return "", fmt.Errorf("git ls-files: %w", err)
	}
	tmp, err := os.MkdirTemp("", "stargate-mutate-")
	if err != nil {
		return "", err
	}
	dir := filepath.Join(tmp, "main")
	for _, f := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // deleted in the work tree
		}
		dst := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return "", err
		}
	}
	if shared, err := filepath.Abs("../shared"); err == nil {
		os.Symlink(shared, filepath.Join(tmp, "shared"))
	}
	return dir, nil
}

// parse reads the mutation list. Each mutation is
//
//	mutation: NAME
//	test: GO TEST ARGUMENTS
//	killed-by: TESTS
//	edit FILE
//	<<<
//	text to replace (exactly once in FILE)
//	===
//	replacement
//	>>>
//
// with any number of edits. A mutation that cannot change behaviour says
// why on an "equivalent: REASON" line instead of killed-by; lines starting
// with # between mutations are comments.
func parse(path string) ([]mutation, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []mutation
	var cur *mutation
	var e *edit
	state := "" // "", "old", "new"
	var buf []string
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		l := sc.Text()
		switch state {
		case "old", "new":
			switch l {
			case "===":
				if state != "old" {
					return nil, fmt.Errorf("%s:%d: === outside an edit's old text", path, n)
				}
				e.old, buf, state = strings.Join(buf, "\n"), nil, "new"
			case ">>>":
				if state != "new" {
					return nil, fmt.Errorf("%s:%d: >>> before ===", path, n)
				}
				e.new, buf, state = strings.Join(buf, "\n"), nil, ""
				cur.edits = append(cur.edits, *e)
			default:
				buf = append(buf, l)
			}
			continue
		}
		switch {
		case strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "mutation: "):
			out = append(out, mutation{name: strings.TrimPrefix(l, "mutation: "), line: n})
			cur = &out[len(out)-1]
		case cur == nil:
			return nil, fmt.Errorf("%s:%d: %q before the first mutation:", path, n, l)
		case strings.HasPrefix(l, "test: "):
			cur.test = strings.Fields(strings.TrimPrefix(l, "test: "))
		case strings.HasPrefix(l, "killed-by: "):
			cur.killedBy = strings.TrimPrefix(l, "killed-by: ")
		case strings.HasPrefix(l, "equivalent: "):
			cur.equivalent = strings.TrimPrefix(l, "equivalent: ")
		case strings.HasPrefix(l, "edit "):
			e = &edit{file: strings.TrimSpace(strings.TrimPrefix(l, "edit "))}
		case l == "<<<":
			if e == nil {
				return nil, fmt.Errorf("%s:%d: <<< without an edit line", path, n)
			}
			state, buf = "old", nil
		default:
			return nil, fmt.Errorf("%s:%d: unexpected line %q", path, n, l)
		}
	}
	if state != "" {
		return nil, fmt.Errorf("%s: unterminated edit", path)
	}
	for _, m := range out {
		if len(m.test) == 0 || len(m.edits) == 0 {
			return nil, fmt.Errorf("%s:%d: mutation %q needs a test: line and an edit", path, m.line, m.name)
		}
	}
	return out, sc.Err()
}

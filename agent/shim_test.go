package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests run real supervisors: the test binary started again with
// STARGATE_TEST_SHIM=1 is one (see TestMain), so that RunShim becomes a
// child subreaper and takes signals in a process of its own.

// shimRun is one supervisor started by a test.
type shimRun struct {
	dir  string
	cmd  *exec.Cmd
	out  bytes.Buffer // the shim's own stdout and stderr
	done chan error
}

// sh is a process running script under /bin/sh.
func sh(script string) Proc {
	return Proc{Argv: []string{"sh", "-c", script}, Env: []string{"PATH=" + os.Getenv("PATH")}}
}

// newShimDir writes spec into a fresh job directory.
func newShimDir(t *testing.T, spec ShimSpec) string {
	t.Helper()
	dir := t.TempDir()
	if spec.LogLimit == 0 {
		spec.LogLimit = 1 << 20
	}
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, specFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startShim starts a supervisor on dir.
func startShim(t *testing.T, dir string) *shimRun {
	t.Helper()
	s := &shimRun{dir: dir, done: make(chan error, 1)}
	s.cmd = exec.Command(os.Args[0], dir)
	s.cmd.Env = append(os.Environ(), "STARGATE_TEST_SHIM=1")
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default: // a failed test left it running: take everything down
			for _, pid := range descendants(s.cmd.Process.Pid) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			s.cmd.Process.Kill()
			<-s.done
		}
	})
	return s
}

// wait waits for the supervisor to return, at most limit.
func (s *shimRun) wait(t *testing.T, limit time.Duration) error {
	t.Helper()
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		return err
	case <-time.After(limit):
		t.Fatalf("the shim did not end within %v; it said: %s", limit, s.out.String())
		return nil
	}
}

// runShim runs a supervisor on spec to its end and returns the directory
// and the status it recorded.
func runShim(t *testing.T, spec ShimSpec) (string, ShimStatus) {
	t.Helper()
	dir := newShimDir(t, spec)
	s := startShim(t, dir)
	if err := s.wait(t, 10*time.Second); err != nil {
		t.Fatalf("shim: %v: %s", err, s.out.String())
	}
	return dir, readStatus(t, dir)
}

func readStatus(t *testing.T, dir string) ShimStatus {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, statusFile))
	if err != nil {
		t.Fatalf("no status: %v", err)
	}
	var st ShimStatus
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("status %q: %v", b, err)
	}
	return st
}

// waitFile waits for a file the job writes in its working directory and
// returns its content.
func waitFile(t *testing.T, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, workDir, name)
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return strings.TrimSpace(string(b))
		}
		if time.Now().After(end) {
			t.Fatalf("the job never wrote %s", name)
		}
	}
}

// pidIn reads a process ID the job wrote.
func pidIn(t *testing.T, dir, name string) int {
	t.Helper()
	s := waitFile(t, dir, name)
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 1 {
		t.Fatalf("%s holds %q, not a process ID", name, s)
	}
	return pid
}

// alive says whether pid is a live process: absent or a zombie is gone.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X'
}

// output is everything the job wrote, as kept in its segments.
func output(t *testing.T, dir string) string {
	t.Helper()
	b, _, err := readLog(dir, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestShimSucceeds(t *testing.T) {
	t.Parallel()
	dir, st := runShim(t, ShimSpec{Job: "j", Attempt: 1, GraceS: 5, Procs: []Proc{
		sh("echo to-stdout; echo to-stderr >&2; pwd"),
	}})
	if !st.Succeeded || st.ExitCode != 0 || st.Stopped || st.Message != "exit code 0" {
		t.Errorf("status %+v, want succeeded with exit code 0", st)
	}
	out := output(t, dir)
	for _, want := range []string{"to-stdout\n", "to-stderr\n", filepath.Join(dir, workDir) + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
	for _, f := range []string{pidFile, startedFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("no %s: %v", f, err)
		}
	}
}

func TestShimExitCode(t *testing.T) {
	t.Parallel()
	_, st := runShim(t, ShimSpec{GraceS: 5, Procs: []Proc{sh("exit 3")}})
	if st.Succeeded || st.Stopped || st.ExitCode != 3 || st.Message != "exit code 3" || st.Signal != "" {
		t.Errorf("status %+v, want exit code 3", st)
	}
}

// Output goes to the segments even when it is far more than the limit,
// and the tail is what stays. The copier writes what it reads from the
// pipe whole (up to io.Copy's 32 KiB), so a segment may pass half the
// limit by that much.
func TestShimOutputBounded(t *testing.T) {
	t.Parallel()
	const lines, limit, chunk = 20000, 4096, 32 << 10
	dir, st := runShim(t, ShimSpec{GraceS: 5, LogLimit: limit, Procs: []Proc{
		sh(`i=0; while [ $i -lt ` + strconv.Itoa(lines) + ` ]; do echo "line $i"; i=$((i+1)); done`),
	}})
	if !st.Succeeded {
		t.Fatalf("status %+v", st)
	}
	var all strings.Builder
	for i := range lines {
		all.WriteString("line " + strconv.Itoa(i) + "\n")
	}
	size, err := logSize(dir)
	if err != nil || size != int64(all.Len()) {
		t.Errorf("logSize = %d, %v; want %d", size, err, all.Len())
	}
	data, start, err := readLog(dir, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > limit+2*chunk || string(data) != all.String()[start:] {
		t.Errorf("kept %d bytes from %d, want at most about %d bytes, the tail of %d", len(data), start, limit, all.Len())
	}
}

// One process of a job fails: the others are stopped at once (well
// before a long grace period), and the job fails with its exit code.
func TestShimOneFailsOthersStop(t *testing.T) {
	t.Parallel()
	start := time.Now()
	dir, st := runShim(t, ShimSpec{GraceS: 30, Procs: []Proc{
		sh("echo $$ > p0.tmp && mv p0.tmp p0.pid; exec sleep 100"),
		sh("while [ ! -s p0.pid ]; do sleep 0.01; done; exit 1"),
	}})
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("the job took %v to end", took)
	}
	if st.Succeeded || st.Stopped || st.ExitCode != 1 || st.Message != "exit code 1" {
		t.Errorf("status %+v, want exit code 1", st)
	}
	if pid := pidIn(t, dir, "p0.pid"); alive(pid) {
		t.Errorf("the other process %d outlived the job", pid)
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// SIGTERM to the shim reaches the job, which may end on its own terms.
func TestShimStopTermTrapped(t *testing.T) {
	t.Parallel()
	dir := newShimDir(t, ShimSpec{GraceS: 30, Procs: []Proc{
		// ready once the sleep runs: one forked while the shim sends
		// SIGTERM would miss it and last the grace period.
		sh("trap 'echo bye > got-term; exit 0' TERM; sleep 100 & echo ready > ready; wait"),
	}})
	s := startShim(t, dir)
	waitFile(t, dir, "ready")
	start := time.Now()
	s.cmd.Process.Signal(syscall.SIGTERM)
	if err := s.wait(t, 8*time.Second); err != nil {
		t.Fatalf("shim: %v: %s", err, s.out.String())
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("stopping took %v, with a job that ends on TERM", took)
	}
	if got := waitFile(t, dir, "got-term"); got != "bye" {
		t.Errorf("the trap wrote %q", got)
	}
	st := readStatus(t, dir)
	if !st.Stopped || st.Succeeded || st.Message != "stopped" {
		t.Errorf("status %+v, want stopped", st)
	}
}

// A job that ignores SIGTERM is killed once the grace period is over.
func TestShimStopKillsAfterGrace(t *testing.T) {
	t.Parallel()
	dir := newShimDir(t, ShimSpec{GraceS: 1, Procs: []Proc{
		sh("trap '' TERM; echo $$ > ready; exec sleep 100"),
	}})
	s := startShim(t, dir)
	pid := pidIn(t, dir, "ready")
	start := time.Now()
	s.cmd.Process.Signal(syscall.SIGTERM)
	if err := s.wait(t, 8*time.Second); err != nil {
		t.Fatalf("shim: %v: %s", err, s.out.String())
	}
	took := time.Since(start)
	if took < 900*time.Millisecond || took > 5*time.Second {
		t.Errorf("stopping took %v, want about the grace period of 1s", took)
	}
	st := readStatus(t, dir)
	if !st.Stopped || st.Succeeded || st.Signal != "SIGKILL" || st.ExitCode != -1 {
		t.Errorf("status %+v, want stopped, killed by SIGKILL", st)
	}
	if alive(pid) {
		t.Errorf("process %d outlived the job", pid)
	}
}

// escape starts two processes that leave the job's tree: one in a
// session of its own, one double-forked; both ignore SIGTERM. They write
// their IDs to gc1.pid and gc2.pid before the script goes on.
const escape = `setsid sh -c 'trap "" TERM; echo $$ > gc1.tmp; mv gc1.tmp gc1.pid; exec sleep 1000' &
( trap '' TERM; sleep 1000 & echo $! > gc2.tmp; mv gc2.tmp gc2.pid ) &
while [ ! -s gc1.pid ] || [ ! -s gc2.pid ]; do sleep 0.01; done
`

// killEscapees takes down, when a test fails, what escape started and the
// shim under test did not.
func killEscapees(t *testing.T, dir string) {
	t.Cleanup(func() {
		for _, f := range []string{"gc1.pid", "gc2.pid"} {
			b, _ := os.ReadFile(filepath.Join(dir, workDir, f))
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 && alive(pid) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
}

func checkEscapeesGone(t *testing.T, dir string) {
	t.Helper()
	for _, f := range []string{"gc1.pid", "gc2.pid"} {
		if pid := pidIn(t, dir, f); alive(pid) {
			t.Errorf("%s: process %d outlived the job", f, pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// The job's main process ends well, leaving processes behind: they go
// with it, and the job still succeeds.
func TestShimReapsEscapeesOnExit(t *testing.T) {
	t.Parallel()
	dir := newShimDir(t, ShimSpec{GraceS: 30, Procs: []Proc{sh(escape + "exit 0")}})
	killEscapees(t, dir)
	start := time.Now()
	s := startShim(t, dir)
	if err := s.wait(t, 10*time.Second); err != nil {
		t.Fatalf("shim: %v: %s", err, s.out.String())
	}
	st := readStatus(t, dir)
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("the job took %v to end", took)
	}
	if !st.Succeeded || st.ExitCode != 0 {
		t.Errorf("status %+v, want succeeded", st)
	}
	checkEscapeesGone(t, dir)
}

// The job is stopped: the processes that left its tree go too, killed
// after the grace period since they ignore SIGTERM.
func TestShimReapsEscapeesOnStop(t *testing.T) {
	t.Parallel()
	dir := newShimDir(t, ShimSpec{GraceS: 1, Procs: []Proc{sh(escape + "echo ready > ready; sleep 100")}})
	killEscapees(t, dir)
	s := startShim(t, dir)
	waitFile(t, dir, "ready")
	s.cmd.Process.Signal(syscall.SIGTERM)
	if err := s.wait(t, 8*time.Second); err != nil {
		t.Fatalf("shim: %v: %s", err, s.out.String())
	}
	if st := readStatus(t, dir); !st.Stopped || st.Succeeded {
		t.Errorf("status %+v, want stopped", st)
	}
	checkEscapeesGone(t, dir)
}

// A job runs at most once per directory: not while a shim supervises
// it, not after it ended, not after its shim died mid-way.
func TestShimNeverRunsTwice(t *testing.T) {
	t.Parallel()
	count := func(dir string) int {
		b, _ := os.ReadFile(filepath.Join(dir, "count"))
		return strings.Count(string(b), "run\n")
	}
	spec := ShimSpec{GraceS: 5, Procs: []Proc{sh("echo run >> ../count; while [ ! -e ../go ]; do sleep 0.01; done")}}
	dir := newShimDir(t, spec)
	first := startShim(t, dir)
	for end := time.Now().Add(10 * time.Second); count(dir) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the job never ran")
		}
	}
	// A second shim while the first holds the directory refuses.
	second := startShim(t, dir)
	if err := second.wait(t, 5*time.Second); err == nil {
		t.Errorf("a second shim on a supervised directory succeeded: %s", second.out.String())
	}
	os.WriteFile(filepath.Join(dir, "go"), nil, 0o600)
	if err := first.wait(t, 10*time.Second); err != nil {
		t.Fatalf("shim: %v: %s", err, first.out.String())
	}
	before, err := os.ReadFile(filepath.Join(dir, statusFile))
	if err != nil {
		t.Fatal(err)
	}
	// After the end: nothing runs, the status stays.
	if err := startShim(t, dir).wait(t, 5*time.Second); err != nil {
		t.Errorf("a shim on an ended job: %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, statusFile))
	if n := count(dir); n != 1 {
		t.Errorf("the job ran %d times", n)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("status changed from %s to %s", before, after)
	}

	// A shim that started the job and vanished: the next one says so and
	// does not run it again.
	dir = newShimDir(t, spec)
	os.WriteFile(filepath.Join(dir, startedFile), nil, 0o600)
	if err := startShim(t, dir).wait(t, 5*time.Second); err != nil {
		t.Errorf("shim: %v", err)
	}
	if n := count(dir); n != 0 {
		t.Errorf("a job whose supervisor died ran again (%d)", n)
	}
	if st := readStatus(t, dir); st.Succeeded || st.ExitCode != -1 || !strings.Contains(st.Message, "supervisor died") {
		t.Errorf("status %+v, want a failure that says its supervisor died", st)
	}
}

func TestShimCommandNotFound(t *testing.T) {
	t.Parallel()
	const name = "stargate-no-such-command"
	dir, st := runShim(t, ShimSpec{GraceS: 5, Procs: []Proc{{Argv: []string{name, "x"}, Env: []string{"PATH=/usr/bin:/bin"}}}})
	if st.Succeeded || st.ExitCode != 127 || !strings.Contains(st.Message, name) {
		t.Errorf("status %+v, want exit 127 naming %s", st, name)
	}
	if out := output(t, dir); !strings.Contains(out, name) {
		t.Errorf("output %q does not say what could not start", out)
	}

	// The second of two cannot start: the first, already running, is
	// stopped (well before its grace period), and 127 stays the reason.
	start := time.Now()
	_, st = runShim(t, ShimSpec{GraceS: 30, Procs: []Proc{sh("exec sleep 100"), {Argv: []string{name}}}})
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("the job took %v to end", took)
	}
	if st.Succeeded || st.ExitCode != 127 || !strings.Contains(st.Message, name) {
		t.Errorf("status %+v, want exit 127 naming %s", st, name)
	}

	// The first cannot start: the rest are not even tried.
	dir, st = runShim(t, ShimSpec{GraceS: 5, Procs: []Proc{{Argv: []string{name}}, sh("echo ran > ran"), {Argv: []string{name + "-too"}}}})
	if st.ExitCode != 127 || !strings.Contains(st.Message, name) || strings.Contains(st.Message, name+"-too") {
		t.Errorf("status %+v, want exit 127 naming the first", st)
	}
	if out := output(t, dir); strings.Contains(out, name+"-too") {
		t.Errorf("output %q: the third process was tried", out)
	}
	if _, err := os.Stat(filepath.Join(dir, workDir, "ran")); err == nil {
		t.Error("a process started after another of its job could not")
	}
}

func TestShimBadSpec(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, specFile), []byte("{"), 0o600)
	if err := startShim(t, dir).wait(t, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if st := readStatus(t, dir); st.Succeeded || st.ExitCode != -1 || !strings.HasPrefix(st.Message, "bad spec") {
		t.Errorf("status %+v, want a bad spec", st)
	}
	if _, err := os.Stat(filepath.Join(dir, startedFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a bad spec was marked started: %v", err)
	}
}

func TestLookPath(t *testing.T) {
	bin := t.TempDir()
	os.WriteFile(filepath.Join(bin, "tool"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(bin, "data"), nil, 0o644)
	os.Mkdir(filepath.Join(bin, "dir"), 0o755)
	env := []string{"HOME=/x", "PATH=/nonexistent:" + bin}
	if p, err := lookPath("tool", env); err != nil || p != filepath.Join(bin, "tool") {
		t.Errorf("lookPath(tool) = %q, %v", p, err)
	}
	for _, name := range []string{"data", "dir", "absent"} {
		if p, err := lookPath(name, env); err == nil {
			t.Errorf("lookPath(%s) = %q, want not found", name, p)
		}
	}
	if p, err := lookPath("./rel/x", env); err != nil || p != "./rel/x" {
		t.Errorf("lookPath(./rel/x) = %q, %v; a path is taken as given", p, err)
	}
	// Without PATH, the usual directories.
	if p, err := lookPath("sh", []string{"HOME=/x"}); err != nil || !strings.HasSuffix(p, "/sh") {
		t.Errorf("lookPath(sh) without PATH = %q, %v", p, err)
	}
}

// descendants finds processes however deep below, and only those.
func TestDescendants(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command("sh", "-c", "sh -c 'sleep 30 & echo $! > grand.tmp; mv grand.tmp grand.pid; wait' & wait")
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var grand int
	for end := time.Now().Add(5 * time.Second); grand == 0; time.Sleep(5 * time.Millisecond) {
		b, _ := os.ReadFile(filepath.Join(dir, "grand.pid"))
		grand, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		if time.Now().After(end) {
			t.Fatal("no grandchild")
		}
	}
	defer syscall.Kill(grand, syscall.SIGKILL)
	mine := descendants(os.Getpid())
	if !slices.Contains(mine, cmd.Process.Pid) || !slices.Contains(mine, grand) {
		t.Errorf("descendants(self) = %v, want %d and %d among them", mine, cmd.Process.Pid, grand)
	}
	below := descendants(cmd.Process.Pid)
	if len(below) != 2 || !slices.Contains(below, grand) || slices.Contains(below, cmd.Process.Pid) {
		t.Errorf("descendants(%d) = %v, want its child and %d", cmd.Process.Pid, below, grand)
	}
}

// A job past its time limit is stopped as on a stop request, and its
// status says the limit was reached.
func TestShimTimeLimit(t *testing.T) {
	t.Parallel()
	start := time.Now()
	dir, st := runShim(t, ShimSpec{TimeLimitS: 1, GraceS: 5, Procs: []Proc{
		sh("trap 'echo stopped; exit 0' TERM; while :; do sleep 0.05; done"),
	}})
	took := time.Since(start)
	if !st.TimedOut || st.Succeeded || st.Stopped || !strings.Contains(st.Message, "time limit of 1 s") {
		t.Errorf("status %+v, want timed out", st)
	}
	if took < time.Second || took > 5*time.Second {
		t.Errorf("took %v, want about the 1 s limit", took)
	}
	if out := output(t, dir); !strings.Contains(out, "stopped") {
		t.Errorf("the job's trap did not run: %q", out)
	}
}

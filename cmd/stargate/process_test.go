package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// child is a stargate command running as a real child process.
type child struct {
	cmd  *exec.Cmd
	done chan struct{}
	log  *strings.Builder
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *child) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// serverProc is a `stargate server` running as a real child process.
type serverProc struct {
	child
	url string
}

// startServer starts this test binary as `stargate server ARGS` and waits
// until it serves; it is killed at the end of the test if still running.
func startServer(t *testing.T, args ...string) *serverProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"server", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "STARGATE_RUN_MAIN=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &serverProc{child: child{cmd: cmd, done: make(chan struct{}), log: &strings.Builder{}}}
	cmd.Stderr = p.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "serving "); ok {
				urls <- strings.Fields(rest)[0]
			}
		}
	}()
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill() })
	select {
	case p.url = <-urls:
	case <-p.done:
		t.Fatalf("server exited before serving: %s", p.log)
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not start: %s", p.log)
	}
	return p
}

func readToken(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// Two servers never share a data directory.
func TestDataDirectoryLocked(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	dir := t.TempDir()
	startServer(t, "--data", dir)
	cmd := exec.Command(os.Args[0], "server", "--data", dir, "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "STARGATE_RUN_MAIN=1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use by another stargate server") {
		t.Errorf("second server on the same directory: %v, %s", err, out)
	}
}

// A memory limit that is no size is refused before anything starts.
func TestServerMemoryLimitRefused(t *testing.T) {
	for _, bad := range []string{"3GB", "lots", "1MiB"} {
		_, stderr, code := stargate(t, "server", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--memory-limit", bad)
		if code == 0 || !strings.Contains(stderr, "--memory-limit") {
			t.Errorf("--memory-limit %s: exit %d, %s", bad, code, stderr)
		}
	}
}

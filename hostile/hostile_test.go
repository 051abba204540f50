package hostile

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"stargate/internal/pgtest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"stargate/api"
	"stargate/client"
)

// stargateBin is the binary the suite starts, built once by TestMain.
var stargateBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stargate-hostile")
	if err != nil {
		panic(err)
	}
	stargateBin = filepath.Join(dir, "stargate")
	if out, err := exec.Command("go", "build", "-o", stargateBin, "stargate/cmd/stargate").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "hostile: go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a `stargate server` process under attack.
type server struct {
	url, admin string
	cmd        *exec.Cmd
	mu         sync.Mutex
	log        strings.Builder
}

func (s *server) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.Write(p)
}

// logText is what the server wrote to stderr so far.
func (s *server) logText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// rssMiB reads the server's resident memory.
func (s *server) rssMiB(t *testing.T) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// start runs a server on a store ("" for SQLite in a temporary data
// directory) with extra flags, and waits until it serves.
func start(t testing.TB, storeDSN string, flags ...string) *server {
	t.Helper()
	data := t.TempDir()
	for i, f := range flags {
		if f == "--data" && i+1 < len(flags) {
			data = flags[i+1] // the caller's: the later flag wins
		}
	}
	args := append([]string{"server", "--listen", "127.0.0.1:0", "--data", data, "--example", "small"}, flags...)
	if storeDSN != "" {
		args = append(args, "--store", storeDSN)
	}
	s := &server{cmd: exec.Command(stargateBin, args...)}
	stdout, _ := s.cmd.StdoutPipe()
	s.cmd.Stderr = s
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.cmd.Process.Kill(); s.cmd.Wait() })
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "serving "); ok {
				urls <- strings.Fields(rest)[0]
			}
		}
	}()
	select {
	case s.url = <-urls:
	case <-time.After(30 * time.Second):
		t.Fatalf("the server did not start: %s", s.logText())
	}
	b, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	s.admin = strings.TrimSpace(string(b))
	return s
}

// do sends a raw request and returns its status and body.
func do(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// stores runs a row against SQLite and, when the suite has one, PostgreSQL.
func stores(t *testing.T, row func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { row(t, "") })
	t.Run("postgres", func(t *testing.T) { row(t, pgtest.Schema(t)) })
}

const (
	n1 = "lab/hall-a/row-1/rack-1/n1"
	n2 = "lab/hall-a/row-1/rack-1/n2"
)

// register registers nodes with a join token and returns their credentials.
func register(t *testing.T, s *server, names ...string) (join string, creds map[string]string) {
	t.Helper()
	c := client.New(s.url, s.admin)
	tok, err := c.CreateToken(context.Background(), api.TokenRequest{Role: "agent", Name: "hostile"})
	if err != nil {
		t.Fatal(err)
	}
	creds = map[string]string{}
	for _, n := range names {
		reg, err := client.New(s.url, tok.Secret).Register(context.Background(), api.NodeRegistration{Name: n})
		if err != nil {
			t.Fatal(err)
		}
		creds[n] = reg.Credential
	}
	return tok.Secret, creds
}

package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"stargate/store"
)

// With --run-as, a job's processes run as that user, in a working
// directory that user owns and reaches.
func TestRunnerRunsAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("running jobs as another user needs root (CI runs as root)")
	}
	u, err := lookupUser("nobody")
	if err != nil {
		t.Skipf("no user nobody here: %v", err)
	}
	t.Setenv("STARGATE_TEST_SHIM", "1")
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o711) // the test's own directory, made 0700
	r, err := NewProcessRunner(dir, []string{os.Args[0]}, 1<<20, "nobody")
	if err != nil {
		t.Fatal(err)
	}
	j := store.Job{ID: "jrunas", Attempts: 1, Spec: store.JobSpec{Command: []string{"sh", "-c", "id -u; id -g; touch mine"}},
		Placement: []store.Allocation{{Node: "n", Accelerators: []int{0}}}}
	p, _ := Locate(j, "n", nil, "nvidia")
	procs, err := Procs(p, baseEnv("nobody"))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(p, procs, 5); err != nil {
		t.Fatal(err)
	}
	var st *ShimStatus
	for end := time.Now().Add(10 * time.Second); st == nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the job did not end")
		}
		if as := r.Attempts(); len(as) == 1 {
			st = as[0].Ended
		}
	}
	attempt := r.attemptDir(j.ID, 1)
	if !st.Succeeded {
		b, _ := os.ReadFile(filepath.Join(attempt, "shim.log"))
		t.Fatalf("status %+v; shim: %s", st, b)
	}
	out, _, err := readLog(attempt, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%d\n%d\n", u.uid, u.gid)
	if string(out) != want {
		t.Errorf("the job said %q, want uid and gid %q", out, want)
	}
	fi, err := os.Stat(filepath.Join(attempt, workDir, "mine"))
	if err != nil {
		t.Fatal(err)
	}
	if s := fi.Sys().(*syscall.Stat_t); s.Uid != u.uid {
		t.Errorf("the job's file belongs to %d, want %d", s.Uid, u.uid)
	}
	if b, err := os.ReadFile(filepath.Join(attempt, specFile)); err != nil || !strings.Contains(string(b), `"run_as":true`) {
		t.Errorf("spec %s: %v", b, err)
	}
}

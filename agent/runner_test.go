package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
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

// startJob starts a one-node attempt of a command under r.
func startJob(t *testing.T, r *ProcessRunner, id string, script string) {
	t.Helper()
	j := store.Job{ID: id, Attempts: 1, Spec: store.JobSpec{Command: []string{"sh", "-c", script}},
		Placement: []store.Allocation{{Node: "n", Accelerators: []int{0}}}}
	p, _ := Locate(j, "n", nil, "nvidia")
	procs, err := Procs(p, baseEnv(""))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(p, procs, 1); err != nil {
		t.Fatal(err)
	}
}

// waitEnded waits until every attempt of r ended and returns them.
func waitEnded(t *testing.T, r *ProcessRunner, n int) []Attempt {
	t.Helper()
	for end := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		as := r.Attempts()
		done := 0
		for _, a := range as {
			if a.Ended != nil {
				done++
			}
		}
		if len(as) == n && done == n {
			return as
		}
		if time.Now().After(end) {
			t.Fatalf("%d of %d attempts ended", done, n)
		}
	}
}

// Asking after attempts, and whether their supervisors live, while they
// start and end makes none of them fail to start or end wrongly: the
// liveness test does not take the supervisor's lock.
func TestRunnerAttemptsWhileSupervisorsRun(t *testing.T) {
	t.Setenv("STARGATE_TEST_SHIM", "1")
	r, err := NewProcessRunner(t.TempDir(), []string{os.Args[0]}, 1<<20, "")
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	asked := make(chan struct{})
	go func() {
		defer close(asked)
		for {
			select {
			case <-stop:
				return
			default: // what the heartbeat, Stop and the shipper ask
				for _, a := range r.Attempts() {
					locked(r.attemptDir(a.Job, a.Attempt))
				}
			}
		}
	}()
	const n = 60
	for i := range n {
		startJob(t, r, fmt.Sprintf("j%02d", i), "exit 0")
	}
	as := waitEnded(t, r, n)
	close(stop)
	<-asked
	for _, a := range as {
		if !a.Ended.Succeeded {
			t.Errorf("%s ended %+v, want succeeded", a.Job, *a.Ended)
		}
	}
}

// A supervisor killed while its job runs is found by Recover: the next
// supervisor records the death and ends the job's processes.
func TestRunnerRecoversFromADeadSupervisor(t *testing.T) {
	t.Setenv("STARGATE_TEST_SHIM", "1")
	r, err := NewProcessRunner(t.TempDir(), []string{os.Args[0]}, 1<<20, "")
	if err != nil {
		t.Fatal(err)
	}
	startJob(t, r, "jdead", "echo $$ > main.pid; exec sleep 1000")
	dir := r.attemptDir("jdead", 1)
	pidOf := func(name string) int {
		for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && perr == nil {
				return pid
			}
			if time.Now().After(end) {
				t.Fatalf("no %s", name)
			}
		}
	}
	job := pidOf(filepath.Join(workDir, "main.pid"))
	shim := pidOf(pidFile)
	t.Cleanup(func() { syscall.Kill(job, syscall.SIGKILL) })
	syscall.Kill(shim, syscall.SIGKILL)
	for locked(dir) {
		time.Sleep(10 * time.Millisecond)
	}
	if as := r.Attempts(); as[0].Ended != nil {
		t.Fatalf("an outcome made up before a supervisor said it: %+v", *as[0].Ended)
	}
	r.Recover(0)
	as := waitEnded(t, r, 1)
	if as[0].Ended.Succeeded || !strings.Contains(as[0].Ended.Message, "supervisor died") {
		t.Errorf("ended %+v, want the supervisor's death", *as[0].Ended)
	}
	if _, err := cgroupDir("probe"); err == nil && exists(filepath.Join(dir, cgroupFile)) {
		for end := time.Now().Add(5 * time.Second); alive(job); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatal("the dead supervisor's job still runs")
			}
		}
	}
}

// A directory left without meta.json (the agent died before starting
// anything there) does not block its attempt.
func TestRunnerStartsOverALeftDirectory(t *testing.T) {
	t.Setenv("STARGATE_TEST_SHIM", "1")
	r, err := NewProcessRunner(t.TempDir(), []string{os.Args[0]}, 1<<20, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(r.attemptDir("jleft", 1), 0o700); err != nil {
		t.Fatal(err)
	}
	startJob(t, r, "jleft", "exit 0")
	if as := waitEnded(t, r, 1); !as[0].Ended.Succeeded {
		t.Errorf("ended %+v", *as[0].Ended)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

package agent

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// needCgroup skips a test where this machine gives no writable cgroup v2
// (the subreaper alone is tested by the other supervisor tests).
func needCgroup(t *testing.T) {
	t.Helper()
	cg, err := newCgroup(fmt.Sprintf("probe-%d", os.Getpid()))
	if err != nil {
		t.Skipf("no writable cgroup v2 here (%v); run as root on a cgroup v2 host to test it", err)
	}
	cg.remove()
}

// Where the node has cgroup v2, a job's processes run in a cgroup of
// their own, removed when the job ends.
func TestShimRunsJobInItsCgroup(t *testing.T) {
	needCgroup(t)
	job := fmt.Sprintf("cgjob%d", time.Now().UnixNano())
	dir, st := runShim(t, ShimSpec{Job: job, Attempt: 1, Procs: []Proc{sh(`cat /proc/self/cgroup > cg.txt`)}})
	if !st.Succeeded {
		t.Fatalf("status %+v", st)
	}
	b, err := os.ReadFile(filepath.Join(dir, workDir, "cg.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "/stargate-"+job+".1\n") {
		t.Errorf("the job ran in %q, not its own cgroup", b)
	}
	if cg, err := cgroupDir(job + ".1"); err != nil {
		t.Fatal(err)
	} else if _, err := os.Stat(cg); !os.IsNotExist(err) {
		t.Errorf("the job's cgroup %s is left behind: %v", cg, err)
	}
}

// A supervisor that died leaves its job's processes in their cgroup; the
// next one records the death and ends them.
func TestShimEndsWhatADeadSupervisorLeft(t *testing.T) {
	needCgroup(t)
	job := fmt.Sprintf("dead%d", time.Now().UnixNano())
	dir := newShimDir(t, ShimSpec{Job: job, Attempt: 2, Procs: []Proc{sh("exit 0")}})
	if err := os.WriteFile(filepath.Join(dir, startedFile), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cg, err := newCgroup(job + ".2")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, cgroupFile), []byte(cg.dir+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A process the dead supervisor left: in the cgroup, in its own session.
	orphan := exec.Command("sleep", "1000")
	orphan.SysProcAttr = &syscall.SysProcAttr{Setsid: true, UseCgroupFD: true, CgroupFD: int(cg.fd.Fd())}
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { orphan.Wait(); close(exited) }()
	t.Cleanup(func() { orphan.Process.Kill(); <-exited; cg.remove() })

	s := startShim(t, dir)
	if err := s.wait(t, 10*time.Second); err != nil {
		t.Fatalf("shim: %v: %s", err, s.out.String())
	}
	st := readStatus(t, dir)
	if st.Succeeded || !strings.Contains(st.Message, "supervisor died") {
		t.Errorf("status %+v, want the supervisor's death", st)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("the dead supervisor's process still runs")
	}
	if _, err := os.Stat(cg.dir); !os.IsNotExist(err) {
		t.Errorf("its cgroup is left: %v", err)
	}
}

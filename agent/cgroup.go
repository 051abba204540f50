package agent

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Where the node has cgroup v2, each job attempt's processes are started
// inside a cgroup of their own, below the supervisor's: they cannot leave
// it, so stopping the job is one write to cgroup.kill (or a signal to
// every process listed in cgroup.procs on kernels without it), whatever
// the processes did to their sessions and parents. Without cgroup v2 (or
// without the right to make a cgroup), the supervisor's child subreaper
// finds them instead.

// cgroup is a job attempt's cgroup v2 directory.
type cgroup struct {
	dir string
	fd  *os.File // the directory, for clone3 into it (SysProcAttr.CgroupFD)
}

// newCgroup makes the cgroup "stargate-NAME" below the calling process's
// own cgroup v2, or says why it cannot. One that exists already is not
// taken: it is another supervisor's.
func newCgroup(name string) (*cgroup, error) {
	dir, err := cgroupDir(name)
	if err != nil {
		return nil, err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	return openCgroup(dir)
}

// cgroupDir is where the cgroup "stargate-NAME" is, below this process's.
func cgroupDir(name string) (string, error) {
	mount, err := cgroup2Mount()
	if err != nil {
		return "", err
	}
	self, err := ownCgroup()
	if err != nil {
		return "", err
	}
	return filepath.Join(mount, self, "stargate-"+name), nil
}

func openCgroup(dir string) (*cgroup, error) {
	fd, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	return &cgroup{dir: dir, fd: fd}, nil
}

// cgroup2Mount finds where the cgroup v2 hierarchy is mounted.
func cgroup2Mount() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("cgroup: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ... mount-point options - fstype source super-options
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		if fs := strings.Fields(post); len(fs) > 0 && fs[0] == "cgroup2" {
			if f := strings.Fields(pre); len(f) >= 5 {
				return f[4], nil
			}
		}
	}
	return "", errors.New("cgroup: no cgroup v2 hierarchy is mounted")
}

// ownCgroup is this process's cgroup v2 path ("0::PATH").
func ownCgroup() (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", fmt.Errorf("cgroup: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return p, nil
		}
	}
	return "", errors.New("cgroup: this process is in no cgroup v2")
}

// procs lists the processes in the cgroup.
func (c *cgroup) procs() []int {
	b, err := os.ReadFile(filepath.Join(c.dir, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// signal sends sig to every process in the cgroup; SIGKILL goes through
// cgroup.kill where the kernel has it (5.14 and later), which also
// catches processes forked meanwhile.
func (c *cgroup) signal(sig syscall.Signal) {
	if sig == syscall.SIGKILL {
		if os.WriteFile(filepath.Join(c.dir, "cgroup.kill"), []byte("1"), 0) == nil {
			return
		}
	}
	for _, pid := range c.procs() {
		syscall.Kill(pid, sig)
	}
}

// remove deletes the cgroup once it is empty.
func (c *cgroup) remove() {
	c.fd.Close()
	os.Remove(c.dir)
}

package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A job's processes on a node are run by a supervisor (the shim): a small
// process of its own, started by the agent in a session of its own, that
// outlives the agent. It starts the processes, keeps their output, stops
// them when asked (SIGTERM, a grace period, SIGKILL), and records how they
// ended in its directory, where an agent (this one, or the next after a
// restart) reads it. As a child subreaper it inherits every process the
// job leaves behind, including those that called setsid or double-forked,
// so that none survives the job.
//
// The directory of one attempt of a job on a node holds:
//
//	spec.json    what to run (ShimSpec), written by the agent before the shim starts
//	lock         held by the shim while it lives (an open file description
//	             lock, which the agent can test without taking it)
//	pid          the shim's process ID
//	started      written once the shim holds the lock, before any process starts
//	cgroup       the path of the job's cgroup v2, where the node has one
//	out.*        the output, bounded (see logfile.go)
//	status.json  how the processes ended (ShimStatus), written last, atomically
//	work/        the processes' working directory
const (
	specFile    = "spec.json"
	lockFile    = "lock"
	pidFile     = "pid"
	startedFile = "started"
	statusFile  = "status.json"
	cgroupFile  = "cgroup"
	workDir     = "work"
)

// ShimSpec is what a supervisor runs.
type ShimSpec struct {
	Job     string `json:"job"`
	Attempt int    `json:"attempt"`
	Procs   []Proc `json:"procs"`
	// GraceS is the time between SIGTERM and SIGKILL when the job is
	// stopped, or when one of its processes failed and the others must go.
	GraceS int64 `json:"grace_s"`
	// LogLimit bounds the output kept, in bytes.
	LogLimit int64 `json:"log_limit"`
	// TimeLimitS, when positive, is how long the processes may run
	// before they are stopped as on a stop request.
	TimeLimitS int64 `json:"time_limit_s,omitempty"`
	// UID and GID, when RunAs, are the user the processes run as.
	RunAs bool     `json:"run_as,omitempty"`
	UID   uint32   `json:"uid,omitempty"`
	GID   uint32   `json:"gid,omitempty"`
	Extra []uint32 `json:"groups,omitempty"`
}

// ShimStatus is how a job's processes on a node ended.
type ShimStatus struct {
	// Succeeded is true when every process exited 0 and the job was not
	// stopped.
	Succeeded bool `json:"succeeded"`
	// ExitCode is the first non-zero exit code (-1: killed by a signal).
	ExitCode int    `json:"exit_code"`
	Signal   string `json:"signal,omitempty"`
	// Stopped is true when the agent stopped the job (cancel, preemption,
	// or the server no longer assigns it here).
	Stopped bool `json:"stopped,omitempty"`
	// TimedOut is true when the processes ran past the time limit and
	// were stopped for it.
	TimedOut bool   `json:"timed_out,omitempty"`
	Message  string `json:"message"`
}

// RunShim supervises the job whose directory is dir, and returns once its
// status is recorded. It is the body of the hidden `stargate agent shim`
// command; a second shim for the same directory returns at once.
func RunShim(dir string) error {
	lock, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("shim: %w", err)
	}
	defer lock.Close()
	if err := lockOFD(lock); err != nil {
		return fmt.Errorf("shim: %s is supervised already: %w", dir, err)
	}
	if _, err := os.Stat(filepath.Join(dir, statusFile)); err == nil {
		return nil // ended before: never run a job twice
	}
	if _, err := os.Stat(filepath.Join(dir, startedFile)); err == nil {
		// A supervisor started it and died without a word (killed, or the
		// machine went down): its processes may have run; say so, and end
		// those its cgroup still holds.
		if b, err := os.ReadFile(filepath.Join(dir, cgroupFile)); err == nil {
			if cg, err := openCgroup(strings.TrimSpace(string(b))); err == nil {
				cg.signal(syscall.SIGKILL)
				for i := 0; i < 50 && len(cg.procs()) > 0; i++ {
					time.Sleep(20 * time.Millisecond)
				}
				cg.remove()
			}
		}
		return writeStatus(dir, ShimStatus{ExitCode: -1, Message: "its supervisor died before the processes ended"})
	}
	spec, err := readSpec(dir)
	if err != nil {
		return writeStatus(dir, ShimStatus{ExitCode: -1, Message: "bad spec: " + err.Error()})
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return writeStatus(dir, ShimStatus{ExitCode: -1, Message: "cannot become a child subreaper: " + err.Error()})
	}
	if err := writeSynced(filepath.Join(dir, pidFile), []byte(strconv.Itoa(os.Getpid())+"\n")); err != nil {
		return err
	}
	if err := writeSynced(filepath.Join(dir, startedFile), nil); err != nil {
		return err
	}
	return writeStatus(dir, supervise(dir, spec))
}

// readSpec reads what a supervisor runs.
func readSpec(dir string) (ShimSpec, error) {
	var spec ShimSpec
	b, err := os.ReadFile(filepath.Join(dir, specFile))
	if err == nil {
		err = json.Unmarshal(b, &spec)
	}
	return spec, err
}

// supervise runs the processes to their end and says how they ended.
func supervise(dir string, spec ShimSpec) ShimStatus {
	// Stop requests: SIGTERM or SIGINT to the shim.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	signal.Ignore(syscall.SIGPIPE)

	out, err := newLogWriter(dir, spec.LogLimit)
	if err != nil {
		return ShimStatus{ExitCode: -1, Message: "output: " + err.Error()}
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return ShimStatus{ExitCode: -1, Message: "output: " + err.Error()}
	}
	var copying sync.WaitGroup
	copying.Go(func() {
		if _, err := io.Copy(out, pr); err != nil {
			// Output can no longer be kept (a full disk): the job runs on,
			// its output dropped, rather than dying of a broken pipe.
			fmt.Fprintf(os.Stderr, "stargate shim: output: %v; dropping the rest\n", err)
			io.Copy(io.Discard, pr)
		}
		pr.Close()
		out.Close()
	})

	work := filepath.Join(dir, workDir)
	os.MkdirAll(work, 0o755)
	if spec.RunAs {
		os.Chown(work, int(spec.UID), int(spec.GID))
	}
	// The job's own cgroup, where the node has cgroup v2; the subreaper
	// alone otherwise.
	cg, err := newCgroup(fmt.Sprintf("%s.%d", spec.Job, spec.Attempt))
	if err == nil {
		// Recorded before any process starts in it, for the supervisor
		// after this one should this one die.
		err = writeSynced(filepath.Join(dir, cgroupFile), []byte(cg.dir+"\n"))
		if err != nil {
			cg.remove()
		}
	}
	if err != nil {
		cg = nil
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "stargate shim: %v; the job's processes are tracked as descendants only\n", err)
	}
	defer func() {
		if cg != nil {
			cg.remove()
		}
	}()
	// signalTree sends sig to every process of the job.
	signalTree := func(sig syscall.Signal) {
		signalDescendants(sig)
		if cg != nil {
			cg.signal(sig)
		}
	}
	main := map[int]int{} // pid -> process index
	var status ShimStatus
	status.Succeeded = true
	for i, p := range spec.Procs {
		path, err := lookPath(p.Argv[0], p.Env)
		var proc *os.Process
		if err == nil {
			proc, err = startProc(path, p, work, pw, &spec, cg)
			if err != nil && cg != nil {
				// A kernel without clone3 into a cgroup (before 5.7):
				// the subreaper alone, for this job.
				fmt.Fprintf(os.Stderr, "stargate shim: start in cgroup: %v; without it\n", err)
				cg.remove()
				cg = nil
				proc, err = startProc(path, p, work, pw, &spec, nil)
			}
		}
		if err != nil {
			fmt.Fprintf(pw, "stargate: cannot start %q: %v\n", p.Argv[0], err)
			status = ShimStatus{ExitCode: 127, Message: fmt.Sprintf("cannot start %q: %v", p.Argv[0], err)}
			break
		}
		main[proc.Pid] = i
	}
	pw.Close()

	exited := make(chan exit, 64)
	go reap(exited)
	grace := time.Duration(max(spec.GraceS, 0)) * time.Second
	var killAt <-chan time.Time
	stopping := false
	// stopAll asks every process of the job to end, and kills what is
	// left after the grace period.
	stopAll := func() {
		if stopping {
			return
		}
		stopping = true
		signalTree(syscall.SIGTERM)
		killAt = time.After(grace)
	}
	if !status.Succeeded {
		stopAll()
	}
	var limitAt <-chan time.Time
	if spec.TimeLimitS > 0 {
		// From the start of the processes: the supervisor outlives the
		// agent, and so does the limit.
		limitAt = time.After(time.Duration(spec.TimeLimitS) * time.Second)
	}
	left := len(main)
	for running := true; running; {
		select {
		case <-limitAt:
			limitAt = nil
			if !stopping {
				status.TimedOut = true
				stopAll()
			}
		case <-stop:
			status.Stopped = true
			stopAll()
		case <-killAt:
			signalTree(syscall.SIGKILL)
			killAt = time.After(time.Second) // and again, for anything forked meanwhile
		case e, ok := <-exited:
			if !ok { // no process of the job is left
				running = false
				break
			}
			if _, isMain := main[e.pid]; !isMain {
				break
			}
			delete(main, e.pid)
			left--
			if e.code != 0 && status.Succeeded {
				status.Succeeded = false
				status.ExitCode, status.Signal = e.code, e.signal
				stopAll() // one process failed: the others of the job go too
			}
			if left == 0 && !stopping {
				// The job's processes ended; whatever they left behind goes.
				stopping = true
				signalTree(syscall.SIGKILL)
				killAt = time.After(time.Second)
			}
		}
	}
	copying.Wait()
	switch {
	case status.TimedOut:
		status.Succeeded = false
		status.Message = fmt.Sprintf("time limit of %d s reached", spec.TimeLimitS)
		if status.ExitCode == 0 && status.Signal == "" {
			status.ExitCode = -1
		}
	case status.Stopped:
		status.Succeeded = false
		status.Message = "stopped"
		if status.ExitCode == 0 && status.Signal == "" {
			status.ExitCode = -1
		}
	case status.Succeeded:
		status.Message = "exit code 0"
	case status.Message != "":
	case status.Signal != "":
		status.Message = "killed by signal " + status.Signal
	default:
		status.Message = fmt.Sprintf("exit code %d", status.ExitCode)
	}
	return status
}

// exit is one reaped child.
type exit struct {
	pid    int
	code   int // -1: signalled
	signal string
}

// reap waits for every child of the shim, its own and those it inherited
// as subreaper, and closes exited when none is left.
func reap(exited chan<- exit) {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil { // ECHILD: nobody left
			close(exited)
			return
		}
		e := exit{pid: pid, code: ws.ExitStatus()}
		if ws.Signaled() {
			e.code, e.signal = -1, unix.SignalName(ws.Signal())
		}
		exited <- e
	}
}

// startProc starts one process of a job in its own session, as the
// spec's user, inside cg when there is one.
func startProc(path string, p Proc, work string, out *os.File, spec *ShimSpec, cg *cgroup) (*os.Process, error) {
	attr := &syscall.SysProcAttr{Setsid: true}
	if spec.RunAs {
		attr.Credential = &syscall.Credential{Uid: spec.UID, Gid: spec.GID, Groups: spec.Extra}
	}
	if cg != nil {
		attr.UseCgroupFD, attr.CgroupFD = true, int(cg.fd.Fd())
	}
	return os.StartProcess(path, p.Argv, &os.ProcAttr{Dir: work, Env: p.Env, Files: []*os.File{nil, out, out}, Sys: attr})
}

// signalDescendants sends sig to every descendant of this process: the
// job's processes, wherever they moved their session or process group.
func signalDescendants(sig syscall.Signal) {
	for _, pid := range descendants(os.Getpid()) {
		syscall.Kill(pid, sig)
	}
}

// descendants lists the processes below pid, read from /proc.
func descendants(root int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], pid)
	}
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// lookPath finds a command as a shell would, in the PATH of the process's
// environment.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path := "/usr/local/bin:/usr/bin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, d := range filepath.SplitList(path) {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("not found in PATH %s", path)
}

// writeStatus records a job's end, whole or not at all.
func writeStatus(dir string, st ShimStatus) error {
	b, _ := json.Marshal(st)
	return writeSynced(filepath.Join(dir, statusFile), b)
}

// writeSynced writes a file through a temporary one, synced and renamed
// into place, so that it is whole or absent after a crash.
func writeSynced(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

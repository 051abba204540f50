package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Runner runs a node's share of jobs. The agent calls it from one
// goroutine; Attempts may also be called by the log shipper.
type Runner interface {
	// Start begins an attempt of a job. A Runner never starts the same
	// attempt twice, across agent restarts too: Start of an attempt it
	// knows does nothing.
	Start(p Placement, procs []Proc, graceS int64) error
	// Stop asks a running attempt to end: SIGTERM, the grace period, then
	// SIGKILL.
	Stop(job string, attempt int)
	// Attempts lists the attempts the Runner knows, running or ended.
	Attempts() []Attempt
	// Reported records that an ended attempt's outcome reached the
	// server.
	Reported(job string, attempt int)
	// Forget drops an ended, reported attempt that the server no longer
	// assigns here, once nothing of it is left to ship.
	Forget(job string, attempt int)
}

// Attempt is one attempt of a job on this node, as a Runner knows it.
type Attempt struct {
	Job     string
	Attempt int
	Devices []int
	// Load is the expected utilization of its devices (0..1).
	Load float64
	// Ended is how it ended; nil while it runs.
	Ended    *ShimStatus
	Reported bool
}

func key(job string, attempt int) string { return job + "." + strconv.Itoa(attempt) }

// ProcessRunner runs jobs as real processes, each attempt under its own
// supervisor (see shim.go) in a directory of DIR/jobs.
type ProcessRunner struct {
	dir      string
	shim     []string // the command that runs a supervisor: argv, the directory appended
	logLimit int64
	runAs    *runUser
	mu       sync.Mutex
	meta     map[string]attemptMeta // what the agent knows of each attempt's directory
}

// attemptMeta is kept in each attempt's directory as meta.json, so that a
// restarted agent knows the attempt again.
type attemptMeta struct {
	Job     string  `json:"job"`
	Attempt int     `json:"attempt"`
	Devices []int   `json:"devices"`
	Load    float64 `json:"load"`
}

const (
	metaFile     = "meta.json"
	reportedFile = "reported"
	shippedFile  = "shipped"
)

// NewProcessRunner keeps its attempts under dir/jobs and starts their
// supervisors with shim (e.g. the agent's own binary and "agent shim").
func NewProcessRunner(dir string, shim []string, logLimit int64, runAs string) (*ProcessRunner, error) {
	r := &ProcessRunner{dir: filepath.Join(dir, "jobs"), shim: shim, logLimit: logLimit, meta: map[string]attemptMeta{}}
	if runAs != "" {
		u, err := lookupUser(runAs)
		if err != nil {
			return nil, err
		}
		r.runAs = u
	}
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	if r.runAs != nil {
		// The user the jobs run as must reach its working directories
		// (DATA/jobs/ATTEMPT/work) without seeing anything else there.
		for _, d := range []string{dir, r.dir} {
			if err := os.Chmod(d, r.dirMode()); err != nil {
				return nil, fmt.Errorf("agent: %w", err)
			}
		}
	}
	ents, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	for _, e := range ents {
		var m attemptMeta
		b, err := os.ReadFile(filepath.Join(r.dir, e.Name(), metaFile))
		if err != nil || json.Unmarshal(b, &m) != nil {
			continue // not one of ours, or torn before the shim could start
		}
		r.meta[key(m.Job, m.Attempt)] = m
		// An attempt whose supervisor never ran (the agent died between
		// writing its directory and starting it) ends here, said so: the
		// server decides whether it runs again.
		if !supervised(filepath.Join(r.dir, e.Name())) {
			if err := r.launch(filepath.Join(r.dir, e.Name())); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}

// dirMode is the mode of the directories above a job's working
// directory: others may pass through (not list) when jobs run as another
// user.
func (r *ProcessRunner) dirMode() os.FileMode {
	if r.runAs != nil {
		return 0o711
	}
	return 0o700
}

func (r *ProcessRunner) attemptDir(job string, attempt int) string {
	return filepath.Join(r.dir, key(job, attempt))
}

// Start writes the attempt's directory, then starts its supervisor. The
// directory is made with O_EXCL semantics (Mkdir): an attempt is started
// once.
func (r *ProcessRunner) Start(p Placement, procs []Proc, graceS int64) error {
	dir, fresh, err := r.newAttempt(p)
	if err != nil || !fresh {
		return err
	}
	j := p.Job
	spec := ShimSpec{Job: j.ID, Attempt: j.Attempts, Procs: procs, GraceS: graceS, LogLimit: r.logLimit, TimeLimitS: j.Spec.TimeLimitS}
	if r.runAs != nil {
		spec.RunAs, spec.UID, spec.GID, spec.Extra = true, r.runAs.uid, r.runAs.gid, r.runAs.groups
	}
	b, _ := json.Marshal(spec)
	if err := writeSynced(filepath.Join(dir, specFile), b); err != nil {
		os.RemoveAll(dir) // nothing started: the next heartbeat tries again
		return fmt.Errorf("agent: %w", err)
	}
	if err := r.remember(p, dir); err != nil {
		os.RemoveAll(dir)
		return err
	}
	if err := r.launch(dir); err != nil {
		// Known now, so never started twice: it ends failed, said why.
		if serr := writeStatus(dir, ShimStatus{ExitCode: -1, Message: err.Error()}); serr != nil {
			return errors.Join(err, serr)
		}
		return err
	}
	return nil
}

// Refuse records an attempt that cannot run (it has no command, say) as
// failed for why, without starting anything: the next heartbeat reports
// it, and the server decides what follows.
func (r *ProcessRunner) Refuse(p Placement, why string) error {
	dir, fresh, err := r.newAttempt(p)
	if err != nil || !fresh {
		return err
	}
	if err := writeStatus(dir, ShimStatus{ExitCode: -1, Message: why}); err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("agent: %w", err)
	}
	if err := r.remember(p, dir); err != nil {
		os.RemoveAll(dir)
		return err
	}
	return nil
}

// newAttempt makes an attempt's directory; fresh is false when the
// attempt is known already.
func (r *ProcessRunner) newAttempt(p Placement) (dir string, fresh bool, err error) {
	j := p.Job
	r.mu.Lock()
	_, known := r.meta[key(j.ID, j.Attempts)]
	r.mu.Unlock()
	if known {
		return "", false, nil
	}
	dir = r.attemptDir(j.ID, j.Attempts)
	err = os.Mkdir(dir, 0o700)
	if errors.Is(err, os.ErrExist) {
		if _, serr := os.Stat(filepath.Join(dir, metaFile)); serr == nil {
			return "", false, nil // started before
		}
		// Left by an agent that died before it could start anything
		// there (meta.json comes before the supervisor): start afresh.
		if err = os.RemoveAll(dir); err == nil {
			err = os.Mkdir(dir, 0o700)
		}
	}
	if err != nil {
		return "", false, fmt.Errorf("agent: %w", err)
	}
	if err := os.Chmod(dir, r.dirMode()); err != nil { // beyond the umask
		return "", false, fmt.Errorf("agent: %w", err)
	}
	return dir, true, nil
}

// remember writes an attempt's meta.json, last: a directory without it
// was never started.
func (r *ProcessRunner) remember(p Placement, dir string) error {
	j := p.Job
	m := attemptMeta{Job: j.ID, Attempt: j.Attempts, Devices: p.Devices, Load: j.Spec.Power}
	if m.Load <= 0 {
		m.Load = DefaultLoad
	}
	b, _ := json.Marshal(m)
	if err := writeSynced(filepath.Join(dir, metaFile), b); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	r.mu.Lock()
	r.meta[key(j.ID, j.Attempts)] = m
	r.mu.Unlock()
	return nil
}

// DefaultLoad is the utilization a job's devices are expected to run at
// when its spec gives no power fraction.
const DefaultLoad = 0.8

// launch starts the supervisor of an attempt's directory, in a session
// of its own so that it outlives the agent. The agent reaps it when it
// ends while the agent runs.
func (r *ProcessRunner) launch(dir string) error {
	argv := append(append([]string{}, r.shim...), dir)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	log, err := os.OpenFile(filepath.Join(dir, "shim.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	err = cmd.Start()
	log.Close()
	if err != nil {
		return fmt.Errorf("agent: start supervisor: %w", err)
	}
	go cmd.Wait()
	return nil
}

// supervised reports whether an attempt's supervisor holds its lock now,
// or has ended it (its status is written).
func supervised(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, statusFile)); err == nil {
		return true
	}
	return locked(dir)
}

// locked reports whether a supervisor holds the attempt's lock. It asks
// (F_OFD_GETLK) without taking the lock: a test that took it, however
// briefly, could make a supervisor starting at that moment give up.
func locked(dir string) bool {
	f, err := os.Open(filepath.Join(dir, lockFile))
	if err != nil {
		return false
	}
	defer f.Close()
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_GETLK, &lk); err != nil {
		return true // cannot tell: take it as alive, the safe side
	}
	return lk.Type != unix.F_UNLCK
}

// lockOFD takes the attempt's lock for as long as f stays open, or fails
// at once when another supervisor holds it.
func lockOFD(f *os.File) error {
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	return unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
}

// Stop sends SIGTERM to the attempt's supervisor, which stops the job's
// processes with their grace period.
func (r *ProcessRunner) Stop(job string, attempt int) {
	dir := r.attemptDir(job, attempt)
	if !locked(dir) {
		return
	}
	b, err := os.ReadFile(filepath.Join(dir, pidFile))
	if err != nil {
		return
	}
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
		syscall.Kill(pid, syscall.SIGTERM)
	}
}

// Attempts reads every attempt's state from its directory.
func (r *ProcessRunner) Attempts() []Attempt {
	r.mu.Lock()
	metas := make([]attemptMeta, 0, len(r.meta))
	for _, m := range r.meta {
		metas = append(metas, m)
	}
	r.mu.Unlock()
	sort.Slice(metas, func(a, b int) bool { return key(metas[a].Job, metas[a].Attempt) < key(metas[b].Job, metas[b].Attempt) })
	out := make([]Attempt, 0, len(metas))
	for _, m := range metas {
		dir := r.attemptDir(m.Job, m.Attempt)
		a := Attempt{Job: m.Job, Attempt: m.Attempt, Devices: m.Devices, Load: m.Load}
		if b, err := os.ReadFile(filepath.Join(dir, statusFile)); err == nil {
			var st ShimStatus
			if json.Unmarshal(b, &st) != nil {
				st = ShimStatus{ExitCode: -1, Message: "unreadable status"}
			}
			a.Ended = &st
		}
		_, err := os.Stat(filepath.Join(dir, reportedFile))
		a.Reported = err == nil
		out = append(out, a)
	}
	return out
}

// Recover starts a supervisor again for every attempt that has neither a
// status nor a living supervisor, some time after it was made: one that
// died (killed, or failed to start). The new one records the death and
// ends what the old one's cgroup still holds, or, where the first never
// got as far as starting the processes, starts them: never twice, since
// one supervisor at a time holds the lock and none runs an attempt that
// was started before.
func (r *ProcessRunner) Recover(olderThan time.Duration) {
	r.mu.Lock()
	metas := make([]attemptMeta, 0, len(r.meta))
	for _, m := range r.meta {
		metas = append(metas, m)
	}
	r.mu.Unlock()
	for _, m := range metas {
		dir := r.attemptDir(m.Job, m.Attempt)
		fi, err := os.Stat(filepath.Join(dir, metaFile))
		if err != nil || time.Since(fi.ModTime()) < olderThan || supervised(dir) {
			continue
		}
		if err := r.launch(dir); err != nil {
			writeStatus(dir, ShimStatus{ExitCode: -1, Message: err.Error()})
		}
	}
}

// Reported marks an attempt's outcome as delivered.
func (r *ProcessRunner) Reported(job string, attempt int) {
	os.WriteFile(filepath.Join(r.attemptDir(job, attempt), reportedFile), nil, 0o600)
}

// Forget removes an attempt's directory once its output is shipped.
func (r *ProcessRunner) Forget(job string, attempt int) {
	dir := r.attemptDir(job, attempt)
	size, err := logSize(dir)
	if err != nil || shipped(dir) < size {
		return
	}
	r.mu.Lock()
	delete(r.meta, key(job, attempt))
	r.mu.Unlock()
	os.RemoveAll(dir)
}

// shipped is the offset up to which an attempt's output reached the
// server.
func shipped(dir string) int64 {
	b, err := os.ReadFile(filepath.Join(dir, shippedFile))
	if err != nil {
		return 0
	}
	v, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return v
}

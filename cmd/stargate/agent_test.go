package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"stargate/client"
	"stargate/server"
	"stargate/store"
)

// agentProc is a `stargate agent` running as a real child process.
type agentProc struct {
	child
	data string
}

// startAgent starts this test binary as `stargate agent` for a node of
// the small fleet, with fake devices and a fast heartbeat.
func startAgent(t *testing.T, url, joinFile, node, data string) *agentProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "agent", "--server", url, "--token-file", joinFile, "--node", node,
		"--data", data, "--devices", "fake", "--address", "127.0.0.1", "--heartbeat", "150ms")
	cmd.Env = append(os.Environ(), "STARGATE_RUN_MAIN=1")
	p := &agentProc{child: child{cmd: cmd, done: make(chan struct{}), log: &strings.Builder{}}, data: data}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() || os.Getenv("STARGATE_TEST_AGENT_LOGS") != "" {
			t.Logf("agent %s:\n%s", node, p.log)
		}
	})
	return p
}

// stopShims stops every job supervisor left under an agent's data
// directory (they outlive the agent by design), and with them their jobs.
func stopShims(data string) {
	dirs, _ := filepath.Glob(filepath.Join(data, "jobs", "*"))
	var pids []int
	for _, d := range dirs {
		if b, err := os.ReadFile(filepath.Join(d, "pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 && alive(pid) {
				syscall.Kill(pid, syscall.SIGTERM)
				pids = append(pids, pid)
			}
		}
	}
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		n := 0
		for _, pid := range pids {
			if alive(pid) {
				n++
			}
		}
		if n == 0 {
			return
		}
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitFor polls cond until it holds or the time is up.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(limit); ; {
		if cond() {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitState waits for a job to reach a state and returns it.
func waitState(t *testing.T, c *client.Client, id string, want store.JobState, limit time.Duration) store.Job {
	t.Helper()
	var j store.Job
	waitFor(t, "job "+id+" "+string(want), limit, func() bool {
		var err error
		j, err = c.Job(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if j.State.Final() && j.State != want {
			t.Fatalf("job %s ended %s, want %s: %v", id, j.State, want, j.Reasons)
		}
		return j.State == want
	})
	return j
}

func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	// A zombie is dead too.
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || !strings.HasPrefix(strings.TrimSpace(s[i+1:]), "Z")
}

// TestAgentsRunJobs drives real agent processes against a real server
// process on 127.0.0.1: a two-node gang and its environment read back with
// 'stargate logs', exit codes, cancel of a job with a setsid child,
// preemption with a trapped SIGTERM, kill -9 of an agent and of the
// server mid-job, and a node credential used for another node.
func TestAgentsRunJobs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server and agent processes")
	}
	ctx := context.Background()
	top := t
	dir := t.TempDir()
	addr := freePort(t)
	srvArgs := []string{"--data", filepath.Join(dir, "server"), "--listen", addr, "--reconcile-every", "100ms",
		"--preemption", "--backoff", "1s"}
	sp := startServer(t, srvArgs...)
	url := sp.url
	admin := readToken(t, filepath.Join(dir, "server"))
	c := client.New(url, admin)
	join, err := c.CreateToken(ctx, server.TokenRequest{Role: store.RoleAgent, Name: "test", NodePrefix: "lab/hall-a/row-1/rack-1/"})
	if err != nil {
		t.Fatal(err)
	}
	joinFile := filepath.Join(dir, "join.token")
	os.WriteFile(joinFile, []byte(join.Secret+"\n"), 0o600)

	const n1, n2 = "lab/hall-a/row-1/rack-1/n1", "lab/hall-a/row-1/rack-1/n2"
	a1 := startAgent(t, url, joinFile, n1, filepath.Join(dir, "a1"))
	a2 := startAgent(t, url, joinFile, n2, filepath.Join(dir, "a2"))
	t.Cleanup(func() { stopShims(a1.data); stopShims(a2.data) })
	waitFor(t, "both nodes registered", 20*time.Second, func() bool {
		l, err := c.Nodes(ctx)
		return err == nil && len(l.Nodes) == 2
	})

	submit := func(t *testing.T, spec store.JobSpec) store.Job {
		t.Helper()
		spec.Tenant = "acme"
		j, err := c.SubmitSpec(ctx, spec, "")
		if err != nil {
			t.Fatal(err)
		}
		return j
	}

	t.Run("gang environment and logs", func(t *testing.T) {
		j := submit(t, store.JobSpec{Name: "gang", Accelerators: 16, PerNode: 8,
			Command: []string{"sh", "-c", `env | grep -E '^(STARGATE|MASTER|CUDA|NVIDIA|PET)_' | sort`}})
		waitState(t, c, j.ID, store.JobSucceeded, 30*time.Second)
		var out string
		waitFor(t, "both nodes' output", 10*time.Second, func() bool {
			out = cli(t, url, admin, "logs", j.ID)
			return strings.Count(out, "STARGATE_NODE_RANK=") == 2
		})
		for _, want := range []string{"STARGATE_NODE_RANK=0", "STARGATE_NODE_RANK=1", "STARGATE_NNODES=2",
			"CUDA_VISIBLE_DEVICES=0,1,2,3,4,5,6,7\n", "NVIDIA_VISIBLE_DEVICES=0,1,2,3,4,5,6,7\n",
			"STARGATE_ACCELERATORS_PER_NODE=8", "PET_NNODES=2", "PET_NPROC_PER_NODE=8", "MASTER_ADDR=127.0.0.1\n",
			"STARGATE_JOB_ID=" + j.ID, "STARGATE_TENANT=acme", "==> " + n1, "==> " + n2} {
			if !strings.Contains(out, want) {
				t.Errorf("logs lack %q:\n%s", want, out)
			}
		}
		ports := regexp.MustCompile(`(?m)^MASTER_PORT=(\d+)$`).FindAllStringSubmatch(out, -1)
		if len(ports) != 2 || ports[0][1] != ports[1][1] {
			t.Errorf("MASTER_PORT differs between nodes or is missing: %v", ports)
		}
		// Another tenant sees no such job, and no logs.
		blue, err := c.CreateToken(ctx, server.TokenRequest{Role: store.RoleUser, Tenant: "blue"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.New(url, blue.Secret).Logs(ctx, j.ID, "", 0, 0); !isStatus(err, 404) {
			t.Errorf("another tenant's logs: %v, want 404", err)
		}
	})

	t.Run("logs --follow", func(t *testing.T) {
		j := submit(t, store.JobSpec{Accelerators: 1, Command: []string{"sh", "-c", "echo first; sleep 1; echo second >&2"}})
		waitState(t, c, j.ID, store.JobRunning, 30*time.Second)
		// It returns once the job ended and its last output came.
		out := cli(t, url, admin, "logs", j.ID, "--follow", "--every", "100ms")
		if !strings.Contains(out, "first\n") || !strings.Contains(out, "second\n") || strings.Index(out, "first") > strings.Index(out, "second") {
			t.Errorf("logs --follow printed %q", out)
		}
	})

	t.Run("secret env reaches the job only", func(t *testing.T) {
		const secret = "hf_e2e_s3cret"
		j := submit(t, store.JobSpec{Accelerators: 1, SecretEnv: map[string]string{"HF_TOKEN": secret},
			Command: []string{"sh", "-c", `echo "token=$HF_TOKEN"`}})
		waitState(t, c, j.ID, store.JobSucceeded, 30*time.Second)
		if out := cli(t, url, admin, "logs", j.ID); !strings.Contains(out, "token="+secret+"\n") {
			t.Errorf("the job did not see its secret: %q", out)
		}
		if out := cli(t, url, admin, "job", j.ID, "-o", "json"); strings.Contains(out, secret) {
			t.Errorf("the API shows the secret: %s", out)
		}
	})

	t.Run("requeue runs a job again", func(t *testing.T) {
		runs := filepath.Join(dir, "requeue-runs")
		j := submit(t, store.JobSpec{Accelerators: 1, GraceS: 2, Env: map[string]string{"RUNS": runs},
			Command: []string{"sh", "-c", `echo "attempt $STARGATE_ATTEMPT" >> "$RUNS"; exec sleep 100`}})
		lines := func() string { b, _ := os.ReadFile(runs); return string(b) }
		waitFor(t, "the first attempt", 20*time.Second, func() bool { return strings.Contains(lines(), "attempt 1") })
		if out := cli(t, url, admin, "requeue", j.ID); !strings.Contains(out, "requeued "+j.ID) {
			t.Errorf("requeue said %q", out)
		}
		waitFor(t, "the second attempt", 30*time.Second, func() bool { return strings.Contains(lines(), "attempt 2") })
		if got := lines(); got != "attempt 1\nattempt 2\n" {
			t.Errorf("runs: %q, want attempts 1 and 2 once each", got)
		}
		if _, err := c.Cancel(ctx, j.ID); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("hold and release", func(t *testing.T) {
		mark := filepath.Join(dir, "held-ran")
		j := submit(t, store.JobSpec{Accelerators: 1, Hold: true, Env: map[string]string{"MARK": mark},
			Command: []string{"sh", "-c", `touch "$MARK"`}})
		// the nodes are idle: a job not held would run within a few passes
		time.Sleep(1500 * time.Millisecond)
		if got, _ := c.Job(ctx, j.ID); got.State != store.JobPending || !got.Held {
			t.Fatalf("a held job: %s held=%v", got.State, got.Held)
		}
		if _, err := os.Stat(mark); err == nil {
			t.Fatalf("a held job ran")
		}
		if out := cli(t, url, admin, "release", j.ID); !strings.Contains(out, "released "+j.ID) {
			t.Errorf("release said %q", out)
		}
		waitState(t, c, j.ID, store.JobSucceeded, 30*time.Second)
		if _, err := os.Stat(mark); err != nil {
			t.Errorf("the released job did not run: %v", err)
		}
		// hold and release by command on a job waiting behind a full node
		blocker := submit(t, store.JobSpec{Accelerators: 16, Command: []string{"sleep", "100"}, GraceS: 1})
		waitState(t, c, blocker.ID, store.JobRunning, 30*time.Second)
		k := submit(t, store.JobSpec{Accelerators: 1, Command: []string{"true"}})
		if out := cli(t, url, admin, "hold", k.ID); !strings.Contains(out, "held "+k.ID) {
			t.Errorf("hold said %q", out)
		}
		if _, err := c.Cancel(ctx, blocker.ID); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond)
		if got, _ := c.Job(ctx, k.ID); got.State != store.JobPending {
			t.Fatalf("a job held while it waited: %s", got.State)
		}
		cli(t, url, admin, "release", k.ID)
		waitState(t, c, k.ID, store.JobSucceeded, 30*time.Second)
	})

	t.Run("an array of 20 with %4 never runs more than 4 at once", func(t *testing.T) {
		runs := filepath.Join(dir, "array-runs")
		spec := filepath.Join(dir, "array.yaml")
		os.WriteFile(spec, []byte(`tenant: acme
name: sweep
accelerators: 1
array: 0-19%4
env: {RUNS: `+runs+`}
command: [sh, -c, 'echo "start $STARGATE_ARRAY_INDEX $(date +%s%N)" >> "$RUNS"; sleep 0.3; echo "end $STARGATE_ARRAY_INDEX $(date +%s%N)" >> "$RUNS"']
`), 0o644)
		out := cli(t, url, admin, "submit", spec)
		m := regexp.MustCompile(`submitted array (\S+): 20 jobs`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("submit said %q", out)
		}
		waitFor(t, "every element to succeed", 90*time.Second, func() bool {
			l, err := c.Jobs(ctx, client.JobQuery{Array: m[1], States: []string{"succeeded"}, Limit: 100})
			return err == nil && len(l.Jobs) == 20
		})
		data, _ := os.ReadFile(runs)
		type ev struct {
			at    int64
			delta int
		}
		var evs []ev
		seen := map[string]bool{}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var what, idx string
			var at int64
			if _, err := fmt.Sscan(line, &what, &idx, &at); err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			d := 1
			if what == "end" {
				d = -1
			} else {
				seen[idx] = true
			}
			evs = append(evs, ev{at, d})
		}
		sort.Slice(evs, func(i, j int) bool {
			return evs[i].at < evs[j].at || evs[i].at == evs[j].at && evs[i].delta < evs[j].delta
		})
		now, most := 0, 0
		for _, e := range evs {
			now += e.delta
			most = max(most, now)
		}
		if len(seen) != 20 || most > 4 || most < 2 {
			t.Errorf("%d elements ran, at most %d at once (want 20, at most 4)", len(seen), most)
		}
	})

	t.Run("energy accounting from the fake devices' counters", func(t *testing.T) {
		j := submit(t, store.JobSpec{Name: "metered", Accelerators: 8, Command: []string{"sleep", "2"}})
		j = waitState(t, c, j.ID, store.JobSucceeded, 30*time.Second)
		var row server.AccountRow
		waitFor(t, "the job's account", 15*time.Second, func() bool { // accounts reach the store every few seconds
			a, err := c.Accounting(ctx, client.AccountingQuery{States: []string{"succeeded"}, Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range a.Rows {
				if r.Job == j.ID {
					row = r
				}
			}
			return row.EnergyKWh > 0
		})
		// the meter counts the heartbeat intervals the job ran in: its
		// accelerator-seconds match its run to within a few heartbeats
		elapsed := j.EndedAt.Sub(j.StartedAt).Seconds()
		accS := row.AcceleratorHours * 3600 / 8
		if row.Source != "counter" || math.Abs(accS-elapsed) > 1 {
			t.Errorf("source %q, %.2f s of 8 accelerators against a run of %.2f s", row.Source, accS, elapsed)
		}
		// and the fake devices drew between idle and their rated power
		watts := row.EnergyKWh * 3.6e6 / (row.AcceleratorHours * 3600)
		if watts < 60 || watts > 700 {
			t.Errorf("mean draw %.0f W per H100", watts)
		}
		if out := cli(t, url, admin, "acct", "--by", "tenant", "--state", "succeeded"); !strings.Contains(out, "acme") || !strings.Contains(out, "total") {
			t.Errorf("acct --by tenant: %s", out)
		}
	})

	t.Run("afterok waits for its parent, and is cancelled when the parent fails", func(t *testing.T) {
		mark := filepath.Join(dir, "parent-done")
		parent := submit(t, store.JobSpec{Accelerators: 1, Env: map[string]string{"MARK": mark},
			Command: []string{"sh", "-c", `sleep 1; touch "$MARK"`}})
		// the child fails unless its parent finished first
		child := submit(t, store.JobSpec{Accelerators: 1, Env: map[string]string{"MARK": mark},
			DependsOn: []store.Dependency{{Job: parent.ID, Kind: store.AfterOK}}, Command: []string{"test", "-e", mark}})
		if j, _ := c.Job(ctx, child.ID); j.State != store.JobPending {
			t.Fatalf("the child before its parent ended: %s", j.State)
		}
		waitState(t, c, parent.ID, store.JobSucceeded, 30*time.Second)
		waitState(t, c, child.ID, store.JobSucceeded, 30*time.Second)
		bad := submit(t, store.JobSpec{Accelerators: 1, Command: []string{"sh", "-c", "exit 2"}})
		orphan := submit(t, store.JobSpec{Accelerators: 1, DependsOn: []store.Dependency{{Job: bad.ID, Kind: store.AfterOK}},
			Command: []string{"true"}})
		waitState(t, c, bad.ID, store.JobFailed, 30*time.Second)
		j := waitState(t, c, orphan.ID, store.JobCancelled, 30*time.Second)
		if j.Attempts != 0 || len(j.Reasons) == 0 || !strings.Contains(j.Reasons[0], "never") {
			t.Errorf("the child of a failed parent: %d attempts, %v", j.Attempts, j.Reasons)
		}
	})

	t.Run("time limit", func(t *testing.T) {
		j := submit(t, store.JobSpec{Accelerators: 1, TimeLimitS: 1, GraceS: 1, Command: []string{"sleep", "100"}})
		j = waitState(t, c, j.ID, store.JobTimeout, 30*time.Second)
		if len(j.Reasons) == 0 || !strings.Contains(j.Reasons[0], "time limit of 1 s") {
			t.Errorf("reasons %v", j.Reasons)
		}
	})

	t.Run("exit code", func(t *testing.T) {
		j := submit(t, store.JobSpec{Accelerators: 1, Command: []string{"sh", "-c", "echo bye; exit 3"}})
		j = waitState(t, c, j.ID, store.JobFailed, 30*time.Second)
		if len(j.Reasons) == 0 || !strings.Contains(j.Reasons[0], "exit code 3") {
			t.Errorf("reasons %v, want exit code 3", j.Reasons)
		}
		// Nothing to run, or no such program: failed, saying why.
		for cmd, why := range map[string]string{"": "no command", "/no/such/program": "cannot start"} {
			spec := store.JobSpec{Accelerators: 1}
			if cmd != "" {
				spec.Command = []string{cmd}
			}
			j := waitState(t, c, submit(t, spec).ID, store.JobFailed, 30*time.Second)
			if len(j.Reasons) == 0 || !strings.Contains(j.Reasons[0], why) {
				t.Errorf("command %q: reasons %v, want %q", cmd, j.Reasons, why)
			}
		}
	})

	t.Run("a gang fails when one node fails", func(t *testing.T) {
		mark := filepath.Join(dir, "gang-stopped")
		j := submit(t, store.JobSpec{Accelerators: 16, PerNode: 8, GraceS: 5, Env: map[string]string{"MARK": mark},
			Command: []string{"sh", "-c", `if [ "$STARGATE_NODE_RANK" = 1 ]; then while [ ! -e "$MARK.ready" ]; do sleep 0.05; done; exit 7; fi
trap 'echo stopped >> "$MARK"; exit 0' TERM; touch "$MARK.ready"; while :; do sleep 0.1; done`}})
		j = waitState(t, c, j.ID, store.JobFailed, 30*time.Second)
		if len(j.Reasons) == 0 || !strings.Contains(j.Reasons[0], "exit code 7") || !strings.Contains(j.Reasons[0], n1[:len(n1)-1]) {
			t.Errorf("reasons %v, want the node and exit code 7", j.Reasons)
		}
		waitFor(t, "rank 0 stopped", 20*time.Second, func() bool { _, err := os.Stat(mark); return err == nil })
	})

	t.Run("max_restarts requeues a failed job", func(t *testing.T) {
		count := filepath.Join(dir, "restarts")
		j := submit(t, store.JobSpec{Accelerators: 1, MaxRestarts: 2, Env: map[string]string{"COUNT": count},
			Command: []string{"sh", "-c", `echo run >> "$COUNT"; [ "$(wc -l < "$COUNT")" -ge 2 ]`}})
		j = waitState(t, c, j.ID, store.JobSucceeded, 30*time.Second)
		if j.Failures != 1 || j.Attempts != 2 {
			t.Errorf("failures %d, attempts %d; want 1 and 2", j.Failures, j.Attempts)
		}
	})

	t.Run("cancel leaves no process", func(t *testing.T) {
		j := submit(t, store.JobSpec{Accelerators: 1, GraceS: 2, Command: []string{"sh", "-c",
			`setsid sh -c 'echo $$ > escaped.pid; exec sleep 1000' & echo $$ > main.pid; sleep 1000`}})
		j = waitState(t, c, j.ID, store.JobRunning, 30*time.Second)
		data := a1.data
		if j.Placement[0].Node == n2 {
			data = a2.data
		}
		work := filepath.Join(data, "jobs", j.ID+"."+strconv.Itoa(j.Attempts), "work")
		var pids []int
		waitFor(t, "the job's processes", 20*time.Second, func() bool {
			pids = pids[:0]
			for _, f := range []string{"main.pid", "escaped.pid"} {
				b, err := os.ReadFile(filepath.Join(work, f))
				if err != nil {
					return false
				}
				pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
				if err != nil {
					return false
				}
				pids = append(pids, pid)
			}
			return true
		})
		if _, err := c.Cancel(ctx, j.ID); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "every process of the job to end", 20*time.Second, func() bool {
			return !alive(pids[0]) && !alive(pids[1])
		})
	})

	t.Run("exactly once through an agent kill -9", func(t *testing.T) {
		counter := filepath.Join(dir, "counter")
		j := submit(t, store.JobSpec{Accelerators: 8, PerNode: 8, Env: map[string]string{"COUNTER": counter},
			Command: []string{"sh", "-c", `echo ran >> "$COUNTER"; sleep 3`}})
		j = waitState(t, c, j.ID, store.JobRunning, 30*time.Second)
		victim := a1
		if j.Placement[0].Node == n2 {
			victim = a2
		}
		waitFor(t, "the job to start", 20*time.Second, func() bool { _, err := os.Stat(counter); return err == nil })
		victim.kill()
		time.Sleep(500 * time.Millisecond)
		again := startAgent(top, url, joinFile, j.Placement[0].Node, victim.data) // it runs on after this subtest
		if victim == a1 {
			a1 = again
		} else {
			a2 = again
		}
		waitState(t, c, j.ID, store.JobSucceeded, 30*time.Second)
		b, _ := os.ReadFile(counter)
		if got := strings.Count(string(b), "ran"); got != 1 {
			t.Errorf("the job ran %d times, want once", got)
		}
	})

	t.Run("server kill -9 mid-job", func(t *testing.T) {
		mark := filepath.Join(dir, "server-kill-mark")
		j := submit(t, store.JobSpec{Accelerators: 1, Env: map[string]string{"MARK": mark},
			Command: []string{"sh", "-c", `touch "$MARK.started"; sleep 2; echo done > "$MARK"`}})
		waitFor(t, "the job to start", 20*time.Second, func() bool { _, err := os.Stat(mark + ".started"); return err == nil })
		sp.kill()
		waitFor(t, "the job to finish while the server is down", 20*time.Second, func() bool {
			_, err := os.Stat(mark)
			return err == nil
		})
		sp = startServer(top, srvArgs...)
		waitState(t, c, j.ID, store.JobSucceeded, 30*time.Second)
	})

	t.Run("preemption traps SIGTERM", func(t *testing.T) {
		ckpt := filepath.Join(dir, "checkpoint")
		low := submit(t, store.JobSpec{Name: "low", Accelerators: 16, PerNode: 8, Priority: -10, Preemptible: true, GraceS: 10,
			Env:     map[string]string{"CKPT": ckpt},
			Command: []string{"sh", "-c", `trap 'sleep 1; echo saved-$STARGATE_NODE_RANK >> "$CKPT"; exit 0' TERM; touch "$CKPT.ready-$STARGATE_NODE_RANK"; while :; do sleep 0.1; done`}})
		waitFor(t, "both ranks to trap SIGTERM", 30*time.Second, func() bool {
			_, err0 := os.Stat(ckpt + ".ready-0")
			_, err1 := os.Stat(ckpt + ".ready-1")
			return err0 == nil && err1 == nil
		})
		// The high job starts only once the low job's processes on its
		// devices are gone: it finds their checkpoint written.
		saw := filepath.Join(dir, "high-saw")
		high := submit(t, store.JobSpec{Name: "high", Accelerators: 8, Priority: 100, Env: map[string]string{"CKPT": ckpt, "SAW": saw},
			Command: []string{"sh", "-c", `cat "$CKPT" > "$SAW"`}})
		waitState(t, c, high.ID, store.JobSucceeded, 30*time.Second)
		if b, _ := os.ReadFile(saw); !strings.Contains(string(b), "saved-") {
			t.Errorf("the high job started while the preempted one still held its devices (it saw %q)", b)
		}
		waitFor(t, "both ranks' checkpoints", 20*time.Second, func() bool {
			b, _ := os.ReadFile(ckpt)
			return strings.Contains(string(b), "saved-0") && strings.Contains(string(b), "saved-1")
		})
		if _, err := c.Cancel(ctx, low.ID); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a node credential speaks for its node only", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(a1.data, "credential.json"))
		if err != nil {
			t.Fatal(err)
		}
		var cred struct{ Credential string }
		json.Unmarshal(b, &cred)
		nc := client.New(url, cred.Credential)
		if _, err := nc.Heartbeat(ctx, n2, server.Heartbeat{}); !isStatus(err, 403) {
			t.Errorf("n1's credential heartbeating n2: %v, want 403", err)
		}
		if _, err := nc.SubmitSpec(ctx, store.JobSpec{Tenant: "acme", Accelerators: 1}, ""); !isStatus(err, 403) {
			t.Errorf("a node credential submitting: %v, want 403", err)
		}
		if _, err := nc.Heartbeat(ctx, n1, server.Heartbeat{}); err != nil {
			t.Errorf("n1's credential for n1: %v", err)
		}
		// The join token registers only under its prefix.
		jc := client.New(url, join.Secret)
		if _, err := jc.Register(ctx, server.NodeRegistration{Name: "lab/hall-a/row-2/rack-1/n1"}); !isStatus(err, 403) {
			t.Errorf("a join token outside its prefix: %v, want 403", err)
		}
	})
}

func isStatus(err error, status int) bool {
	var ce *client.Error
	return errors.As(err, &ce) && ce.Status == status
}

package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"stargate/client"
	"stargate/examples"
	"stargate/fleet"
	"stargate/store"
)

// syncBuffer is a bytes.Buffer that the demo's goroutines may write while
// the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var consoleLine = regexp.MustCompile(`^console: http://([0-9.]+:[0-9]+)/\?login=(\S+)\n$`)

// demoRun is `stargate demo` running in this process.
type demoRun struct {
	stdout, stderr syncBuffer
	cancel         context.CancelFunc
	done           chan error
	addr, token    string
}

// startDemo runs `stargate demo ARGS` in process until its console line
// is out.
func startDemo(t *testing.T, args ...string) *demoRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &demoRun{cancel: cancel, done: make(chan error, 1)}
	go func() { d.done <- Run(ctx, append([]string{"demo", "--no-browser"}, args...), &d.stdout, &d.stderr) }()
	t.Cleanup(func() { d.stop(t) })
	waitFor(t, "the console line", 20*time.Second, func() bool {
		select {
		case err := <-d.done:
			t.Fatalf("demo ended before its console line: %v\n%s", err, d.stderr.String())
		default:
		}
		return strings.HasSuffix(d.stdout.String(), "\n")
	})
	m := consoleLine.FindStringSubmatch(d.stdout.String())
	if m == nil {
		t.Fatalf("stdout %q is not one console line", d.stdout.String())
	}
	d.addr, d.token = m[1], m[2]
	return d
}

// stop cancels the demo (Ctrl-C) and waits for it to end; it must end
// well and soon.
func (d *demoRun) stop(t *testing.T) {
	t.Helper()
	if d.done == nil {
		return
	}
	d.cancel()
	select {
	case err := <-d.done:
		if err != nil {
			t.Errorf("demo: %v\n%s", err, d.stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("demo still running 20 s after Ctrl-C\n%s", d.stderr.String())
	}
	d.done = nil
}

// demoDirs lists the demo's temporary data directories under dir.
func demoDirs(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "stargate-demo-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// `stargate demo` on the small fleet: one console line with the admin
// token; the server answers; every node of the fleet registers; several
// tenants' training, inference and batch jobs run and succeed; Ctrl-C
// stops it and removes its temporary data directory.
func TestDemo(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	listen := freePort(t)
	d := startDemo(t, "--example", "small", "--listen", listen, "--heartbeat", "200ms", "--speed", "10", "--seed", "3")
	if d.addr != listen {
		t.Errorf("console on %s, want --listen %s", d.addr, listen)
	}
	dirs := demoDirs(t, tmp)
	if len(dirs) != 1 {
		t.Fatalf("temporary data directories: %v, want one", dirs)
	}
	if tok := readToken(t, dirs[0]); tok != d.token {
		t.Errorf("console token %q, admin.token %q", d.token, tok)
	}
	ctx := context.Background()
	c := client.New("http://"+d.addr, d.token)
	if _, err := c.Healthz(ctx); err != nil {
		t.Fatalf("healthz: %v", err)
	}

	fl, err := examples.Fleet("small")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every node of the fleet registered and ready", 15*time.Second, func() bool {
		l, err := c.Nodes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ready := map[string]bool{}
		for _, n := range l.Nodes {
			ready[n.Name] = n.State == store.NodeReady
		}
		for i := range fl.Nodes {
			if !ready[fl.NodeName(i)] {
				return false
			}
		}
		return len(l.Nodes) == len(fl.Nodes)
	})

	var jobs []store.Job
	tenants, kinds, started, succeeded, gangs := map[string]bool{}, map[string]bool{}, 0, 0, 0
	waitFor(t, "several tenants' jobs of every kind, started and succeeded", 20*time.Second, func() bool {
		jobs = allJobs(t, c)
		clear(tenants)
		clear(kinds)
		started, succeeded, gangs = 0, 0, 0
		for _, j := range jobs {
			tenants[j.Tenant] = true
			kinds[j.Spec.Kind] = true
			if !j.StartedAt.IsZero() {
				started++
			}
			if j.State == store.JobSucceeded {
				succeeded++
			}
			if j.State == store.JobRunning && len(j.Placement) > 1 {
				gangs++
			}
		}
		return len(tenants) > 1 && len(kinds) == 3 && started > 0 && succeeded > 0 && gangs > 0
	})
	t.Logf("%d jobs of %d tenants, %d started, %d succeeded, %d gangs running", len(jobs), len(tenants), started, succeeded, gangs)
	for _, j := range jobs {
		if j.Spec.Tenant != j.Tenant || j.Spec.DurationS <= 0 || j.Spec.Power <= 0 {
			t.Errorf("job %s (%s): tenant %q, spec %+v", j.ID, j.Spec.Name, j.Tenant, j.Spec)
		}
	}

	d.stop(t)
	if got := demoDirs(t, tmp); len(got) != 0 {
		t.Errorf("after Ctrl-C, temporary data directories are left: %v", got)
	}
	if n := strings.Count(d.stdout.String(), "\n"); n != 1 {
		t.Errorf("stdout has %d lines, want the console line alone: %q", n, d.stdout.String())
	}
	if !strings.Contains(d.stderr.String(), "16 of 16 nodes registered") {
		t.Errorf("stderr does not say the nodes registered:\n%s", d.stderr.String())
	}
}

// allJobs lists every job, page by page.
func allJobs(t *testing.T, c *client.Client) []store.Job {
	t.Helper()
	var out []store.Job
	after := ""
	for {
		l, err := c.Jobs(context.Background(), client.JobQuery{After: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l.Jobs...)
		if l.Next == "" || len(l.Jobs) == 0 {
			return out
		}
		after = l.Next
	}
}

// A data directory given with --data is kept, and a second demo on it
// logs in with the same admin token.
func TestDemoKeepsGivenDataDirectory(t *testing.T) {
	data := filepath.Join(t.TempDir(), "demo-data")
	first := startDemo(t, "--example", "small", "--listen", freePort(t), "--data", data, "--heartbeat", "200ms")
	first.stop(t)
	if tok := readToken(t, data); tok != first.token {
		t.Errorf("admin.token %q, the console said %q", tok, first.token)
	}
	if _, err := os.Stat(filepath.Join(data, "stargate.db")); err != nil {
		t.Errorf("the store is gone: %v", err)
	}
	second := startDemo(t, "--example", "small", "--listen", freePort(t), "--data", data, "--heartbeat", "200ms")
	second.stop(t)
	if second.token != first.token {
		t.Errorf("second run's token %q, first's %q", second.token, first.token)
	}
}

// Bad flags are refused before anything starts, and leave nothing behind.
func TestDemoFlagErrors(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--speed", "0"}, "--speed"},
		{[]string{"--failures", "1.5"}, "--failures"},
		{[]string{"--heartbeat", "1ms"}, "--heartbeat"},
		{[]string{"--example", "nope"}, "no built-in fleet"},
		{[]string{"--example", "small", "-f", "x.yaml"}, "not both"},
		{[]string{"--queue", "nope", "--example", "small"}, "nope"},
		{[]string{"--example", "million-gpu"}, "at most 20,000"},
	} {
		var stdout, stderr bytes.Buffer
		err := Run(context.Background(), append([]string{"demo", "--no-browser", "--listen", "127.0.0.1:0"}, tc.args...), &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("demo %v: %v, want an error about %s", tc.args, err, tc.want)
		}
		if stdout.Len() != 0 {
			t.Errorf("demo %v printed %q", tc.args, stdout.String())
		}
	}
	if got := demoDirs(t, tmp); len(got) != 0 {
		t.Errorf("failed starts left %v", got)
	}
}

// The default address falls back to a free port when taken; a given one
// does not.
func TestDemoListener(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.Addr().String()
	ln, err := demoListener(addr, false)
	if err != nil {
		t.Fatalf("default address taken: %v", err)
	}
	if ln.Addr().String() == addr || !strings.HasPrefix(ln.Addr().String(), "127.0.0.1:") {
		t.Errorf("fell back to %s", ln.Addr())
	}
	ln.Close()
	if ln, err := demoListener(addr, true); err == nil {
		ln.Close()
		t.Errorf("a given address that is taken was accepted")
	}
}

// The workload: the same seed gives the same jobs; a step fills the
// queue while the fleet has room, then adds nothing once the queue is
// full; every job fits the fleet's nodes, and the jobs of every kind and
// several tenants come.
func TestDemoLoad(t *testing.T) {
	fl, err := examples.Fleet("demo")
	if err != nil {
		t.Fatal(err)
	}
	a, err := newDemoLoad(fl, 5, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newDemoLoad(fl, 5, 1)
	if a.rate <= 0 || a.queue <= 0 {
		t.Fatalf("rate %g, queue %d", a.rate, a.queue)
	}
	empty := a.step(demoCounts{})
	if len(empty) != a.queue {
		t.Errorf("an empty fleet got %d jobs, want a queue of %d", len(empty), a.queue)
	}
	if again := b.step(demoCounts{}); !reflect.DeepEqual(again, empty) {
		t.Errorf("the same seed drew other jobs")
	}
	if s := a.step(demoCounts{pending: a.queue, allocated: fl.Accelerators}); len(s) != 0 {
		t.Errorf("a full queue got %d more jobs", len(s))
	}
	perNode := map[string]int{}
	for _, p := range demoPools(fl) {
		perNode[p.accel] = p.perNode
	}
	tenants, kinds := map[string]int{}, map[string]int{}
	busy := demoCounts{allocated: fl.Accelerators}
	arrived := 0
	for range 600 { // ten minutes of a busy fleet
		for _, s := range a.step(busy) {
			arrived++
			sp := s.spec
			tenants[sp.Tenant]++
			kinds[sp.Kind]++
			if sp.Tenant != a.tenants[s.tenant].name || sp.DurationS < 1 || sp.Power <= 0 || sp.Power > 1 || sp.Name == "" {
				t.Fatalf("job %+v", sp)
			}
			if sp.Kind == store.KindTraining && (sp.PerNode != perNode[sp.Model] || sp.Accelerators%sp.PerNode != 0 || sp.Accelerators/sp.PerNode < 2) {
				t.Fatalf("training gang %+v: not whole nodes of %s", sp, sp.Model)
			}
			if sp.Kind != store.KindTraining && sp.Model != "" && sp.Accelerators > perNode[sp.Model] {
				t.Fatalf("%s job %+v is larger than a node", sp.Kind, sp)
			}
		}
	}
	if len(tenants) != len(demoTenants()) || len(kinds) != 3 {
		t.Errorf("tenants %v, kinds %v", tenants, kinds)
	}
	// Arrivals on a busy fleet come at the load's rate: 600 s of it.
	if want := 600 * a.rate; float64(arrived) < 0.8*want || float64(arrived) > 1.2*want {
		t.Errorf("%d jobs arrived in 600 s at %.2f a second", arrived, a.rate)
	}
}

// The demo fleet is built for power caps to happen: in each
// oversubscribed site some row draws more than its rating at full load,
// and yet stays within what the engine admits (rating × ratio), so the
// engine places the work and the power controller must cap it.
func TestDemoFleetBindsPower(t *testing.T) {
	fl, err := examples.Fleet("demo")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(fl.Nodes); n < 1000 || n > 2000 {
		t.Errorf("%d nodes: the demo fleet is meant to be 1,000-2,000 (light on a laptop)", n)
	}
	full := make([]float64, len(fl.Rows))
	for i := range fl.Nodes {
		full[fl.Path(i)[fleet.LevelRow]] += fl.NodeModel(i).DrawW(fl.NodeAccelerator(i), 1)
	}
	oversubscribed := 0
	for si, st := range fl.Sites {
		if st.Oversubscription <= 1 {
			continue
		}
		oversubscribed++
		binds := false
		for ri := range fl.Rows {
			if int(fl.Ancestor(fleet.LevelRow, int32(ri), fleet.LevelSite)) != si {
				continue
			}
			limit := float64(fl.Rows[ri].LimitW)
			binds = binds || (full[ri] > limit && full[ri] <= limit*st.Oversubscription)
		}
		if !binds {
			t.Errorf("site %s (oversubscription %g): no row draws more than its rating at full load within what the engine admits", st.Name, st.Oversubscription)
		}
	}
	if oversubscribed == 0 {
		t.Error("no site of the demo fleet is oversubscribed")
	}
}

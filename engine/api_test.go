package engine

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"stargate/fleet"
)

// TestEveryReasonExplained checks that the scenario scripts show every
// reason a job can wait for and every reason behind a decision, so that
// each has a story that explains it.
func TestEveryReasonExplained(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	var all strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
	}
	text := all.String()
	waits := []Code{NoMatchingAccelerators, NoDomainLargeEnough, SliceShape, InsufficientFree, Fragmented, Power, Quota, FIFOBlocked, Reserved, Backoff, Grid, Ramp}
	for _, c := range waits {
		if !strings.Contains(text, " "+string(c)+"\n") && !strings.Contains(text, " "+string(c)+":") {
			t.Errorf("no script shows a job waiting for %q", c)
		}
	}
	decided := []Code{Fits, Backfilled, Preempting, PreemptedFor, OverLimit, Headroom,
		DispatchCapacity, DispatchPrice, DispatchCarbon, GridShed, GridMove}
	for _, c := range decided {
		if !strings.Contains(text, "("+string(c)) {
			t.Errorf("no script shows a decision for %q", c)
		}
	}
	// Every Code constant declared in the package is in one of the lists,
	// so a new code cannot go without its story.
	listed := map[string]bool{}
	for _, c := range append(waits, decided...) {
		listed[string(c)] = true
	}
	for _, name := range codeConstants(t) {
		if !listed[name] {
			t.Errorf("code %s is declared but no list here (nor, so, any script) covers it", name)
		}
	}
}

// codeConstants returns the values of the package's constants of type Code.
func codeConstants(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, pkg := range pkgs {
		for _, f := range pkg.Files {
			for _, d := range f.Decls {
				gd, ok := d.(*ast.GenDecl)
				if !ok || gd.Tok != token.CONST {
					continue
				}
				for _, spec := range gd.Specs {
					vs := spec.(*ast.ValueSpec)
					if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Code" {
						continue
					}
					for _, v := range vs.Values {
						if lit, ok := v.(*ast.BasicLit); ok {
							s, _ := strconv.Unquote(lit.Value)
							out = append(out, s)
						}
					}
				}
			}
		}
	}
	if len(out) < 10 {
		t.Fatalf("found only %d Code constants: the parser missed them", len(out))
	}
	return out
}

type namedPolicy struct{ priorityPolicy }

func (namedPolicy) Name() string { return "fifo" }

func TestRegistryRejectsDuplicates(t *testing.T) {
	r := NewRegistry()
	if err := r.RegisterQueue(namedPolicy{}); !errors.Is(err, ErrDuplicatePolicy) {
		t.Fatalf("RegisterQueue(fifo again) = %v, want ErrDuplicatePolicy", err)
	}
	if err := r.RegisterSite(priceSites{}); !errors.Is(err, ErrDuplicatePolicy) {
		t.Fatalf("RegisterSite(price again) = %v, want ErrDuplicatePolicy", err)
	}
	if _, err := New(Config{Queue: "lottery"}); !errors.Is(err, ErrUnknownPolicy) {
		t.Fatalf("New(lottery) = %v, want ErrUnknownPolicy", err)
	}
	if got := strings.Join(r.QueueNames(), ","); got != "backfill,fair,fifo,las,priority" {
		t.Fatalf("QueueNames = %s", got)
	}
	if got := strings.Join(r.SiteNames(), ","); got != "capacity,carbon,pack,price" {
		t.Fatalf("SiteNames = %s", got)
	}
}

func TestJobValidate(t *testing.T) {
	bad := []Job{
		{ID: 1},
		{ID: 2, Accelerators: 6, PerNode: 4},
		{ID: 3, Accelerators: 1, PowerFraction: 1.5},
		{ID: 4, Accelerators: 1, Duration: -time.Second},
		{ID: 5, Accelerators: 1, Topology: 99},
		{ID: 6, Accelerators: 1<<32 + 1}, // would be 1 in the engine's 32-bit counts
	}
	for _, j := range bad {
		if err := j.Validate(); !errors.Is(err, ErrInvalidJob) {
			t.Errorf("job %d: Validate = %v, want ErrInvalidJob", j.ID, err)
		}
	}
	e, _ := New(Config{})
	now := time.Unix(0, 0)
	if err := e.Submit(Job{ID: 1, Accelerators: 1}, now); err != nil {
		t.Fatal(err)
	}
	if err := e.Submit(Job{ID: 1, Accelerators: 1}, now); !errors.Is(err, ErrDuplicateJob) {
		t.Fatalf("second Submit = %v, want ErrDuplicateJob", err)
	}
}

// fiveRunning places five jobs of 8, 3, 32, 5 and 16 accelerators (the
// first, third and fifth preemptible) on the small example, at now.
func fiveRunning(t *testing.T) (*fleet.Fleet, *Snapshot, time.Time) {
	t.Helper()
	f := loadExample(t, "small")
	s, _ := NewSnapshot(f)
	e, _ := New(Config{})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, n := range []int{8, 3, 32, 5, 16} {
		e.Submit(Job{ID: JobID(i + 1), Tenant: "t", Accelerators: n, Preemptible: i%2 == 0, Duration: time.Hour}, now)
	}
	if r := e.Schedule(s, now); r.Placed != 5 {
		t.Fatalf("placed %d", r.Placed)
	}
	return f, s, now
}

// TestNodeRecordsMatchTheFleet: the snapshot's copy of each node's path
// and model, which the simulator reads, is the fleet's.
func TestNodeRecordsMatchTheFleet(t *testing.T) {
	for _, name := range []string{"small", "sovereign"} {
		f := loadExample(t, name)
		s, _ := NewSnapshot(f)
		for n := range f.Nodes {
			path := f.Path(n)
			if got, want := s.NodePath(int32(n)), [fleet.LevelNode]int32(path[:fleet.LevelNode]); got != want {
				t.Fatalf("%s node %d: path %v, want %v", name, n, got, want)
			}
			if got, want := s.NodeModel(int32(n)), f.Nodes[n].Model; got != want {
				t.Fatalf("%s node %d: model %d, want %d", name, n, got, want)
			}
		}
	}
}

// TestOwnerFollowsReleases: an accelerator's owner is the job whose
// slots hold it, and 0 once that job is released; the index, built at
// the first question, follows the placements made after it.
func TestOwnerFollowsReleases(t *testing.T) {
	f, s, now := fiveRunning(t)
	check := func(after string) {
		t.Helper()
		want := make([]JobID, f.Accelerators)
		for _, id := range s.Running() {
			a, _ := s.Alloc(id)
			for _, sl := range a.Slots {
				for k := range 64 {
					if sl.Mask&(1<<k) != 0 {
						want[int(f.Nodes[sl.Node].FirstAccel)+k] = id
					}
				}
			}
		}
		for i := range want {
			if s.Owner(i) != want[i] {
				t.Fatalf("after %s, accelerator %d: owner %d, want %d", after, i, s.Owner(i), want[i])
			}
		}
	}
	for _, gone := range []JobID{3, 2} {
		if _, ok := s.Release(gone, now); !ok {
			t.Fatalf("release %d", gone)
		}
		check("releasing " + strconv.Itoa(int(gone)))
	}
	e, _ := New(Config{})
	e.Submit(Job{ID: 6, Tenant: "t", Accelerators: 12, Duration: time.Hour}, now)
	if r := e.Schedule(s, now); r.Placed != 1 {
		t.Fatalf("placed %d", r.Placed)
	}
	check("placing 6")
}

// TestFailNodeFindsItsJobs: a failed node gives up exactly the jobs
// whose slots are on it, the first time (the owner index built then) and
// after.
func TestFailNodeFindsItsJobs(t *testing.T) {
	f, s, now := fiveRunning(t)
	e, _ := New(Config{})
	failed := 0
	for n := range f.Nodes {
		var want []JobID
		for _, id := range s.Running() {
			a, _ := s.Alloc(id)
			for _, sl := range a.Slots {
				if int(sl.Node) == n {
					want = append(want, id)
					break
				}
			}
		}
		if len(want) == 0 {
			continue
		}
		if got := e.FailNode(s, n, now); !slices.Equal(got, want) {
			t.Fatalf("node %d failed: released %v, want %v", n, got, want)
		}
		if failed++; failed == 2 {
			return
		}
	}
	t.Fatalf("%d nodes with jobs failed, want 2", failed)
}

// TestRestoreRebuildsTheSameState is what a server does after a restart:
// a fresh snapshot, restored from the allocations it stored, is the same
// as the one that made them.
func TestRestoreRebuildsTheSameState(t *testing.T) {
	f, s, now := fiveRunning(t)
	r, _ := NewSnapshot(f)
	for _, id := range s.Running() {
		a, _ := s.Alloc(id)
		if err := r.Restore(a.Job, a.Slots, a.Start); err != nil {
			t.Fatal(err)
		}
	}
	if r.Free() != s.Free() || r.Allocated() != s.Allocated() {
		t.Fatalf("restored: free %d allocated %d, want %d %d", r.Free(), r.Allocated(), s.Free(), s.Allocated())
	}
	for l := fleet.LevelSite; l <= fleet.LevelRack; l++ {
		for d := range f.Domains(l) {
			if r.Draw(l, d) != s.Draw(l, d) {
				t.Fatalf("%s %d: draw %d, want %d", l, d, r.Draw(l, d), s.Draw(l, d))
			}
		}
	}
	for i := range f.Accelerators {
		if r.Owner(i) != s.Owner(i) {
			t.Fatalf("accelerator %d: owner %d, want %d", i, r.Owner(i), s.Owner(i))
		}
	}
	// a restored cap is lifted by Control once there is headroom
	if !r.SetCap(1, 350) || r.SetCap(999, 350) {
		t.Fatal("SetCap")
	}
	ec, _ := New(Config{})
	if ds := ec.Control(r, now); len(ds) != 1 || ds[0].Action != Uncap || ds[0].Job != 1 {
		t.Fatalf("Control after restore = %+v, want an uncap of job 1", ds)
	}
	// restoring onto taken accelerators, or twice, fails
	a, _ := s.Alloc(1)
	if err := r.Restore(Job{ID: 99, Accelerators: 8}, a.Slots, now); err == nil {
		t.Fatal("Restore onto allocated accelerators succeeded")
	}
	if err := r.Restore(a.Job, a.Slots, now); !errors.Is(err, ErrDuplicateJob) {
		t.Fatalf("Restore twice = %v, want ErrDuplicateJob", err)
	}
}

func TestEnergyAtFollowsProfiles(t *testing.T) {
	carbon := 400.0
	site := &fleet.Site{Domain: fleet.Domain{LimitW: 120e6}, PUE: 1.2, Energy: []fleet.EnergySource{
		{Source: "solar", MW: 50, PriceUSDPerMWh: 30, Profile: fleet.Profile{Output: noonOnly()}},
		{Source: "grid", Share: 1, PriceUSDPerMWh: 60, CarbonGPerKWh: &carbon},
	}}
	noon := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	night := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	// at noon solar covers 50 of 100 IT MW: half at 30, half at 60
	if p, c := EnergyAt(site, noon); p != 45 || c != (48+400)/2.0 {
		t.Fatalf("noon: price %g carbon %g", p, c)
	}
	if p, c := EnergyAt(site, night); p != 60 || c != 400 {
		t.Fatalf("night: price %g carbon %g", p, c)
	}
}

func noonOnly() []float64 {
	v := make([]float64, 24)
	v[12] = 1
	return v
}

func TestRankSitesAndNodeNames(t *testing.T) {
	f := loadTestdata(t, "multi.yaml")
	s, _ := NewSnapshot(f)
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		policy string
		job    Job
		want   string
	}{
		{"price", Job{Accelerators: 8}, "nvl,gas,nuke"},
		{"price", Job{Accelerators: 8, Model: "h100"}, "gas,nuke"},
		{"carbon", Job{Accelerators: 8}, "nuke,nvl,gas"},
		{"carbon", Job{Accelerators: 8, Region: "west"}, "nvl"},
	} {
		e, err := New(Config{Sites: c.policy})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, v := range e.RankSites(s, &c.job, now) {
			names = append(names, v.Name)
		}
		if got := strings.Join(names, ","); got != c.want {
			t.Errorf("%s %+v: %s, want %s", c.policy, c.job, got, c.want)
		}
	}
	n, ok := s.Node("nvl/h/row/nvl72-2/n18")
	if !ok || f.NodeName(n) != "nvl/h/row/nvl72-2/n18" {
		t.Fatalf("Node = %d, %v", n, ok)
	}
	if _, ok := s.Node("nowhere"); ok {
		t.Fatal("Node(nowhere) found a node")
	}
}

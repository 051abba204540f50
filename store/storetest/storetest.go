// Package storetest is the conformance suite every store.Store backend
// must pass. A backend's test calls Run with a factory for fresh, empty
// stores.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"stargate/store"
)

// Factory returns a fresh, empty store and a function that reopens the
// same database (called after the first store was closed).
type Factory func(t *testing.T) (s store.Store, reopen func() store.Store)

// Run runs the conformance suite.
func Run(t *testing.T, f Factory) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store, func() store.Store)
	}{
		{"SubmitAndRead", testSubmitAndRead},
		{"Idempotency", testIdempotency},
		{"Query", testQuery},
		{"ApplyCompareAndSet", testApply},
		{"JobChanges", testJobChanges},
		{"QueueOrder", testQueueOrder},
		{"JobCountsKept", testJobCountsKept},
		{"Failures", testFailures},
		{"Held", testHeld},
		{"Arrays", testArrays},
		{"Energy", testEnergy},
		{"GridEvents", testGridEvents},
		{"Nodes", testNodes},
		{"DrainOutlivesLost", testDrainOutlivesLost},
		{"HeartbeatRevivesLost", testHeartbeatRevivesLost},
		{"Events", testEvents},
		{"Tokens", testTokens},
		{"Tenants", testTenants},
		{"NodeTokens", testNodeTokens},
		{"Logs", testLogs},
		{"LogTrim", testLogTrim},
		{"LogBinary", testLogBinary},
		{"LogRetryWithMore", testLogRetryWithMore},
		{"Lease", testLease},
		{"ConcurrentSubmits", testConcurrentSubmits},
		{"Reopen", testReopen},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, reopen := f(t)
			tc.fn(t, s, reopen)
		})
	}
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

func newJob(id, tenant string, accels int) store.Job {
	return store.Job{
		ID: id, Tenant: tenant, State: store.JobPending, Version: 1,
		SubmittedAt: t0,
		Spec: store.JobSpec{Name: "train-" + id, Tenant: tenant, Kind: store.KindTraining, Priority: 3,
			Accelerators: accels, Model: "h100", Topology: "rack", DurationS: 3600, Power: 0.8,
			Command: []string{"python", "train.py"}, Env: map[string]string{"A": "1"}},
	}
}

func mustSubmit(t *testing.T, s store.Store, jobs ...store.Job) []store.SubmitResult {
	t.Helper()
	res, err := s.SubmitJobs(context.Background(), jobs)
	if err != nil {
		t.Fatalf("SubmitJobs: %v", err)
	}
	if len(res) != len(jobs) {
		t.Fatalf("SubmitJobs returned %d results for %d jobs", len(res), len(jobs))
	}
	return res
}

func mustJob(t *testing.T, s store.Store, id string) store.Job {
	t.Helper()
	j, err := s.Job(context.Background(), id)
	if err != nil {
		t.Fatalf("Job(%s): %v", id, err)
	}
	return j
}

func ids(jobs []store.Job) []string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.ID
	}
	return out
}

func testSubmitAndRead(t *testing.T, s store.Store, _ func() store.Store) {
	ctx := context.Background()
	j := newJob("j1", "acme", 16)
	j.Reasons = []string{"no-domain-large-enough"}
	res := mustSubmit(t, s, j)
	if !res[0].Created || res[0].Err != nil || res[0].Job.ID != "j1" {
		t.Fatalf("result = %+v", res[0])
	}
	got := mustJob(t, s, "j1")
	if fmt.Sprint(got.Spec) != fmt.Sprint(j.Spec) {
		t.Errorf("spec round trip:\n got %+v\nwant %+v", got.Spec, j.Spec)
	}
	if !got.SubmittedAt.Equal(t0) || !got.StartedAt.IsZero() || !got.EndedAt.IsZero() {
		t.Errorf("times: submitted %v started %v ended %v", got.SubmittedAt, got.StartedAt, got.EndedAt)
	}
	if got.State != store.JobPending || got.Version != 1 || got.Tenant != "acme" || len(got.Reasons) != 1 {
		t.Errorf("job = %+v", got)
	}
	if _, err := s.Job(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Job(nope) err = %v, want ErrNotFound", err)
	}
	if _, err := s.SubmitJobs(ctx, []store.Job{newJob("j1", "acme", 1)}); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate ID without key: err = %v, want ErrExists", err)
	}
}

func testIdempotency(t *testing.T, s store.Store, _ func() store.Store) {
	a := newJob("j1", "acme", 8)
	a.IdempotencyKey, a.RequestHash = "k1", "h1"
	mustSubmit(t, s, a)

	again := newJob("j2", "acme", 8)
	again.IdempotencyKey, again.RequestHash = "k1", "h1"
	other := newJob("j3", "acme", 8)
	other.IdempotencyKey, other.RequestHash = "k1", "h2"
	otherTenant := newJob("j4", "blue", 8)
	otherTenant.IdempotencyKey, otherTenant.RequestHash = "k1", "h1"
	inBatch1 := newJob("j5", "acme", 1)
	inBatch1.IdempotencyKey, inBatch1.RequestHash = "k5", "h5"
	inBatch2 := newJob("j6", "acme", 1)
	inBatch2.IdempotencyKey, inBatch2.RequestHash = "k5", "h5"
	res := mustSubmit(t, s, again, other, otherTenant, inBatch1, inBatch2)

	if res[0].Created || res[0].Err != nil || res[0].Job.ID != "j1" {
		t.Errorf("replay: %+v, want the stored j1", res[0])
	}
	if !errors.Is(res[1].Err, store.ErrIdempotencyMismatch) {
		t.Errorf("reuse with another request: err = %v", res[1].Err)
	}
	if !res[2].Created || res[2].Job.ID != "j4" {
		t.Errorf("same key, other tenant: %+v", res[2])
	}
	if !res[3].Created || res[4].Created || res[4].Job.ID != "j5" {
		t.Errorf("same key twice in one batch: %+v / %+v", res[3], res[4])
	}
	for _, id := range []string{"j2", "j3", "j6"} {
		if _, err := s.Job(context.Background(), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s was stored (err %v)", id, err)
		}
	}
}

func testQuery(t *testing.T, s store.Store, _ func() store.Store) {
	ctx := context.Background()
	var jobs []store.Job
	for i := 0; i < 10; i++ {
		tenant := "acme"
		if i%2 == 1 {
			tenant = "blue"
		}
		jobs = append(jobs, newJob(fmt.Sprintf("j%02d", i), tenant, i+1))
	}
	mustSubmit(t, s, jobs...)
	run := mustJob(t, s, "j03")
	run.State, run.StartedAt, run.Attempts, run.CapW = store.JobRunning, t0.Add(time.Minute), 1, 350
	run.Placement = []store.Allocation{{Node: "lab/h/r/k/n1", Accelerators: []int{0, 1}}, {Node: "lab/h/r/k/n2", Accelerators: []int{0, 1}}}
	if err := s.Apply(ctx, store.Changes{Jobs: []store.Job{run}}); err != nil {
		t.Fatal(err)
	}

	check := func(q store.JobQuery, want string) {
		t.Helper()
		got, err := s.Jobs(ctx, q)
		if err != nil {
			t.Fatalf("Jobs(%+v): %v", q, err)
		}
		if fmt.Sprint(ids(got)) != want {
			t.Errorf("Jobs(%+v) = %v, want %s", q, ids(got), want)
		}
	}
	check(store.JobQuery{Tenant: "blue"}, "[j01 j03 j05 j07 j09]")
	check(store.JobQuery{States: []store.JobState{store.JobRunning}}, "[j03]")
	check(store.JobQuery{States: []store.JobState{store.JobPending}, Tenant: "blue", Limit: 2}, "[j01 j05]")
	check(store.JobQuery{After: "j05", Limit: 3}, "[j06 j07 j08]")
	check(store.JobQuery{After: "j08"}, "[j09]")
	check(store.JobQuery{Newest: true, Limit: 3}, "[j09 j08 j07]")
	check(store.JobQuery{Newest: true, After: "j03", Tenant: "blue"}, "[j01]")
	check(store.JobQuery{Node: "lab/h/r/k/n2"}, "[j03]")
	check(store.JobQuery{Tenant: "none"}, "[]")

	got := mustJob(t, s, "j03")
	if len(got.Placement) != 2 || fmt.Sprint(got.Placement[1].Accelerators) != "[0 1]" || !got.StartedAt.Equal(t0.Add(time.Minute)) || got.CapW != 350 {
		t.Errorf("placement round trip: %+v", got)
	}

	active, err := s.ActiveJobs(ctx)
	if err != nil || len(active) != 10 || active[3].ID != "j03" || active[3].State != store.JobRunning || active[3].Version != 2 {
		t.Errorf("ActiveJobs = %+v, %v", active, err)
	}
	byID, err := s.JobsByID(ctx, []string{"j07", "nope", "j03"})
	if err != nil || fmt.Sprint(ids(byID)) != "[j03 j07]" || len(byID[0].Placement) != 2 {
		t.Errorf("JobsByID = %v, %v", ids(byID), err)
	}
	counts, err := s.JobCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := "[{acme pending 5 25} {blue pending 4 26} {blue running 1 4}]"
	if fmt.Sprint(counts) != want {
		t.Errorf("JobCounts = %v, want %s", counts, want)
	}
}

func testApply(t *testing.T, s store.Store, _ func() store.Store) {
	ctx := context.Background()
	mustSubmit(t, s, newJob("a", "acme", 1), newJob("b", "acme", 1))
	a, b := mustJob(t, s, "a"), mustJob(t, s, "b")

	a.State = store.JobCancelled
	a.EndedAt = t0.Add(time.Hour)
	c := store.Changes{Jobs: []store.Job{a}, Events: []store.Event{{Time: t0, Kind: "cancelled", Job: "a"}}}
	if err := s.Apply(ctx, c); err != nil {
		t.Fatal(err)
	}
	if c.Jobs[0].Version != 2 {
		t.Errorf("Apply did not advance the change's version: %d", c.Jobs[0].Version)
	}
	if got := mustJob(t, s, "a"); got.State != store.JobCancelled || got.Version != 2 || !got.EndedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("after apply: %+v", got)
	}

	// A stale version anywhere rolls the whole set back.
	b.State = store.JobRunning
	stale := a // version 1 again
	stale.Version = 1
	err := s.Apply(ctx, store.Changes{Jobs: []store.Job{b, stale}, Events: []store.Event{{Time: t0, Kind: "x", Job: "b"}}})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale apply: err = %v, want ErrConflict", err)
	}
	if got := mustJob(t, s, "b"); got.State != store.JobPending || got.Version != 1 {
		t.Errorf("b changed by a failed apply: %+v", got)
	}
	if ev, _ := s.Events(ctx, store.EventQuery{Job: "b"}); len(ev) != 0 {
		t.Errorf("events of a failed apply were written: %+v", ev)
	}
	ghost := newJob("ghost", "acme", 1)
	if err := s.Apply(ctx, store.Changes{Jobs: []store.Job{ghost}}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("apply to a missing job: err = %v, want ErrNotFound", err)
	}
}

// testGridEvents checks that grid events are kept, listed by start and
// state, and changed by compare-and-set.
func testGridEvents(t *testing.T, s store.Store, reopen func() store.Store) {
	ctx := context.Background()
	late := store.GridEvent{ID: "g2", ScopeKind: "site", Scope: "lab", Start: t0.Add(2 * time.Hour), DurationS: 3600,
		TargetFraction: 0.75, Kind: store.GridMandatory, State: store.GridScheduled, CreatedAt: t0}
	early := late
	early.ID, early.Start, early.TargetFraction, early.TargetMW = "g1", t0.Add(time.Hour), 0, 1.5
	for _, e := range []store.GridEvent{late, early} {
		if err := s.CreateGridEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateGridEvent(ctx, early); !errors.Is(err, store.ErrExists) {
		t.Errorf("create twice: %v", err)
	}
	s = reopen()
	all, err := s.GridEvents(ctx)
	if err != nil || len(all) != 2 || all[0].ID != "g1" || all[0].TargetMW != 1.5 || all[1].TargetFraction != 0.75 ||
		all[0].Version != 1 || !all[0].Start.Equal(early.Start) {
		t.Fatalf("grid events: %+v %v", all, err)
	}
	g := all[0]
	g.State, g.BaselineMW = store.GridActive, 1.9
	if err := s.UpdateGridEvent(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateGridEvent(ctx, g); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a stale update: %v", err)
	}
	ghost := g
	ghost.ID = "nope"
	if err := s.UpdateGridEvent(ctx, ghost); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update a missing event: %v", err)
	}
	active, err := s.GridEvents(ctx, store.GridActive)
	if err != nil || len(active) != 1 || active[0].ID != "g1" || active[0].BaselineMW != 1.9 || active[0].Version != 2 {
		t.Errorf("active events: %+v %v", active, err)
	}
}

// testEnergy checks that energy records add up by job and attempt.
func testEnergy(t *testing.T, s store.Store, reopen func() store.Store) {
	ctx := context.Background()
	rec := func(job string, attempt int, source string, j float64) store.JobEnergy {
		return store.JobEnergy{Job: job, Attempt: attempt, Site: "lab", EnergyJ: j, FacilityJ: 1.5 * j, AcceleratorS: 10,
			CostUSD: j / 1000, CO2g: j / 10, Source: source, Samples: 1}
	}
	if err := s.AddEnergy(ctx, []store.JobEnergy{rec("b", 1, "counter", 100), rec("a", 2, "counter", 5), rec("a", 1, "counter", 7)}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddEnergy(ctx, []store.JobEnergy{rec("b", 1, "counter", 50), rec("a", 2, "power", 1)}); err != nil {
		t.Fatal(err)
	}
	s = reopen()
	got, err := s.Energy(ctx, []string{"b", "a", "none"})
	if err != nil || len(got) != 3 {
		t.Fatalf("energy: %+v %v", got, err)
	}
	want := []store.JobEnergy{
		{Job: "a", Attempt: 1, Site: "lab", EnergyJ: 7, FacilityJ: 10.5, AcceleratorS: 10, CostUSD: 0.007, CO2g: 0.7, Source: "counter", Samples: 1},
		{Job: "a", Attempt: 2, Site: "lab", EnergyJ: 6, FacilityJ: 9, AcceleratorS: 20, CostUSD: 0.006, CO2g: 0.6, Source: "mixed", Samples: 2},
		{Job: "b", Attempt: 1, Site: "lab", EnergyJ: 150, FacilityJ: 225, AcceleratorS: 20, CostUSD: 0.15, CO2g: 15, Source: "counter", Samples: 2},
	}
	for i := range want {
		g, w := got[i], want[i]
		near := func(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
		if g.Job != w.Job || g.Attempt != w.Attempt || g.Site != w.Site || g.Source != w.Source || g.Samples != w.Samples ||
			!near(g.EnergyJ, w.EnergyJ) || !near(g.FacilityJ, w.FacilityJ) || !near(g.AcceleratorS, w.AcceleratorS) ||
			!near(g.CostUSD, w.CostUSD) || !near(g.CO2g, w.CO2g) {
			t.Errorf("record %d: %+v, want %+v", i, g, w)
		}
	}
}

// testArrays checks that the elements of an array keep their array and
// index, and that a query selects them.
func testArrays(t *testing.T, s store.Store, reopen func() store.Store) {
	ctx := context.Background()
	var jobs []store.Job
	for i := range 3 {
		j := newJob(fmt.Sprintf("a%d", i), "acme", 1)
		j.ArrayJob, j.ArrayIndex = "a0", i*5
		jobs = append(jobs, j)
	}
	mustSubmit(t, s, append(jobs, newJob("b", "acme", 1))...)
	s = reopen()
	list, err := s.Jobs(ctx, store.JobQuery{Array: "a0"})
	if err != nil || len(list) != 3 {
		t.Fatalf("the array's elements: %+v %v", list, err)
	}
	for i, j := range list {
		if j.ArrayJob != "a0" || j.ArrayIndex != i*5 {
			t.Errorf("element %d: array %q index %d", i, j.ArrayJob, j.ArrayIndex)
		}
	}
	if b := mustJob(t, s, "b"); b.ArrayJob != "" || b.ArrayIndex != 0 {
		t.Errorf("a job outside any array: %+v", b)
	}
}

// testHeld checks that a job submitted held, released and held again
// keeps the flag through every read and a reopen.
func testHeld(t *testing.T, s store.Store, reopen func() store.Store) {
	ctx := context.Background()
	h := newJob("h", "acme", 1)
	h.Held = true
	mustSubmit(t, s, h, newJob("i", "acme", 1))
	if got := mustJob(t, s, "h"); !got.Held {
		t.Fatalf("submitted held: %+v", got)
	}
	if got := mustJob(t, s, "i"); got.Held {
		t.Fatalf("submitted without hold: held")
	}
	h = mustJob(t, s, "h")
	h.Held = false
	if err := s.Apply(ctx, store.Changes{Jobs: []store.Job{h}}); err != nil {
		t.Fatal(err)
	}
	i := mustJob(t, s, "i")
	i.Held = true
	if err := s.Apply(ctx, store.Changes{Jobs: []store.Job{i}}); err != nil {
		t.Fatal(err)
	}
	s = reopen()
	list, err := s.Jobs(ctx, store.JobQuery{Tenant: "acme"})
	if err != nil || len(list) != 2 || list[0].Held || !list[1].Held {
		t.Errorf("after release and hold: %+v %v", list, err)
	}
}

// testFailures checks that a job's failure count is stored by Apply (as the
// server bumps it when a job's processes fail) and read back by every read.
func testFailures(t *testing.T, s store.Store, _ func() store.Store) {
	ctx := context.Background()
	mustSubmit(t, s, newJob("f", "acme", 1), newJob("g", "acme", 1))
	f := mustJob(t, s, "f")
	if f.Failures != 0 || f.Version != 1 {
		t.Fatalf("submitted job: failures %d version %d, want 0 and 1", f.Failures, f.Version)
	}

	f.Failures, f.Attempts = 2, 2
	f.Reasons = []string{"process failed"}
	if err := s.Apply(ctx, store.Changes{Jobs: []store.Job{f}}); err != nil {
		t.Fatal(err)
	}
	// A stale version does not overwrite it.
	stale := f
	stale.Failures = 3
	if err := s.Apply(ctx, store.Changes{Jobs: []store.Job{stale}}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale apply: err = %v, want ErrConflict", err)
	}

	check := func(how string, got store.Job) {
		t.Helper()
		want := 2
		if got.ID == "g" {
			want = 0
		}
		if got.Failures != want || (got.ID == "f" && (got.Attempts != 2 || got.Version != 2)) {
			t.Errorf("%s: job %s failures %d attempts %d version %d, want failures %d", how, got.ID,
				got.Failures, got.Attempts, got.Version, want)
		}
	}
	check("Job", mustJob(t, s, "f"))
	check("Job", mustJob(t, s, "g"))
	list, err := s.Jobs(ctx, store.JobQuery{Tenant: "acme"})
	if err != nil || fmt.Sprint(ids(list)) != "[f g]" {
		t.Fatalf("Jobs = %v, %v", ids(list), err)
	}
	for _, j := range list {
		check("Jobs", j)
	}
	byID, err := s.JobsByID(ctx, []string{"g", "f"})
	if err != nil || fmt.Sprint(ids(byID)) != "[f g]" {
		t.Fatalf("JobsByID = %v, %v", ids(byID), err)
	}
	for _, j := range byID {
		check("JobsByID", j)
	}
}

func testNodes(t *testing.T, s store.Store, _ func() store.Store) {
	ctx := context.Background()
	n := store.Node{Name: "lab/h/r/k/n1", Model: "dgx-h100", Accelerators: 8, Address: "10.0.0.1:9000",
		Labels: map[string]string{"zone": "a"}, RegisteredAt: t0, HeartbeatAt: t0, DrawW: -1}
	got, err := s.RegisterNode(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != store.NodeReady || got.Version != 1 || got.Labels["zone"] != "a" || !got.HeartbeatAt.Equal(t0) {
		t.Errorf("registered: %+v", got)
	}
	got.State = store.NodeDraining
	if err := s.Apply(ctx, store.Changes{Nodes: []store.Node{got}}); err != nil {
		t.Fatal(err)
	}
	// Registering again refreshes it but keeps it draining.
	n.HeartbeatAt = t0.Add(time.Minute)
	again, err := s.RegisterNode(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if again.State != store.NodeDraining || !again.RegisteredAt.Equal(t0) || !again.HeartbeatAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("re-registered: %+v", again)
	}
	again.State = store.NodeLost
	if err := s.Apply(ctx, store.Changes{Nodes: []store.Node{again}}); err != nil {
		t.Fatal(err)
	}
	if back, _ := s.RegisterNode(ctx, n); back.State != store.NodeReady {
		t.Errorf("a lost node registering again should be ready, is %s", back.State)
	}
	d1, err := s.NodeDigest(ctx)
	if err != nil || d1.Count != 1 {
		t.Fatalf("NodeDigest = %+v, %v", d1, err)
	}
	if err := s.Heartbeat(ctx, n.Name, t0.Add(2*time.Minute), 5400); err != nil {
		t.Fatal(err)
	}
	if d2, _ := s.NodeDigest(ctx); d2 != d1 {
		t.Errorf("a heartbeat moved the node digest: %+v -> %+v", d1, d2)
	}
	if silent, err := s.SilentNodes(ctx, t0.Add(2*time.Minute)); err != nil || len(silent) != 0 {
		t.Errorf("SilentNodes before the heartbeat = %+v, %v", silent, err)
	}
	if silent, _ := s.SilentNodes(ctx, t0.Add(3*time.Minute)); len(silent) != 1 || silent[0].Name != n.Name {
		t.Errorf("SilentNodes after = %+v", silent)
	}
	hb, err := s.Node(ctx, n.Name)
	if err != nil {
		t.Fatal(err)
	}
	if !hb.HeartbeatAt.Equal(t0.Add(2*time.Minute)) || hb.DrawW != 5400 {
		t.Errorf("after heartbeat: %+v", hb)
	}
	stale := hb
	stale.Version--
	if err := s.Apply(ctx, store.Changes{Nodes: []store.Node{stale}}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("stale node apply: %v", err)
	}
	found, err := s.Heartbeats(ctx, []store.Beat{{Node: "nope", At: t0}, {Node: n.Name, At: t0.Add(4 * time.Minute), DrawW: 5000}})
	if err != nil || fmt.Sprint(found) != "[false true]" {
		t.Errorf("Heartbeats = %v, %v", found, err)
	}
	if hb, _ := s.Node(ctx, n.Name); !hb.HeartbeatAt.Equal(t0.Add(4*time.Minute)) || hb.DrawW != 5000 {
		t.Errorf("after Heartbeats: %+v", hb)
	}
	if err := s.Heartbeat(ctx, "nope", t0, 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("heartbeat of unknown node: %v", err)
	}
	if _, err := s.Node(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Node(nope): %v", err)
	}
	bulk := []store.Node{
		{Name: "lab/h/r/k/n0", Model: "dgx-h100", Accelerators: 8, RegisteredAt: t0, HeartbeatAt: t0, DrawW: -1},
		{Name: "lab/h/r/k/n9", Model: "dgx-h100", Accelerators: 8, RegisteredAt: t0, HeartbeatAt: t0, DrawW: -1},
	}
	if err := s.RegisterNodes(ctx, bulk); err != nil {
		t.Fatal(err)
	}
	if d3, _ := s.NodeDigest(ctx); d3 == d1 || d3.Count != 3 {
		t.Errorf("registrations did not move the node digest: %+v", d3)
	}
	all, err := s.Nodes(ctx)
	if err != nil || len(all) != 3 || all[0].Name != "lab/h/r/k/n0" || all[2].State != store.NodeReady {
		t.Errorf("Nodes = %+v, %v", all, err)
	}
}

// setNode applies a change of a node's state and drain intent.
func setNode(t *testing.T, s store.Store, n store.Node, state store.NodeState, drained bool) store.Node {
	t.Helper()
	n.State, n.Drained = state, drained
	c := store.Changes{Nodes: []store.Node{n}}
	if err := s.Apply(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c.Nodes[0]
}

// testDrainOutlivesLost: a drained node that is lost and registers again
// comes back draining, not ready; once undrained it comes back ready.
func testDrainOutlivesLost(t *testing.T, s store.Store, reopen func() store.Store) {
	ctx := context.Background()
	n := store.Node{Name: "lab/h/r/k/n1", Model: "dgx-h100", Accelerators: 8, RegisteredAt: t0, HeartbeatAt: t0, DrawW: -1}
	got, err := s.RegisterNode(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if got.Drained {
		t.Errorf("a new node is drained: %+v", got)
	}
	got = setNode(t, s, got, store.NodeDraining, true)
	got = setNode(t, s, got, store.NodeLost, got.Drained)
	if stored, _ := s.Node(ctx, n.Name); stored.State != store.NodeLost || !stored.Drained || stored.Version != got.Version {
		t.Errorf("lost while drained: %+v", stored)
	}
	back, err := s.RegisterNode(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if back.State != store.NodeDraining || !back.Drained {
		t.Errorf("a drained lost node registering again: %s drained=%v, want draining drained=true", back.State, back.Drained)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = reopen()
	if kept, _ := s.Node(ctx, n.Name); !kept.Drained || kept.State != store.NodeDraining {
		t.Errorf("after reopen: %+v", kept)
	}
	back = setNode(t, s, back, store.NodeReady, false)
	setNode(t, s, back, store.NodeLost, false)
	if again, _ := s.RegisterNode(ctx, n); again.State != store.NodeReady || again.Drained {
		t.Errorf("an undrained lost node registering again: %+v", again)
	}
}

// testHeartbeatRevivesLost: a heartbeat of a lost node brings it back
// (draining when drained) and moves its version and the node digest.
func testHeartbeatRevivesLost(t *testing.T, s store.Store, _ func() store.Store) {
	ctx := context.Background()
	a := store.Node{Name: "lab/h/r/k/n1", Model: "dgx-h100", Accelerators: 8, RegisteredAt: t0, HeartbeatAt: t0, DrawW: -1}
	b := a
	b.Name = "lab/h/r/k/n2"
	na, err := s.RegisterNode(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	nb, err := s.RegisterNode(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	na = setNode(t, s, na, store.NodeLost, false)
	nb = setNode(t, s, nb, store.NodeLost, true)
	d1, _ := s.NodeDigest(ctx)
	if err := s.Heartbeat(ctx, a.Name, t0.Add(time.Minute), 100); err != nil {
		t.Fatal(err)
	}
	found, err := s.Heartbeats(ctx, []store.Beat{{Node: b.Name, At: t0.Add(time.Minute), DrawW: 200}})
	if err != nil || fmt.Sprint(found) != "[true]" {
		t.Fatalf("Heartbeats = %v, %v", found, err)
	}
	ra, _ := s.Node(ctx, a.Name)
	rb, _ := s.Node(ctx, b.Name)
	if ra.State != store.NodeReady || ra.Version != na.Version+1 || ra.DrawW != 100 || !ra.HeartbeatAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("lost node after a heartbeat: %+v (was version %d)", ra, na.Version)
	}
	if rb.State != store.NodeDraining || !rb.Drained || rb.Version != nb.Version+1 || rb.DrawW != 200 {
		t.Errorf("lost drained node after a heartbeat: %+v (was version %d)", rb, nb.Version)
	}
	if d2, _ := s.NodeDigest(ctx); d2 == d1 {
		t.Errorf("reviving nodes did not move the node digest: %+v", d2)
	}
	// A heartbeat of a live node still changes nothing but the heartbeat.
	if err := s.Heartbeat(ctx, a.Name, t0.Add(2*time.Minute), 100); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.Node(ctx, a.Name); again.Version != ra.Version || again.State != store.NodeReady {
		t.Errorf("heartbeat of a ready node: %+v", again)
	}
}

func testEvents(t *testing.T, s store.Store, _ func() store.Store) {
	ctx := context.Background()
	var evs []store.Event
	for i := 0; i < 5; i++ {
		evs = append(evs, store.Event{Time: t0.Add(time.Duration(i) * time.Second), Kind: "k", Job: fmt.Sprint("j", i%2), Message: fmt.Sprint(i)})
	}
	if err := s.Apply(ctx, store.Changes{Events: evs}); err != nil {
		t.Fatal(err)
	}
	all, err := s.Events(ctx, store.EventQuery{})
	if err != nil || len(all) != 5 {
		t.Fatalf("Events = %v, %v", all, err)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Seq <= all[i-1].Seq || all[i].Message != fmt.Sprint(i) {
			t.Errorf("events out of order: %+v", all)
		}
	}
	if !all[4].Time.Equal(t0.Add(4 * time.Second)) {
		t.Errorf("event time %v", all[4].Time)
	}
	j1, _ := s.Events(ctx, store.EventQuery{Job: "j1"})
	if len(j1) != 2 {
		t.Errorf("events of j1: %+v", j1)
	}
	after, _ := s.Events(ctx, store.EventQuery{After: all[1].Seq, Limit: 2})
	if len(after) != 2 || after[0].Seq != all[2].Seq {
		t.Errorf("events after %d: %+v", all[1].Seq, after)
	}
	tail, _ := s.Events(ctx, store.EventQuery{Limit: 2, Last: true})
	if len(tail) != 2 || tail[0].Seq != all[3].Seq || tail[1].Seq != all[4].Seq {
		t.Errorf("the last 2 events: %+v", tail)
	}
	tailJ0, _ := s.Events(ctx, store.EventQuery{Job: "j0", Limit: 2, Last: true})
	if len(tailJ0) != 2 || tailJ0[0].Message != "2" || tailJ0[1].Message != "4" {
		t.Errorf("the last 2 events of j0: %+v", tailJ0)
	}
}

func testTenants(t *testing.T, s store.Store, reopen func() store.Store) {
	ctx := context.Background()
	if ts, err := s.Tenants(ctx); err != nil || len(ts) != 0 {
		t.Fatalf("no tenants yet: %v %v", ts, err)
	}
	blue := store.Tenant{Name: "blue", Weight: 2, Quota: 64, ModelQuotas: map[string]int{"h100": 32}, PowerQuotaKW: 250, UpdatedAt: t0}
	if err := s.PutTenant(ctx, blue, true); err != nil {
		t.Fatal(err)
	}
	if err := s.PutTenant(ctx, store.Tenant{Name: "acme", Weight: 0.5, UpdatedAt: t0}, true); err != nil {
		t.Fatal(err)
	}
	if err := s.PutTenant(ctx, blue, true); !errors.Is(err, store.ErrExists) {
		t.Errorf("create twice: %v", err)
	}
	if err := s.PutTenant(ctx, store.Tenant{Name: "ghost", Weight: 1, UpdatedAt: t0}, false); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("set a missing tenant: %v", err)
	}
	blue.Weight, blue.Quota, blue.UpdatedAt = 3, 0, t0.Add(time.Second)
	if err := s.PutTenant(ctx, blue, false); err != nil {
		t.Fatal(err)
	}
	s = reopen()
	ts, err := s.Tenants(ctx)
	if err != nil || len(ts) != 2 || ts[0].Name != "acme" || ts[0].Weight != 0.5 || ts[0].ModelQuotas != nil ||
		ts[1].Name != blue.Name || ts[1].Weight != blue.Weight || ts[1].Quota != blue.Quota || ts[1].PowerQuotaKW != 250 ||
		ts[1].ModelQuotas["h100"] != 32 || len(ts[1].ModelQuotas) != 1 || !ts[1].UpdatedAt.Equal(blue.UpdatedAt) {
		t.Fatalf("tenants after a reopen: %+v %v", ts, err)
	}
	if err := s.DeleteTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTenant(ctx, "acme"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete twice: %v", err)
	}
	if ts, _ := s.Tenants(ctx); len(ts) != 1 || ts[0].Name != "blue" {
		t.Errorf("after delete: %+v", ts)
	}
}

func testTokens(t *testing.T, s store.Store, _ func() store.Store) {
	ctx := context.Background()
	tok := store.Token{ID: "t1", Hash: store.HashSecret("secret"), Role: store.RoleUser, Tenant: "acme", Name: "ci", CreatedAt: t0}
	if err := s.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateToken(ctx, tok); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate token: %v", err)
	}
	got, err := s.TokenByHash(ctx, store.HashSecret("secret"))
	if err != nil || got.ID != "t1" || got.Role != store.RoleUser || got.Tenant != "acme" || !got.CreatedAt.Equal(t0) {
		t.Errorf("TokenByHash = %+v, %v", got, err)
	}
	if _, err := s.TokenByHash(ctx, store.HashSecret("other")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown token: %v", err)
	}
	s.CreateToken(ctx, store.Token{ID: "t0", Hash: "h0", Role: store.RoleAdmin, CreatedAt: t0})
	all, err := s.Tokens(ctx)
	if err != nil || len(all) != 2 || all[0].ID != "t0" {
		t.Errorf("Tokens = %+v, %v", all, err)
	}
	if err := s.DeleteToken(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenByHash(ctx, store.HashSecret("secret")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoked token still found: %v", err)
	}
	if err := s.DeleteToken(ctx, "t1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoking twice: %v", err)
	}
}

func testLease(t *testing.T, s store.Store, _ func() store.Store) {
	ctx := context.Background()
	const ttl = 10 * time.Second
	l, err := s.AcquireLease(ctx, "leader", "a", t0, ttl)
	if err != nil || l.Holder != "a" || l.Epoch != 1 || !l.ExpiresAt.Equal(t0.Add(ttl)) {
		t.Fatalf("first acquire = %+v, %v", l, err)
	}
	if l, _ := s.AcquireLease(ctx, "leader", "b", t0.Add(5*time.Second), ttl); l.Holder != "a" {
		t.Errorf("b took a live lease: %+v", l)
	}
	if l, _ := s.AcquireLease(ctx, "leader", "a", t0.Add(5*time.Second), ttl); l.Holder != "a" || l.Epoch != 1 || !l.ExpiresAt.Equal(t0.Add(15*time.Second)) {
		t.Errorf("renewal = %+v", l)
	}
	fenced := store.Changes{Events: []store.Event{{Time: t0, Kind: "fenced"}}, Fence: &store.Fence{Lease: "leader", Holder: "a", Now: t0.Add(6 * time.Second)}}
	if err := s.Apply(ctx, fenced); err != nil {
		t.Errorf("apply fenced by a held lease: %v", err)
	}
	l, _ = s.AcquireLease(ctx, "leader", "b", t0.Add(16*time.Second), ttl)
	if l.Holder != "b" || l.Epoch != 2 {
		t.Errorf("b after expiry = %+v", l)
	}
	fenced.Fence.Now = t0.Add(17 * time.Second)
	if err := s.Apply(ctx, fenced); !errors.Is(err, store.ErrNotLeader) {
		t.Errorf("apply by a deposed holder: %v, want ErrNotLeader", err)
	}
	if err := s.ReleaseLease(ctx, "leader", "b"); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.AcquireLease(ctx, "leader", "a", t0.Add(18*time.Second), ttl); l.Holder != "a" || l.Epoch != 3 {
		t.Errorf("a after release = %+v", l)
	}
	if ev, _ := s.Events(ctx, store.EventQuery{}); len(ev) != 1 {
		t.Errorf("events: %+v", ev)
	}
}

func testConcurrentSubmits(t *testing.T, s store.Store, _ func() store.Store) {
	const workers, per = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i += 5 {
				var batch []store.Job
				for k := i; k < i+5; k++ {
					batch = append(batch, newJob(fmt.Sprintf("w%d-%03d", w, k), "acme", 1))
				}
				if _, err := s.SubmitJobs(context.Background(), batch); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all, err := s.Jobs(context.Background(), store.JobQuery{})
	if err != nil || len(all) != workers*per {
		t.Fatalf("%d jobs stored, want %d (%v)", len(all), workers*per, err)
	}
}

func testReopen(t *testing.T, s store.Store, reopen func() store.Store) {
	mustSubmit(t, s, newJob("keep", "acme", 4))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := reopen()
	if got := mustJob(t, s2, "keep"); got.Spec.Accelerators != 4 {
		t.Errorf("after reopen: %+v", got)
	}
}

package bench

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"stargate/engine"
	"stargate/fleet"
	"stargate/server"
	"stargate/server/enginesched"
	"stargate/store"
)

// PassOptions configures MeasurePass.
type PassOptions struct {
	// Fleet must have at least Nodes nodes; the first Nodes register.
	Fleet *fleet.Fleet
	Nodes int
	// Pending jobs wait in the queue before the first pass; Arrivals more
	// are submitted before the last.
	Pending, Arrivals int
	// HeapProfile, when set, is where a heap profile is written after the
	// steady pass (go tool pprof -sample_index=inuse_space); CPUProfile
	// where a CPU profile of the first pass is written, and SteadyProfile
	// of the steady one.
	HeapProfile, CPUProfile, SteadyProfile string
}

// PassResult is the time of reconcile passes over many nodes: the first
// (the engine built from the store, the queue placed and committed), a
// steady one (nothing new), and one after Arrivals new submits.
type PassResult struct {
	Store   string  `json:"store"`
	Nodes   int     `json:"nodes"`
	Pending int     `json:"pending"`
	Running int     `json:"running_after_first"`
	FirstS  float64 `json:"first_pass_s"`
	// FirstPasses is the number of passes the first took (a large queue
	// is read over several, each of bounded work), FirstMaxS the longest.
	FirstPasses int     `json:"first_passes"`
	FirstMaxS   float64 `json:"first_longest_pass_s"`
	// A priority-1000 job is submitted after the queue, before the new
	// leader's first pass: LeaderHighPlacedIn is the pass that placed it
	// (0: none of the first passes), LeaderHighS the time from the first
	// pass's start to the end of that pass. It is not counted in Running.
	LeaderHighPlacedIn int     `json:"new_leader_high_priority_placed_in_pass"`
	LeaderHighS        float64 `json:"new_leader_high_priority_placed_after_s"`
	SteadyS            float64 `json:"steady_pass_s"`
	Arrivals           int     `json:"arrivals"`
	IncrementS         float64 `json:"pass_after_arrivals_s"`
	PlacedAfter        int     `json:"placed_after_arrivals"`
	// Memory after the steady pass, once collected: the heap the server
	// and its scheduler hold beyond the store's (HeapB); that less what
	// the same server holds with no queue (its nodes, the engine's
	// snapshot), divided by the jobs still pending (the running ones count
	// against them too); the size of one job's stored spec; and the
	// process's resident memory then and at its peak.
	HeapB           uint64  `json:"heap_bytes"`
	HeapPerPendingB float64 `json:"heap_per_pending_bytes"`
	SpecB           int     `json:"stored_spec_bytes"`
	RSSB            uint64  `json:"rss_bytes"`
	PeakRSSB        uint64  `json:"peak_rss_bytes"`
	// A node comes free (one more registers) and a priority-1000 job is
	// submitted after the steady pass: HighPlacedIn is the pass (1 or 2)
	// that placed it, 0 when neither did, -1 when the fleet has no node
	// left to register; HighPassS the longest of those passes.
	HighPlacedIn int     `json:"high_priority_placed_in_pass"`
	HighPassS    float64 `json:"high_priority_pass_s"`
	// GET /v1/power and /metrics over all these nodes: the first read of
	// the power tree (computed from the store), then the median and p99
	// of 50 reads of each while nothing is written (kept in memory).
	PowerFirstS float64 `json:"power_first_s"`
	PowerP50MS  float64 `json:"power_p50_ms"`
	PowerP99MS  float64 `json:"power_p99_ms"`
	// MetricsFirstS is the first read of /metrics after a pass's writes
	// (the job counts read from the store).
	MetricsFirstS float64 `json:"metrics_first_s"`
	MetricsP50MS  float64 `json:"metrics_p50_ms"`
	MetricsP99MS  float64 `json:"metrics_p99_ms"`
}

// MeasurePass registers nodes and pending jobs straight into a fresh
// store, then times reconcile passes of a server driving the engine.
func MeasurePass(ctx context.Context, kind, dsn string, o PassOptions) (PassResult, error) {
	if o.Nodes > len(o.Fleet.Nodes) {
		return PassResult{}, fmt.Errorf("the fleet has %d nodes, fewer than %d", len(o.Fleet.Nodes), o.Nodes)
	}
	st, cleanup, err := openFresh(ctx, kind, dsn)
	if err != nil {
		return PassResult{}, err
	}
	defer cleanup()
	defer st.Close()
	now := time.Now().UTC()
	nodes := make([]store.Node, 0, 10000)
	for i := 0; i < o.Nodes; i++ {
		m := o.Fleet.NodeModel(i)
		nodes = append(nodes, store.Node{Name: o.Fleet.NodeName(i), Model: m.Name, Accelerators: m.Accelerators,
			RegisteredAt: now, HeartbeatAt: now, DrawW: -1})
		if len(nodes) == cap(nodes) || i == o.Nodes-1 {
			if err := st.RegisterNodes(ctx, nodes); err != nil {
				return PassResult{}, err
			}
			nodes = nodes[:0]
		}
	}
	seq := 0
	submit := func(n int) error {
		shapes := []int{8, 8, 8, 64, 256}
		for n > 0 {
			batch := make([]store.Job, 0, min(n, 5000))
			for len(batch) < cap(batch) {
				seq++
				a := shapes[seq%len(shapes)]
				batch = append(batch, store.Job{ID: fmt.Sprintf("p%09d", seq), Tenant: fmt.Sprintf("t%d", seq%7), State: store.JobPending,
					Version: 1, SubmittedAt: now.Add(time.Duration(seq)), Spec: benchSpec(a)})
			}
			if _, err := st.SubmitJobs(ctx, batch); err != nil {
				return err
			}
			n -= len(batch)
		}
		return nil
	}
	newServer := func() (*server.Server, error) {
		sched, err := enginesched.New(o.Fleet, engine.Config{}, enginesched.Options{})
		if err != nil {
			return nil, err
		}
		return server.New(server.Config{Store: st, Fleet: o.Fleet, Scheduler: sched, HeartbeatTimeout: time.Hour, LeaderTTL: time.Hour, ID: "bench"})
	}
	if _, err := st.AcquireLease(ctx, server.LeaseName, "bench", time.Now(), time.Hour); err != nil {
		return PassResult{}, err
	}
	// What a server costs with no queue (its nodes, the engine's
	// snapshot), to tell the cost of the queue from it.
	base := liveHeap()
	var noQueue uint64
	{
		srv, err := newServer()
		if err != nil {
			return PassResult{}, err
		}
		if err := srv.Reconcile(ctx); err != nil {
			return PassResult{}, err
		}
		if h := liveHeap(); h > base {
			noQueue = h - base
		}
		runtime.KeepAlive(srv)
	}
	if err := submit(o.Pending); err != nil {
		return PassResult{}, err
	}
	base = liveHeap()
	srv, err := newServer()
	if err != nil {
		return PassResult{}, err
	}
	pass := func() (float64, error) {
		t0 := time.Now()
		err := srv.Reconcile(ctx)
		return time.Since(t0).Seconds(), err
	}
	r := PassResult{Store: kind, Nodes: o.Nodes, Pending: o.Pending, Arrivals: o.Arrivals}
	// A new leader reads a large queue over several passes of bounded
	// work, and schedules once it is whole.
	stop, err := cpuProfile(o.CPUProfile)
	if err != nil {
		return r, err
	}
	const leaderHigh = "z-leader-high-priority" // after every queued job in submission order
	{
		spec := benchSpec(8)
		spec.Priority = 1000
		if _, err := st.SubmitJobs(ctx, []store.Job{{ID: leaderHigh, Tenant: "t0", State: store.JobPending, Version: 1,
			SubmittedAt: time.Now().UTC(), Spec: spec}}); err != nil {
			return r, err
		}
	}
	for r.FirstPasses == 0 || srv.QueueLoading() {
		t, err := pass()
		if err != nil {
			return r, err
		}
		r.FirstS += t
		r.FirstMaxS = max(r.FirstMaxS, t)
		r.FirstPasses++
		if r.LeaderHighPlacedIn == 0 {
			j, err := st.Job(ctx, leaderHigh)
			if err != nil {
				return r, err
			}
			if j.State == store.JobRunning {
				r.LeaderHighPlacedIn, r.LeaderHighS = r.FirstPasses, r.FirstS
			}
		}
	}
	running, err := st.Jobs(ctx, store.JobQuery{States: []store.JobState{store.JobRunning}})
	if err != nil {
		return r, err
	}
	r.Running = len(running)
	if r.LeaderHighPlacedIn > 0 {
		r.Running--
	}
	placedFirst := len(running)
	stop()
	if stop, err = cpuProfile(o.SteadyProfile); err != nil {
		return r, err
	}
	if r.SteadyS, err = pass(); err != nil {
		return r, err
	}
	stop()
	if h := liveHeap(); h > base {
		r.HeapB = h - base
	}
	if left := o.Pending - r.Running; left > 0 && r.HeapB > noQueue {
		r.HeapPerPendingB = float64(r.HeapB-noQueue) / float64(left)
	}
	r.SpecB = len(store.EncodeJSON(benchSpec(8)))
	r.RSSB, r.PeakRSSB = ProcRSS(os.Getpid())
	if o.HeapProfile != "" {
		if err := writeHeapProfile(o.HeapProfile); err != nil {
			return r, err
		}
	}
	r.HighPlacedIn = -1
	if o.Nodes < len(o.Fleet.Nodes) {
		if r.HighPlacedIn, r.HighPassS, err = highPriority(ctx, st, o.Fleet, o.Nodes, now, pass); err != nil {
			return r, err
		}
	}
	if err := submit(o.Arrivals); err != nil {
		return r, err
	}
	if r.IncrementS, err = pass(); err != nil {
		return r, err
	}
	after, err := st.Jobs(ctx, store.JobQuery{States: []store.JobState{store.JobRunning}})
	if err != nil {
		return r, err
	}
	r.PlacedAfter = len(after) - placedFirst
	if r.HighPlacedIn > 0 {
		r.PlacedAfter--
	}
	secret, _, err := srv.MintToken(ctx, store.RoleOperator, "", "bench")
	if err != nil {
		return r, err
	}
	for _, g := range []struct {
		path            string
		first, p50, p99 *float64
	}{{"/v1/power", &r.PowerFirstS, &r.PowerP50MS, &r.PowerP99MS}, {"/metrics", &r.MetricsFirstS, &r.MetricsP50MS, &r.MetricsP99MS}} {
		times := make([]time.Duration, 0, 51)
		for range 51 {
			req := httptest.NewRequest("GET", g.path, nil)
			req.Header.Set("Authorization", "Bearer "+secret)
			rec := httptest.NewRecorder()
			t0 := time.Now()
			srv.Handler().ServeHTTP(rec, req)
			times = append(times, time.Since(t0))
			if rec.Code != 200 {
				return r, fmt.Errorf("GET %s: %d %s", g.path, rec.Code, rec.Body.String())
			}
		}
		*g.first = times[0].Seconds()
		rest := times[1:]
		slices.Sort(rest)
		*g.p50 = ms(rest[len(rest)/2])
		*g.p99 = ms(rest[len(rest)*99/100])
	}
	return r, nil
}

// openFresh opens an empty store of a kind and returns what removes it.
func openFresh(ctx context.Context, kind, dsn string) (store.Store, func(), error) {
	switch kind {
	case "sqlite":
		dir, err := os.MkdirTemp("", "stargate-bench-")
		if err != nil {
			return nil, nil, err
		}
		st, _, err := server.OpenStore(ctx, "sqlite:"+filepath.Join(dir, "stargate.db"), dir)
		if err != nil {
			os.RemoveAll(dir)
			return nil, nil, err
		}
		return st, func() { os.RemoveAll(dir) }, nil
	case "postgres":
		if dsn == "" {
			return nil, nil, fmt.Errorf("no PostgreSQL DSN (--postgres or STARGATE_BENCH_POSTGRES)")
		}
		d, drop, err := FreshSchema(ctx, dsn)
		if err != nil {
			return nil, nil, err
		}
		st, _, err := server.OpenStore(ctx, d, "")
		if err != nil {
			drop()
			return nil, nil, err
		}
		return st, drop, nil
	}
	return nil, nil, fmt.Errorf("unknown store %q (sqlite, postgres)", kind)
}

// benchSpec is the spec of the benchmark's queued jobs.
func benchSpec(accelerators int) store.JobSpec {
	return store.JobSpec{Kind: store.KindTraining, Accelerators: accelerators, DurationS: 3600}
}

// highPriority frees a node (node i of the fleet registers) and submits a
// priority-1000 job that fits it, then runs up to two passes. It returns
// the pass that placed the job (0: neither) and the longest pass's time.
func highPriority(ctx context.Context, st store.Store, f *fleet.Fleet, i int, now time.Time, pass func() (float64, error)) (int, float64, error) {
	m := f.NodeModel(i)
	if err := st.RegisterNodes(ctx, []store.Node{{Name: f.NodeName(i), Model: m.Name, Accelerators: m.Accelerators,
		RegisteredAt: now, HeartbeatAt: now, DrawW: -1}}); err != nil {
		return 0, 0, err
	}
	spec := benchSpec(m.Accelerators)
	spec.Priority = 1000
	id := "z-high-priority" // after every queued job in submission order
	if _, err := st.SubmitJobs(ctx, []store.Job{{ID: id, Tenant: "t0", State: store.JobPending, Version: 1,
		SubmittedAt: time.Now().UTC(), Spec: spec}}); err != nil {
		return 0, 0, err
	}
	longest := 0.0
	for n := 1; n <= 2; n++ {
		s, err := pass()
		if err != nil {
			return 0, longest, err
		}
		longest = max(longest, s)
		j, err := st.Job(ctx, id)
		if err != nil {
			return 0, longest, err
		}
		if j.State == store.JobRunning {
			return n, longest, nil
		}
	}
	return 0, longest, nil
}

// liveHeap is the heap in use once collected.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// ProcRSS reads a process's resident memory now and at its peak, in
// bytes, from /proc/PID/status (Linux; zeros elsewhere or when unknown).
func ProcRSS(pid int) (now, peak uint64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			now = kb << 10
		case "VmHWM":
			peak = kb << 10
		}
	}
	return now, peak
}

func writeHeapProfile(path string) error {
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(fh); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

// cpuProfile starts a CPU profile to a file (none when the path is
// empty) and returns what stops it.
func cpuProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	fh, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(fh); err != nil {
		fh.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); fh.Close() }, nil
}

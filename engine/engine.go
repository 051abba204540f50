package engine

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Tenant holds a tenant's fair-share weight and quota.
type Tenant struct {
	// Weight is the tenant's share under the fair policy (0 means 1).
	Weight float64
	// Quota caps the accelerators the tenant may run at once (0 = none).
	Quota int
}

// Config configures an Engine. The zero value is valid: priority order,
// pack dispatch, no preemption.
type Config struct {
	// Queue names the queue policy: fifo, priority (default), fair,
	// backfill, las, or one added to Registry.
	Queue string
	// Sites names the site policy for multi-site dispatch: pack (default),
	// capacity, price, carbon, or one added to Registry.
	Sites string
	// Registry holds the policies; nil means NewRegistry().
	Registry *Registry
	// Preemption lets a job that cannot start stop lower-priority
	// preemptible jobs.
	Preemption bool
	// MaxPreemptions bounds the preemption attempts per pass (default 8).
	MaxPreemptions int
	// MinRuntime protects a job from preemption for this long after it
	// starts (default 0).
	MinRuntime time.Duration
	// Backoff is the delay before a preempted or failed job may start
	// again; it doubles with each requeue up to MaxBackoff (defaults 1m, 1h).
	Backoff, MaxBackoff time.Duration
	// Tenants holds weights and quotas by tenant name.
	Tenants map[string]Tenant
	// FairHalfLife is the half-life of the fair policy's usage (default 24h).
	FairHalfLife time.Duration
	// Capping configures Control; see CapConfig.
	Capping CapConfig
	// Grid configures the shed for grid events; see GridConfig.
	Grid GridConfig
	// LASThresholds are the las policy's queue thresholds, increasing, in
	// accelerator-seconds of attained service (default
	// DefaultLASThresholds).
	LASThresholds []float64
}

// Engine decides which pending jobs start where, which running jobs are
// preempted or capped. It owns the pending queue and the fair-share
// usage; the Snapshot it is given owns the running jobs. The same calls
// in the same order give the same decisions. An Engine is not safe for
// concurrent use.
type Engine struct {
	cfg Config
	// weightFn is e.weight, bound once (see view)
	weightFn func(tenant string) float64
	queue    QueuePolicy
	sites    SitePolicy
	pending  []*Pending
	byID     map[JobID]*Pending
	seq      uint64
	usage    map[string]float64
	usageAt  time.Time
	seen     map[string]float64 // tenants' accelerator-seconds at the last pass

	// the queue's bookkeeping (queue.go)
	passN    uint64     // passes run
	fresh    []*Pending // pushed since the last pass began (Pending.fresh)
	passing  bool
	at       time.Time             // the last pass's time
	incoming []*Pending            // requeued during a pass, queued after it
	sorted   bool                  // pending is in the static order
	removedN int                   // marked entries in pending
	skipped  int                   // marked entries passes stepped over since the last compaction
	sizes    map[int]int           // pending jobs by accelerators asked
	bySize   map[uint64]*sizeQueue // the same by duration too, in the static order, by sizeKey.id
	// spareSizes are emptied size queues, for reuse (maxSpareSizes);
	// dirtySizes those with removed jobs (sizeQueue.removed > 0)
	spareSizes, dirtySizes []*sizeQueue
	lazyFair               bool // the built-in fair policy, merged lazily
	byTenant               map[string]*tenantQueue
	minK                   int
	untried                Reason     // why the jobs the last pass did not reach wait
	lastBound              bound      // what the last pass could still start when it ended
	waitBuf                []Wait     // Result.Waiting's storage, reused by every pass
	decBuf                 []Decision // Result.Decisions', likewise
	// the pass memo: refusals, and jobs known to fit without the hold
	memo, fits memoTable

	ranker    Ranker // the policy's preemption rank, nil: Job.Priority
	classes   map[classKey]int32
	classList []classKey
	classElig [][]int32 // by class, for snap
	lastClass int32     // the class classOf found last, plus one (0: none yet)

	grid *gridState // grid events and ramps, nil until needed (grid.go)

	// backfill's reservation searches, kept by pool (backfill.go), and
	// their scratch buffers
	resv      resvCache
	cands     []resvCand
	walks     []endWalk
	expectLog []moved
	freed     []*Alloc
	holdLog   []moved
	heldBuf   []Slot

	snap  *Snapshot           // the snapshot the caches below belong to
	elig  map[eligKey][]int32 // eligible pools by job constraint
	pl    placer
	order []choice
}

type eligKey struct{ model, region, site string }

// classKey is what decides where a job may go and how it is refused: jobs
// of one class and size fail alike, and a larger one fails where a smaller
// one did (the pass memo). Each pending job knows its class by number.
type classKey struct {
	elig     eligKey
	topo     Topology
	req      bool
	perNode  int
	fraction float64
}

// classOf returns the number of j's class, adding it when new.
func (e *Engine) classOf(j *Job) int32 {
	k := classKey{elig: eligKey{strings.ToLower(j.Model), j.Region, j.Site}, topo: j.Topology, req: j.TopologyRequired,
		perNode: j.PerNode, fraction: j.PowerFraction}
	// a stream of submits is mostly of one class: compare before hashing
	if c := e.lastClass - 1; c >= 0 && e.classList[c] == k {
		return c
	}
	c, ok := e.classes[k]
	if !ok {
		c = int32(len(e.classList))
		e.classes[k] = c
		e.classList = append(e.classList, k)
	}
	e.lastClass = c + 1
	return c
}

// classEligible returns the pools a class of jobs may use.
func (e *Engine) classEligible(c int32) []int32 {
	for int(c) >= len(e.classElig) {
		e.classElig = append(e.classElig, nil)
	}
	if e.classElig[c] == nil {
		k := e.classList[c]
		e.classElig[c] = e.eligible(&Job{Model: k.elig.model, Region: k.elig.region, Site: k.elig.site})
	}
	return e.classElig[c]
}

// New returns an engine configured by cfg.
func New(cfg Config) (*Engine, error) {
	if cfg.Registry == nil {
		cfg.Registry = NewRegistry()
	}
	if cfg.Queue == "" {
		cfg.Queue = "priority"
	}
	if cfg.Sites == "" {
		cfg.Sites = "pack"
	}
	if cfg.MaxPreemptions == 0 {
		cfg.MaxPreemptions = 8
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = time.Minute
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = time.Hour
	}
	if cfg.FairHalfLife == 0 {
		cfg.FairHalfLife = 24 * time.Hour
	}
	cfg.Capping = cfg.Capping.withDefaults()
	if err := cfg.Capping.validate(); err != nil {
		return nil, err
	}
	cfg.Grid = cfg.Grid.withDefaults(cfg.Capping.MinCapFraction)
	if err := cfg.Grid.validate(); err != nil {
		return nil, err
	}
	q, err := cfg.Registry.Queue(cfg.Queue)
	if err != nil {
		return nil, err
	}
	if l, ok := q.(lasPolicy); ok && len(cfg.LASThresholds) > 0 {
		for i, t := range cfg.LASThresholds {
			if !(t > 0) || math.IsInf(t, 0) || i > 0 && t <= cfg.LASThresholds[i-1] {
				return nil, fmt.Errorf("engine: las thresholds must be positive, finite and increasing, got %v", cfg.LASThresholds)
			}
		}
		l.thresholds = append([]float64(nil), cfg.LASThresholds...)
		q = l
	}
	st, err := cfg.Registry.Site(cfg.Sites)
	if err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, queue: q, sites: st, byID: map[JobID]*Pending{}, usage: map[string]float64{}, seen: map[string]float64{},
		sizes: map[int]int{}, bySize: map[uint64]*sizeQueue{}, classes: map[classKey]int32{}, byTenant: map[string]*tenantQueue{}}
	_, e.lazyFair = q.(fairPolicy)
	e.ranker, _ = q.(Ranker)
	return e, nil
}

// Config returns the engine's configuration with defaults filled in.
func (e *Engine) Config() Config { return e.cfg }

// Submit adds a job to the queue at now. It fails for an invalid job or
// an ID already pending.
func (e *Engine) Submit(j Job, now time.Time) error {
	if err := j.Validate(); err != nil {
		return err
	}
	if _, ok := e.byID[j.ID]; ok {
		return fmt.Errorf("engine: job %d: %w", j.ID, ErrDuplicateJob)
	}
	e.push(&Pending{Job: j, Submitted: now})
	return nil
}

// Cancel removes a pending job; it reports whether the job was pending.
// A running job is stopped by the driver and released from the snapshot.
func (e *Engine) Cancel(id JobID) bool {
	p, ok := e.byID[id]
	if !ok {
		return false
	}
	e.remove(p)
	return true
}

// Pending returns a pending job, or false.
func (e *Engine) Pending(id JobID) (*Pending, bool) {
	p, ok := e.byID[id]
	return p, ok
}

// Queued returns the number of pending jobs.
func (e *Engine) Queued() int { return len(e.byID) }

// Usage returns a tenant's decayed accelerator-seconds as of the last
// pass. Only a queue policy that orders by usage keeps it (fair, and a
// policy added to a Registry without a static order); under fifo,
// priority, backfill and las it is 0.
func (e *Engine) Usage(tenant string) float64 { return e.usage[tenant] }

// Requeue stops a running job (its node failed, or the driver lost it) and
// puts it back in the queue with backoff; it reports whether it ran.
func (e *Engine) Requeue(s *Snapshot, id JobID, now time.Time) bool {
	a, ok := s.Release(id, now)
	if !ok {
		return false
	}
	e.requeue(a, now)
	return true
}

func (e *Engine) requeue(a *Alloc, now time.Time) {
	n := a.requeues + 1
	back := e.cfg.Backoff << min(n-1, 20)
	if back > e.cfg.MaxBackoff || back <= 0 {
		back = e.cfg.MaxBackoff
	}
	e.push(&Pending{Job: a.Job, Seq: a.seq, Submitted: a.submitted, NotBefore: now.Add(back), Requeues: n,
		Attained: a.attainedAt(now)})
}

// FailNode marks node n Down, releases the jobs running on it and
// requeues them with backoff. It returns those jobs, in ID order.
func (e *Engine) FailNode(s *Snapshot, n int, now time.Time) []JobID {
	ids := s.SetNodeState(n, Down)
	for _, id := range ids {
		e.Requeue(s, id, now)
	}
	return ids
}

// rank is how a job ranks for preemption: its priority, or the policy's
// rank for its attained service.
func (e *Engine) rank(j *Job, attained float64) int {
	if e.ranker != nil {
		return e.ranker.Rank(j, attained)
	}
	return j.Priority
}

// view is what the queue policy sees at now. The weight lookup is bound
// once: a method value made at every pass would be an allocation a pass.
func (e *Engine) view(now time.Time) QueueView {
	if e.weightFn == nil {
		e.weightFn = e.weight
	}
	return QueueView{Now: now, Usage: e.usage, Weight: e.weightFn}
}

func (e *Engine) weight(t string) float64 {
	if w := e.cfg.Tenants[t].Weight; w > 0 {
		return w
	}
	return 1
}

// account decays the tenants' usage to now and adds the
// accelerator-seconds they used since the last pass.
func (e *Engine) account(s *Snapshot, now time.Time) {
	if !e.usageAt.IsZero() && now.After(e.usageAt) {
		decay := math.Exp2(-now.Sub(e.usageAt).Seconds() / e.cfg.FairHalfLife.Seconds())
		for t := range e.usage {
			e.usage[t] *= decay
		}
	}
	if e.usageAt.IsZero() || now.After(e.usageAt) {
		e.usageAt = now
	}
	for i, t := range s.tenantName {
		if !s.doneOK[i] && s.tenants[i] == 0 {
			continue // nothing booked, nothing running
		}
		total := s.tenantSeconds(int32(i), now)
		if d := total - e.seen[t]; d > 0 {
			e.usage[t] += d
		}
		e.seen[t] = total
	}
}

// bind points the per-snapshot caches at s.
func (e *Engine) bind(s *Snapshot) {
	if e.snap != s {
		e.snap = s
		e.elig = map[eligKey][]int32{}
		e.classElig = nil
		e.pl = placer{s: s}
	}
}

// eligible returns the pools a job may use.
func (e *Engine) eligible(j *Job) []int32 {
	k := eligKey{strings.ToLower(j.Model), j.Region, j.Site}
	if ps, ok := e.elig[k]; ok {
		return ps
	}
	s := e.snap
	f := s.f
	accel := -1
	model := -1
	if k.model != "" {
		accel = f.Catalog.Accelerator(k.model)
		model = f.Catalog.Node(k.model)
	}
	ps := []int32{}
	for i, p := range s.pools {
		if k.model != "" && p.accel != accel && p.model != model {
			continue
		}
		site := &f.Sites[p.site]
		if j.Site != "" && site.Name != j.Site {
			continue
		}
		if j.Region != "" && f.Regions[site.Region].Name != j.Region {
			continue
		}
		ps = append(ps, int32(i))
	}
	e.elig[k] = ps
	return ps
}

// Queue returns the pending jobs in submission order.
func (e *Engine) Queue() []*Pending {
	out := make([]*Pending, 0, len(e.byID))
	for _, p := range e.pending {
		if !p.removed {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

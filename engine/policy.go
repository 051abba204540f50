package engine

import (
	"container/heap"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Pending is a job waiting in the engine's queue, as policies see it.
// Policies must not modify it.
type Pending struct {
	Job Job
	// Seq is the submission order: strictly increasing per Submit.
	Seq       uint64
	Submitted time.Time
	// NotBefore delays a job that was preempted or lost its node.
	NotBefore time.Time
	// Requeues counts preemptions and failures, for backoff.
	Requeues int
	// Attained is the service the job has had in earlier runs (it was
	// preempted or lost its node): accelerators × seconds run.
	Attained float64

	removed bool
	fresh   bool   // pushed since the last pass began: no pass has seen it
	class   int32  // its class of constraints (classKey)
	tried   uint64 // the last pass that tried it, with why
	why     Reason
}

// Blocking says how a pass goes on after a job that cannot start.
type Blocking uint8

// The ways a pass treats a job that cannot start. A job that can never
// run as asked (no-matching-accelerators, no-domain-large-enough) waits
// without holding anything back, whatever the policy.
const (
	// SkipBlocked tries the later jobs (greedy).
	SkipBlocked Blocking = iota
	// StopAtBlocked makes every later job wait: strict order.
	StopAtBlocked
	// ReserveForHead reserves capacity for the first job that cannot start
	// at the time running jobs are expected to free enough of it; later
	// jobs start only if they do not delay it (EASY backfill).
	ReserveForHead
)

// QueueView is what a queue policy may read about the world.
type QueueView struct {
	Now time.Time
	// Usage is each tenant's decayed accelerator-seconds.
	Usage map[string]float64
	// Weight returns a tenant's fair-share weight (> 0).
	Weight func(tenant string) float64
}

// QueuePolicy orders the pending queue for a pass. Order sorts jobs in
// place into the order the pass considers them; it must be deterministic
// (ties broken by Seq). Blocking says what a pass does when a job in that
// order cannot start.
type QueuePolicy interface {
	Name() string
	Order(jobs []*Pending, v QueueView)
	Blocking() Blocking
}

// SiteView is what a site policy may read about one site at now.
type SiteView struct {
	Site int32
	Name string
	// Free is the site's free accelerators of the job's model.
	Free int
	// PriceUSDPerMWh and CarbonGPerKWh are the site's energy mix at now.
	PriceUSDPerMWh, CarbonGPerKWh float64
}

// SitePolicy chooses among the sites a job may use (multi-site dispatch).
// Score ranks a site for a job: lower is better; sites of equal score are
// taken in best-fit order. It must be deterministic.
type SitePolicy interface {
	Name() string
	Score(v *SiteView, j *Job) float64
}

// ErrDuplicatePolicy is returned when a registry already has the name.
var ErrDuplicatePolicy = errors.New("engine: duplicate policy name")

// ErrUnknownPolicy is returned for a name a registry does not have.
var ErrUnknownPolicy = errors.New("engine: unknown policy")

// Registry holds the queue and site policies by name. NewRegistry fills
// it with the built-in ones; drivers may add their own.
type Registry struct {
	queue map[string]QueuePolicy
	site  map[string]SitePolicy
}

// NewRegistry returns a registry with the built-in policies: queue
// policies fifo, priority, fair, backfill and las; site policies pack,
// capacity, price and carbon.
func NewRegistry() *Registry {
	r := &Registry{queue: map[string]QueuePolicy{}, site: map[string]SitePolicy{}}
	for _, p := range []QueuePolicy{fifoPolicy{}, priorityPolicy{}, fairPolicy{}, backfillPolicy{}, lasPolicy{DefaultLASThresholds}} {
		if err := r.RegisterQueue(p); err != nil {
			panic(err)
		}
	}
	for _, p := range []SitePolicy{packSites{}, capacitySites{}, priceSites{}, carbonSites{}} {
		if err := r.RegisterSite(p); err != nil {
			panic(err)
		}
	}
	return r
}

// RegisterQueue adds a queue policy; a name already taken is an error.
func (r *Registry) RegisterQueue(p QueuePolicy) error {
	if _, ok := r.queue[p.Name()]; ok {
		return fmt.Errorf("%w: queue policy %q", ErrDuplicatePolicy, p.Name())
	}
	r.queue[p.Name()] = p
	return nil
}

// RegisterSite adds a site policy; a name already taken is an error.
func (r *Registry) RegisterSite(p SitePolicy) error {
	if _, ok := r.site[p.Name()]; ok {
		return fmt.Errorf("%w: site policy %q", ErrDuplicatePolicy, p.Name())
	}
	r.site[p.Name()] = p
	return nil
}

// Queue returns the queue policy with this name.
func (r *Registry) Queue(name string) (QueuePolicy, error) {
	if p, ok := r.queue[name]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("%w: queue policy %q (have %v)", ErrUnknownPolicy, name, r.QueueNames())
}

// Site returns the site policy with this name.
func (r *Registry) Site(name string) (SitePolicy, error) {
	if p, ok := r.site[name]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("%w: site policy %q (have %v)", ErrUnknownPolicy, name, r.SiteNames())
}

// QueueNames lists the queue policies, sorted.
func (r *Registry) QueueNames() []string { return sortedKeys(r.queue) }

// SiteNames lists the site policies, sorted.
func (r *Registry) SiteNames() []string { return sortedKeys(r.site) }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Compile-time checks that the built-ins implement their interfaces.
var (
	_ QueuePolicy = fifoPolicy{}
	_ QueuePolicy = priorityPolicy{}
	_ QueuePolicy = fairPolicy{}
	_ QueuePolicy = backfillPolicy{}
	_ StaticOrder = fifoPolicy{}
	_ StaticOrder = priorityPolicy{}
	_ StaticOrder = backfillPolicy{}
	_ StaticOrder = lasPolicy{}
	_ Ranker      = lasPolicy{}
	_ SitePolicy  = packSites{}
	_ SitePolicy  = capacitySites{}
	_ SitePolicy  = priceSites{}
	_ SitePolicy  = carbonSites{}
)

// QueueKey is what a queue policy orders waiting jobs by, when that is
// the jobs' own fields and their arrival alone.
type QueueKey int

const (
	// KeyOther: the order depends on more than each job (fair share,
	// attained service), or the policy is not a built-in.
	KeyOther QueueKey = iota
	// KeyArrival: arrival order (fifo).
	KeyArrival
	// KeyPriority: priority, highest first, then arrival (priority,
	// backfill).
	KeyPriority
)

// QueueKey says what the engine's queue policy orders waiting jobs by:
// with KeyArrival or KeyPriority, jobs given to the engine in that order
// are its queue's head, and a pass over them decides for them what a
// pass over a longer queue of later jobs would.
func (e *Engine) QueueKey() QueueKey {
	switch e.queue.(type) {
	case fifoPolicy:
		return KeyArrival
	case priorityPolicy, backfillPolicy:
		return KeyPriority
	}
	return KeyOther
}

// fifoPolicy starts jobs strictly in submission order.
type fifoPolicy struct{}

func (fifoPolicy) Name() string       { return "fifo" }
func (fifoPolicy) Blocking() Blocking { return StopAtBlocked }
func (fifoPolicy) Order(q []*Pending, _ QueueView) {
	sort.Slice(q, func(i, j int) bool { return q[i].Seq < q[j].Seq })
}
func (fifoPolicy) Less(a, b *Pending) bool { return a.Seq < b.Seq }

// priorityPolicy orders by priority, then submission; it skips over jobs
// that do not fit.
type priorityPolicy struct{}

func (priorityPolicy) Name() string                    { return "priority" }
func (priorityPolicy) Blocking() Blocking              { return SkipBlocked }
func (priorityPolicy) Order(q []*Pending, _ QueueView) { byPriority(q) }

func (priorityPolicy) Less(a, b *Pending) bool { return priorityLess(a, b) }

func byPriority(q []*Pending) { sort.Slice(q, func(i, j int) bool { return priorityLess(q[i], q[j]) }) }

func priorityLess(a, b *Pending) bool {
	if a.Job.Priority != b.Job.Priority {
		return a.Job.Priority > b.Job.Priority
	}
	return a.Seq < b.Seq
}

// backfillPolicy is priority order with EASY backfill.
type backfillPolicy struct{}

func (backfillPolicy) Name() string                    { return "backfill" }
func (backfillPolicy) Blocking() Blocking              { return ReserveForHead }
func (backfillPolicy) Order(q []*Pending, _ QueueView) { byPriority(q) }
func (backfillPolicy) Less(a, b *Pending) bool         { return priorityLess(a, b) }

// Ranker is implemented by queue policies that rank jobs for preemption
// by something else than Job.Priority: a job may preempt running jobs of
// a lower rank. attained is the job's service so far (accelerator-seconds,
// its current run included for a running job).
type Ranker interface {
	Rank(j *Job, attained float64) int
}

// DefaultLASThresholds are the las policy's queue thresholds: 1 and 10
// accelerator-hours of attained service.
var DefaultLASThresholds = []float64{3600, 36000}

// lasPolicy is Tiresias's discretized two-dimensional least attained
// service (Gu et al., NSDI 2019): a job's attained service is its
// accelerators × the time it has run, over all its runs; jobs are served
// by the queue their service falls in (below the first threshold: queue
// 0, served first), then in submission order, skipping what does not
// fit. It is preemptive with Config.Preemption: a job preempts running
// preemptible jobs of a later queue (their service counted to now), so
// that new and short jobs go ahead of long ones without knowing their
// durations.
type lasPolicy struct{ thresholds []float64 }

func (lasPolicy) Name() string       { return "las" }
func (lasPolicy) Blocking() Blocking { return SkipBlocked }

func (l lasPolicy) queueOf(attained float64) int {
	i := 0
	for i < len(l.thresholds) && attained >= l.thresholds[i] {
		i++
	}
	return i
}

func (l lasPolicy) Less(a, b *Pending) bool {
	if qa, qb := l.queueOf(a.Attained), l.queueOf(b.Attained); qa != qb {
		return qa < qb
	}
	return a.Seq < b.Seq
}

func (l lasPolicy) Order(q []*Pending, _ QueueView) {
	sort.Slice(q, func(i, j int) bool { return l.Less(q[i], q[j]) })
}

func (l lasPolicy) Rank(_ *Job, attained float64) int { return -l.queueOf(attained) }

// fairPolicy interleaves tenants by weighted, decayed usage: the next job
// is always the best (priority, then submission) job of the tenant with
// the least usage per weight, counting the jobs already ordered before it
// as if they ran for their estimated duration (one hour if unknown).
type fairPolicy struct{}

func (fairPolicy) Name() string       { return "fair" }
func (fairPolicy) Blocking() Blocking { return SkipBlocked }

// fairCharge is the nominal run time charged to a job of unknown duration.
const fairCharge = time.Hour

func (fairPolicy) Order(q []*Pending, v QueueView) {
	sort.SliceStable(q, func(i, j int) bool {
		if q[i].Job.Tenant != q[j].Job.Tenant {
			return q[i].Job.Tenant < q[j].Job.Tenant
		}
		if q[i].Job.Priority != q[j].Job.Priority {
			return q[i].Job.Priority > q[j].Job.Priority
		}
		return q[i].Seq < q[j].Seq
	})
	h := &tenantHeap{}
	for i := 0; i < len(q); {
		j := i
		for j < len(q) && q[j].Job.Tenant == q[i].Job.Tenant {
			j++
		}
		t := q[i].Job.Tenant
		w := 1.0
		if v.Weight != nil {
			w = v.Weight(t)
		}
		h.items = append(h.items, &tenantRun{jobs: append([]*Pending(nil), q[i:j]...), share: v.Usage[t] / w, weight: w})
		i = j
	}
	heap.Init(h)
	out := q[:0]
	for h.Len() > 0 {
		tr := h.items[0]
		p := tr.jobs[0]
		out = append(out, p)
		tr.jobs = tr.jobs[1:]
		if len(tr.jobs) == 0 {
			heap.Pop(h)
			continue
		}
		d := p.Job.Duration
		if d <= 0 {
			d = fairCharge
		}
		tr.share += float64(p.Job.Accelerators) * d.Seconds() / tr.weight
		heap.Fix(h, 0)
	}
}

type tenantRun struct {
	jobs   []*Pending
	share  float64
	weight float64
}

type tenantHeap struct{ items []*tenantRun }

func (h *tenantHeap) Len() int { return len(h.items) }
func (h *tenantHeap) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	if a.share != b.share {
		return a.share < b.share
	}
	return a.jobs[0].Seq < b.jobs[0].Seq
}
func (h *tenantHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *tenantHeap) Push(x any)    { h.items = append(h.items, x.(*tenantRun)) }
func (h *tenantHeap) Pop() any {
	x := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return x
}

// packSites has no site preference: the tightest fit anywhere wins.
type packSites struct{}

func (packSites) Name() string                  { return "pack" }
func (packSites) Score(*SiteView, *Job) float64 { return 0 }

// capacitySites prefers the site with the most free accelerators.
type capacitySites struct{}

func (capacitySites) Name() string                      { return "capacity" }
func (capacitySites) Score(v *SiteView, _ *Job) float64 { return -float64(v.Free) }

// priceSites prefers the cheapest energy at now.
type priceSites struct{}

func (priceSites) Name() string                      { return "price" }
func (priceSites) Score(v *SiteView, _ *Job) float64 { return v.PriceUSDPerMWh }

// carbonSites prefers the lowest carbon intensity at now.
type carbonSites struct{}

func (carbonSites) Name() string                      { return "carbon" }
func (carbonSites) Score(v *SiteView, _ *Job) float64 { return v.CarbonGPerKWh }

package server

import (
	"context"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"

	"stargate/store"
)

// QueueKeeper is a Scheduler that keeps the pending queue between passes,
// as the engine does. The loop then tells it what joined and left the
// queue (Enqueue, before Schedule) instead of giving it the whole queue
// every pass (ScheduleInput.Pending is nil), and keeps only a few words
// of each pending job itself: a pass over a queue of millions costs what
// changed, not the queue.
type QueueKeeper interface {
	Scheduler
	// Enqueue changes the queue. A new Generation starts from an empty
	// queue, and the loop gives the whole queue again, over one or more
	// calls, before it asks for decisions of that generation. The jobs
	// are the loop's: the scheduler must neither keep nor modify them.
	Enqueue(q QueueChange) error
}

// QueueChange is what joined and left the queue since the last Enqueue.
type QueueChange struct {
	Generation uint64
	Now        time.Time
	// Tenants are the tenants' weights and quotas, as in ScheduleInput.
	Tenants map[string]TenantConfig
	// Joined are the jobs that joined the queue, in the order they did:
	// new ones, released ones, and running ones back in the queue (their
	// node was lost, or they failed and may restart), which the scheduler
	// requeues with its backoff.
	Joined []store.Job
	// Left are the IDs of pending jobs that left the queue other than by
	// the scheduler's own decisions: cancelled, held, or kept back by a
	// limit (dependencies, arrays, quotas). An ID the scheduler does not
	// hold as pending is ignored.
	Left []string
}

// LoadOrder is the order a new queue is read in, and whether a pass may
// decide from the part read so far.
type LoadOrder int

const (
	// LoadWhole reads the queue by ID and decides once it is whole: the
	// scheduler's order depends on every job (fair share, attained
	// service).
	LoadWhole LoadOrder = iota
	// LoadByID reads the queue by ID (submission order), deciding from
	// what is read: the scheduler serves jobs in the order they join.
	LoadByID
	// LoadByPriority reads the queue by priority, highest first, then by
	// ID, deciding from what is read: the scheduler serves jobs by
	// priority, then in the order they join.
	LoadByPriority
)

// PrefixKeeper is a QueueKeeper whose queue order is static and read
// from the stored jobs: the jobs read in its LoadOrder so far are the
// head of its queue, and every job read later goes after them, so a pass
// over the part read decides for those jobs what a pass over the whole
// queue would. A new leader then places a high-priority job in its first
// pass, however long the queue it is still reading.
type PrefixKeeper interface {
	QueueKeeper
	LoadOrder() LoadOrder
}

// loadPage is the number of jobs read from the store at once, at most
// Config.ReadPerPass.
var loadPage = 10_000

// liveCache is the reconcile loop's copy of the active state. Every pass
// follows the store's change feed (JobChanges) and re-reads only the jobs
// that changed, and the nodes only when their digest moved, so that a pass
// over a large fleet and queue does not decode every node and job again.
//
// Running jobs, and pending jobs that a limit of the loop may keep back
// (held, array elements, jobs with dependencies, jobs of tenants with
// model or power quotas), are kept whole (jobs): a pass looks at each of
// them. Every other pending job is the scheduler's alone when it keeps
// its queue (a QueueKeeper): the loop keeps only what a decision about it
// writes (queue), and reads the job whole again once it is placed.
type liveCache struct {
	haveNodes bool
	nodesAt   time.Time // when nodes were last read in full
	digest    store.NodeDigest
	nodes     []store.Node

	gen     uint64 // the generation loaded, or being loaded
	loading bool   // the queue is being read into a new generation
	loaded  bool   // the queue of gen is whole
	order   LoadOrder
	// after and afterPriority are the last pending job read, and its
	// priority (LoadByPriority); "" and MaxInt before the first.
	after         string
	afterPriority int
	cursor        int64 // of the store's change feed
	read, passes  int   // pending jobs read, and the passes that read them
	tenants       map[string]TenantConfig
	keeper        bool // the scheduler keeps its queue

	jobs  map[string]store.Job // running jobs, and pending jobs the loop looks at
	queue map[string]queued    // pending jobs the scheduler keeps
	// fed holds the pending jobs of jobs that are in the scheduler's
	// queue; joined and left what the scheduler is still to be told.
	fed    map[string]bool
	joined []store.Job
	left   []string

	ran map[string]ranTimes // of the jobs in queue that ran before

	intern map[string]*reasonList // wait reasons, shared by the jobs that give them
}

// queued is what the loop keeps of a pending job in the scheduler's own
// queue: what a decision about it writes back (see store.Changes). It is
// small, for there may be millions: the wait reasons are shared, and the
// times of an earlier run, which few pending jobs have, are kept aside
// (liveCache.ran).
type queued struct {
	version            int64
	reasons            *reasonList // nil: none
	attempts, failures int32
}

// reasonList is a list of wait reasons shared by the jobs that give it.
type reasonList struct{ r []string }

// ranTimes are a pending job's start and end of its last run, Unix
// nanoseconds.
type ranTimes struct{ startedAt, endedAt int64 }

// enqueue records j, pending, as kept in the scheduler's queue.
func (c *liveCache) enqueue(j *store.Job) {
	c.queue[j.ID] = queued{version: j.Version, reasons: c.reasonsOf(j.Reasons), attempts: int32(j.Attempts), failures: int32(j.Failures)}
	if t := (ranTimes{store.UnixNano(j.StartedAt), store.UnixNano(j.EndedAt)}); t != (ranTimes{}) {
		c.ran[j.ID] = t
	} else if len(c.ran) > 0 {
		delete(c.ran, j.ID)
	}
}

// dequeue forgets a job kept in the scheduler's queue.
func (c *liveCache) dequeue(id string) {
	delete(c.queue, id)
	if len(c.ran) > 0 {
		delete(c.ran, id)
	}
}

// queuedJob is the pending job id as a decision about it writes it.
func (c *liveCache) queuedJob(id string, q queued) store.Job {
	t := c.ran[id]
	j := store.Job{ID: id, State: store.JobPending, Attempts: int(q.attempts), Failures: int(q.failures),
		StartedAt: store.FromUnixNano(t.startedAt), EndedAt: store.FromUnixNano(t.endedAt), Version: q.version}
	if q.reasons != nil {
		j.Reasons = q.reasons.r
	}
	return j
}

// reasonsOf shares equal wait reasons between jobs: a queue of millions
// waits for few reasons.
func (c *liveCache) reasonsOf(r []string) *reasonList {
	if len(r) == 0 {
		return nil
	}
	key := strings.Join(r, "\x00")
	if s, ok := c.intern[key]; ok {
		return s
	}
	if c.intern == nil || len(c.intern) >= 4096 {
		c.intern = map[string]*reasonList{} // reasons naming jobs: do not grow for ever
	}
	l := &reasonList{r: r}
	c.intern[key] = l
	return l
}

// kept reports whether the loop keeps a pending job whole: one a limit
// of the loop may keep back, or every one when the scheduler does not
// keep its queue.
func (c *liveCache) kept(j *store.Job) bool {
	if !c.keeper || j.Held || j.ArrayJob != "" || len(j.Spec.DependsOn) > 0 {
		return true
	}
	t := c.tenants[j.Tenant]
	return len(t.ModelQuotas) > 0 || t.PowerQuotaKW > 0
}

// put records a job as the store has it now, and what the scheduler is
// to be told of it.
func (c *liveCache) put(j store.Job) {
	_, inQueue := c.queue[j.ID]
	switch {
	case j.State == store.JobPending && !c.kept(&j):
		if !inQueue {
			// In the scheduler's queue already when it was fed there;
			// otherwise it joins (new, released, or back from running).
			if !c.fed[j.ID] {
				c.joined = append(c.joined, j)
			}
			delete(c.jobs, j.ID)
			delete(c.fed, j.ID)
		}
		c.enqueue(&j)
	case j.State == store.JobPending || j.State == store.JobRunning:
		if inQueue {
			c.dequeue(j.ID)
			if j.State == store.JobPending {
				c.fed[j.ID] = true // there already: the limits say whether it stays
			}
		}
		if j.State == store.JobRunning {
			delete(c.fed, j.ID)
		}
		// A kept job back from running joins when the limits let it in
		// (feed).
		c.jobs[j.ID] = j
	default: // ended
		if inQueue || c.fed[j.ID] {
			c.left = append(c.left, j.ID)
		}
		c.dequeue(j.ID)
		delete(c.jobs, j.ID)
		delete(c.fed, j.ID)
	}
}

// version is the version the loop has of a job, 0 when it has none.
func (c *liveCache) version(id string) int64 {
	if j, ok := c.jobs[id]; ok {
		return j.Version
	}
	if q, ok := c.queue[id]; ok {
		return q.version
	}
	return 0
}

// refreshNodes reads the nodes again when their digest moved, or when
// their measured draw is older than MeasureEvery.
func (s *Server) refreshNodes(ctx context.Context, now time.Time) error {
	c := &s.live
	d, err := s.store.NodeDigest(ctx)
	if err != nil {
		return err
	}
	// Heartbeats do not move the digest: the measured draw they carry is
	// read in full every MeasureEvery.
	if !c.haveNodes || d != c.digest || now.Sub(c.nodesAt) >= s.cfg.MeasureEvery {
		if c.nodes, err = s.store.Nodes(ctx); err != nil {
			c.haveNodes = false
			return err
		}
		c.digest, c.haveNodes, c.nodesAt = d, true, now
	}
	return nil
}

// refreshJobs brings the jobs up to date: a new generation (or a tenant
// change, which reshapes the scheduler's queues) reads the queue again,
// Config.ReadPerPass jobs a pass, in the scheduler's LoadOrder; every
// pass reads the jobs that changed since the last, except pending ones
// the reading has yet to reach. A failure leaves what was read in place.
func (s *Server) refreshJobs(ctx context.Context, tenants map[string]TenantConfig, now time.Time) error {
	c := &s.live
	keeper, isKeeper := s.cfg.Scheduler.(QueueKeeper)
	gen := s.generation.Load()
	if !reflect.DeepEqual(tenants, c.tenants) && c.tenants != nil && isKeeper {
		gen = s.generation.Add(1)
	}
	if !c.loading && !c.loaded || c.gen != gen || c.keeper != isKeeper {
		cursor, err := s.store.JobCursor(ctx)
		if err != nil {
			return err
		}
		running, err := s.store.Jobs(ctx, store.JobQuery{States: []store.JobState{store.JobRunning}})
		if err != nil {
			return err
		}
		order := LoadWhole
		if p, ok := s.cfg.Scheduler.(PrefixKeeper); ok {
			order = p.LoadOrder()
		}
		*c = liveCache{haveNodes: c.haveNodes, nodesAt: c.nodesAt, digest: c.digest, nodes: c.nodes,
			gen: gen, loading: true, order: order, afterPriority: math.MaxInt, cursor: cursor, tenants: tenants, keeper: isKeeper,
			jobs: make(map[string]store.Job, len(running)), queue: map[string]queued{}, ran: map[string]ranTimes{}, fed: map[string]bool{}}
		if isKeeper {
			if err := keeper.Enqueue(QueueChange{Generation: gen, Now: now, Tenants: tenants}); err != nil {
				c.loading = false
				return err
			}
		}
		for _, j := range running {
			c.put(j)
		}
	}
	if c.loading {
		if err := s.readQueue(ctx, keeper, now); err != nil {
			return err
		}
	}
	changed, next, err := s.store.JobChanges(ctx, c.cursor)
	if err != nil {
		return err
	}
	var stale []string
	for _, v := range changed {
		have := c.version(v.ID)
		switch {
		case have != 0 && v.Version <= have:
		case v.State.Final():
			if have != 0 {
				c.put(store.Job{ID: v.ID, State: v.State, Version: v.Version})
			}
		case have == 0 && v.State == store.JobPending && c.unread(v):
			// the reading of the queue will come to it
		default:
			stale = append(stale, v.ID)
		}
	}
	slices.Sort(stale)
	stale = slices.Compact(stale)
	for chunk := range slices.Chunk(stale, loadPage) {
		fresh, err := s.store.JobsByID(ctx, chunk)
		if err != nil {
			return err
		}
		for _, j := range fresh {
			if j.Version > c.version(j.ID) {
				c.put(j)
			}
		}
	}
	c.cursor = next
	return nil
}

// readQueue reads up to Config.ReadPerPass more pending jobs in the load
// order, and gives them to the scheduler page by page: the queue is never
// read whole at once. When the scheduler decides from the part read, the
// first pass reads one page: the head of the queue is decided at once,
// and that pass's commit (a fleet's worth of placements, when the fleet
// is free) does not fall into a pass that also reads ReadPerPass jobs.
func (s *Server) readQueue(ctx context.Context, keeper QueueKeeper, now time.Time) error {
	c := &s.live
	size := min(loadPage, s.cfg.ReadPerPass)
	want := s.cfg.ReadPerPass
	if c.after == "" && c.order != LoadWhole {
		want = size
	}
	for n := 0; n < want; {
		q := store.JobQuery{States: []store.JobState{store.JobPending}, After: c.after, Limit: size}
		if c.order == LoadByPriority {
			q.ByPriority, q.AfterPriority = true, c.afterPriority
		}
		page, err := s.store.Jobs(ctx, q)
		if err != nil {
			return err
		}
		for _, j := range page {
			c.put(j)
		}
		if keeper != nil && len(c.joined) > 0 {
			if err := keeper.Enqueue(QueueChange{Generation: c.gen, Now: now, Tenants: c.tenants, Joined: c.joined}); err != nil {
				c.loading = false // start again
				return err
			}
			clear(c.joined) // let the jobs go
			c.joined = c.joined[:0]
		}
		c.read += len(page)
		if len(page) < size {
			c.loading, c.loaded = false, true
			s.log.Info("queue read", "pending", c.read, "passes", c.passes+1)
			return nil
		}
		last := page[len(page)-1]
		c.after, c.afterPriority = last.ID, last.Spec.Priority
		n += len(page)
	}
	c.passes++
	return nil
}

// unread reports whether the reading of the queue under way has yet to
// reach a pending job: it sorts after the last job read.
func (c *liveCache) unread(v store.JobVersion) bool {
	switch {
	case !c.loading:
		return false
	case c.order == LoadByPriority && v.Priority != c.afterPriority:
		return v.Priority < c.afterPriority
	}
	return v.ID > c.after
}

// QueueLoading reports whether the reconcile loop is still reading the
// queue after a start, a new leadership or a failed pass: it reads a
// bounded number of jobs a pass, deciding from the part read when the
// scheduler's order allows (PrefixKeeper), else once the queue is whole.
func (s *Server) QueueLoading() bool {
	s.reconMu.Lock()
	defer s.reconMu.Unlock()
	return s.live.loading
}

// runningJobs are the running jobs in ID order.
func (c *liveCache) runningJobs() []store.Job {
	var out []store.Job
	for _, j := range c.jobs {
		if j.State == store.JobRunning {
			out = append(out, j)
		}
	}
	slices.SortFunc(out, func(a, b store.Job) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// keptPending are the pending jobs the loop keeps whole, in ID order
// (submission order).
func (c *liveCache) keptPending() []store.Job {
	var out []store.Job
	for _, j := range c.jobs {
		if j.State == store.JobPending {
			out = append(out, j)
		}
	}
	slices.SortFunc(out, func(a, b store.Job) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// feed tells a scheduler that keeps its queue what changed: the jobs
// that joined or left since the last time, and which kept pending jobs
// the limits let in (eligible) or keep back now.
func (s *Server) feed(keeper QueueKeeper, eligible []store.Job, now time.Time) error {
	c := &s.live
	in := make(map[string]bool, len(eligible))
	for _, j := range eligible {
		in[j.ID] = true
		if !c.fed[j.ID] {
			c.joined = append(c.joined, j)
			c.fed[j.ID] = true
		}
	}
	for id := range c.fed {
		if !in[id] {
			c.left = append(c.left, id)
			delete(c.fed, id)
		}
	}
	// What joined and then left, or left and joined again, since the
	// last time is told as it stands now.
	inQueue := func(id string) bool {
		_, ok := c.queue[id]
		return ok || c.fed[id]
	}
	c.joined = slices.DeleteFunc(c.joined, func(j store.Job) bool { return !inQueue(j.ID) })
	c.left = slices.DeleteFunc(c.left, inQueue)
	if len(c.joined) == 0 && len(c.left) == 0 {
		return nil
	}
	slices.SortStableFunc(c.joined, func(a, b store.Job) int { return strings.Compare(a.ID, b.ID) })
	c.joined = slices.CompactFunc(c.joined, func(a, b store.Job) bool { return a.ID == b.ID })
	slices.Sort(c.left)
	c.left = slices.Compact(c.left)
	err := keeper.Enqueue(QueueChange{Generation: c.gen, Now: now, Tenants: c.tenants, Joined: c.joined, Left: c.left})
	c.joined, c.left = nil, nil
	return err
}

// commit applies a change set and keeps the cache in step with it.
func (s *Server) commit(ctx context.Context, c store.Changes) error {
	if err := s.store.Apply(ctx, c); err != nil {
		return err
	}
	for _, j := range c.Jobs { // Apply advanced their versions
		if q, ok := s.live.queue[j.ID]; ok {
			// a pending job the scheduler keeps: the loop keeps what it
			// wrote, or, once the job left the queue, reads it whole
			// again from the change feed
			if j.State == store.JobPending {
				q.version, q.reasons = j.Version, s.live.reasonsOf(j.Reasons)
				s.live.queue[j.ID] = q
			} else {
				s.live.dequeue(j.ID)
			}
			continue
		}
		s.live.put(j)
	}
	if len(c.Nodes) > 0 {
		s.live.haveNodes = false
	}
	return nil
}

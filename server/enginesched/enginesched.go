// Package enginesched adapts the scheduling engine to the server's
// reconcile loop: it keeps an engine and its snapshot in step with the
// store's jobs and nodes, runs a pass, and turns the engine's decisions
// into the server's, which the loop commits before anyone acts on them.
//
// The engine owns a pending queue and a snapshot, so the adapter syncs
// them incrementally from each pass's input. When the server says its
// state may differ from what the last decisions implied (a new
// Generation: a failed commit, a new leadership), the adapter rebuilds
// both from the input, as the engine's documentation prescribes.
package enginesched

import (
	"context"
	"fmt"
	"log/slog"
	"math/bits"
	"slices"
	"time"

	"stargate/engine"
	"stargate/fleet"
	"stargate/server"
	"stargate/store"
)

// Options tunes a Scheduler beyond the engine's configuration.
type Options struct {
	Log *slog.Logger
	// Settle is how long the power controller waits after it capped or
	// uncapped before it decides again (default 15s): the nodes must apply
	// the change and report a new draw first, or the same excess would be
	// shed twice.
	Settle time.Duration
}

// Scheduler is a server.Scheduler backed by the engine.
type Scheduler struct {
	cfg   engine.Config
	base  engine.Config // as New was given it: never changed, read by WhatIf
	key   engine.QueueKey
	opts  Options
	fleet *fleet.Fleet
	log   *slog.Logger

	measuredAt time.Time // of the draw the controller last saw
	settleEnd  time.Time // no control decisions before this

	eng   *engine.Engine
	snap  *engine.Snapshot
	gen   uint64
	built bool

	nodeIx  map[string]int
	nodeSt  []engine.NodeState
	ids     map[string]engine.JobID
	names   map[engine.JobID]string
	nextID  engine.JobID
	running map[string]bool    // in the snapshot (the engine's queue says which are pending)
	grid    []engine.GridEvent // as last given to the engine
	strs    map[string]string  // interned (intern)

	// kept: the server keeps no copy of the queue and tells what changed
	// (Enqueue); then order holds the queue in the order jobs joined it
	// (with stale entries, dropped now and then), and next is where the
	// next pass goes on saying why jobs wait. refused are the jobs the
	// engine refused since the last pass.
	kept    bool
	order   []engine.JobID
	next    int
	refused []server.Decision
}

// maxWaits bounds the wait reasons a pass gives when the server keeps no
// copy of the queue: those of the jobs the engine tried, then as many of
// the others, in turn, so that every job's reason is said again within
// queue/maxWaits passes.
const maxWaits = 5000

var (
	_ server.Scheduler    = (*Scheduler)(nil)
	_ server.QueueKeeper  = (*Scheduler)(nil)
	_ server.PrefixKeeper = (*Scheduler)(nil)
)

// New returns a scheduler for a fleet with an engine configuration.
func New(f *fleet.Fleet, cfg engine.Config, opts Options) (*Scheduler, error) {
	eng, err := engine.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("enginesched: %w", err)
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Settle <= 0 {
		opts.Settle = 15 * time.Second
	}
	s := &Scheduler{cfg: cfg, base: cfg, opts: opts, fleet: f, log: opts.Log, nodeIx: make(map[string]int, len(f.Nodes)),
		key: eng.QueueKey()}
	for i := range f.Nodes {
		s.nodeIx[f.NodeName(i)] = i
	}
	return s, nil
}

// reset rebuilds an empty engine and snapshot with every node down.
func (s *Scheduler) reset() error {
	eng, err := engine.New(s.cfg)
	if err != nil {
		return err
	}
	snap, err := engine.NewSnapshot(s.fleet)
	if err != nil {
		return err
	}
	s.eng, s.snap = eng, snap
	s.nodeSt = make([]engine.NodeState, len(s.fleet.Nodes))
	for i := range s.nodeSt {
		snap.SetNodeState(i, engine.Down) // only registered, ready nodes take work
		s.nodeSt[i] = engine.Down
	}
	s.ids, s.names, s.nextID = map[string]engine.JobID{}, map[engine.JobID]string{}, 1
	s.running = map[string]bool{}
	s.measuredAt, s.settleEnd = time.Time{}, time.Time{}
	s.grid = nil
	s.kept, s.order, s.next, s.refused = false, nil, 0, nil
	s.built = true
	return nil
}

// queued notes a job the engine took into its queue.
func (s *Scheduler) queued(id engine.JobID) {
	if s.kept {
		s.order = append(s.order, id)
	}
}

// submit puts a stored job in the engine's queue, or says why the engine
// refused it.
func (s *Scheduler) submit(j *store.Job) *server.Decision {
	ej, err := s.engineJob(j)
	if err == nil {
		err = s.eng.Submit(ej, j.SubmittedAt)
	}
	if err != nil {
		s.forget(j.ID)
		return &server.Decision{Action: server.ActWait, Job: j.ID, Reasons: []string{"refused: " + err.Error()}}
	}
	s.queued(ej.ID)
	return nil
}

func (s *Scheduler) id(name string) engine.JobID {
	if id, ok := s.ids[name]; ok {
		return id
	}
	id := s.nextID
	s.nextID++
	s.ids[name], s.names[id] = id, name
	return id
}

// pending reports whether the named job is in the engine's queue.
func (s *Scheduler) pending(name string) bool {
	id, ok := s.ids[name]
	if ok {
		_, ok = s.eng.Pending(id)
	}
	return ok
}

// queuedID reports whether the job of engine ID id is in the engine's queue.
func (s *Scheduler) queuedID(id engine.JobID) bool {
	_, ok := s.eng.Pending(id)
	return ok
}

func (s *Scheduler) forget(name string) {
	if id, ok := s.ids[name]; ok {
		delete(s.ids, name)
		delete(s.names, id)
	}
}

// engineJob maps a stored job to the engine's view of it.
func (s *Scheduler) engineJob(j *store.Job) (engine.Job, error) {
	sp := j.Spec
	kind, err := engine.ParseKind(sp.Kind)
	if sp.Kind == "" {
		kind, err = engine.Training, nil
	}
	if err != nil {
		return engine.Job{}, err
	}
	topo := engine.TopologyAny
	if sp.Topology != "" {
		if topo, err = engine.ParseTopology(sp.Topology); err != nil {
			return engine.Job{}, err
		}
	}
	var flexible *bool
	if sp.Flexible != nil {
		flexible = &flexibility[0]
		if *sp.Flexible {
			flexible = &flexibility[1]
		}
	}
	return engine.Job{
		ID: s.id(j.ID), Tenant: s.intern(j.Tenant), Priority: sp.Priority, Kind: kind,
		Accelerators: sp.Accelerators, PerNode: sp.PerNode, Model: s.intern(sp.Model),
		Topology: topo, TopologyRequired: sp.TopologyRequired, Region: s.intern(sp.Region), Site: s.intern(sp.Site),
		Duration: time.Duration(sp.DurationS) * time.Second, CheckpointEvery: time.Duration(sp.CheckpointS) * time.Second,
		PowerFraction: sp.Power, Preemptible: sp.Preemptible, Flexible: flexible,
	}, nil
}

// flexibility is what every engine job's Flexible points at: the engine
// reads, never writes, it.
var flexibility = [2]bool{false, true}

// intern shares equal strings between the engine's jobs (tenants,
// models, sites): a queue of millions names few of them.
func (s *Scheduler) intern(v string) string {
	if v == "" {
		return ""
	}
	if w, ok := s.strs[v]; ok {
		return w
	}
	if s.strs == nil || len(s.strs) >= 4096 {
		s.strs = map[string]string{} // do not grow for ever
	}
	s.strs[v] = v
	return v
}

// slots maps a stored placement to the engine's slots.
func (s *Scheduler) slots(p []store.Allocation) ([]engine.Slot, error) {
	out := make([]engine.Slot, 0, len(p))
	for _, a := range p {
		n, ok := s.nodeIx[a.Node]
		if !ok {
			return nil, fmt.Errorf("node %s is not in the fleet", a.Node)
		}
		var mask uint64
		for _, i := range a.Accelerators {
			if i < 0 || i >= 64 {
				return nil, fmt.Errorf("node %s: accelerator %d out of range", a.Node, i)
			}
			mask |= 1 << i
		}
		out = append(out, engine.Slot{Node: int32(n), Mask: mask})
	}
	return out, nil
}

// allocations maps the engine's slots to a stored placement.
func (s *Scheduler) allocations(slots []engine.Slot) []store.Allocation {
	out := make([]store.Allocation, 0, len(slots))
	for _, sl := range slots {
		acc := make([]int, 0, bits.OnesCount64(sl.Mask))
		for m := sl.Mask; m != 0; m &= m - 1 {
			acc = append(acc, bits.TrailingZeros64(m))
		}
		out = append(out, store.Allocation{Node: s.fleet.NodeName(int(sl.Node)), Accelerators: acc})
	}
	return out
}

// describe formats a reason for people, naming jobs by their store IDs.
func (s *Scheduler) describe(r engine.Reason) string {
	if r.Job != 0 {
		return string(r.Code) + ":" + s.names[r.Job]
	}
	return s.snap.Describe(r)
}

// sync brings the engine's queue, snapshot and node states in line with
// the input. It returns waits for jobs the engine refused outright.
func (s *Scheduler) sync(in server.ScheduleInput) []server.Decision {
	var refused []server.Decision
	// Nodes: only registered, ready nodes are Up.
	want := make([]engine.NodeState, len(s.fleet.Nodes))
	for i := range want {
		want[i] = engine.Down
	}
	for _, n := range in.Nodes {
		i, ok := s.nodeIx[n.Name]
		if !ok {
			continue
		}
		switch n.State {
		case store.NodeReady:
			want[i] = engine.Up
		case store.NodeDraining, store.NodeUnhealthy: // jobs run on, none start
			want[i] = engine.Drained
		}
	}
	for i, st := range want {
		if s.nodeSt[i] != st {
			s.snap.SetNodeState(i, st)
			s.nodeSt[i] = st
		}
	}
	// Running jobs that stopped leave the snapshot: those that ended or
	// were cancelled for good; those back in the queue (their node was
	// lost, or they failed and may restart) are requeued with the
	// engine's backoff, as a preempted job is. New running ones (after a
	// rebuild) are restored.
	nowRunning := make(map[string]bool, len(in.Running))
	for i := range in.Running {
		nowRunning[in.Running[i].ID] = true
	}
	nowPending := make(map[string]bool, len(in.Pending)) // when the server keeps the queue: those of Enqueue
	for i := range in.Pending {
		nowPending[in.Pending[i].ID] = true
	}
	for name := range s.running {
		switch {
		case nowRunning[name]:
		case nowPending[name] && s.eng.Requeue(s.snap, s.ids[name], in.Now):
			delete(s.running, name)
			s.queued(s.ids[name])
		default:
			s.snap.Release(s.ids[name], in.Now)
			delete(s.running, name)
			s.forget(name)
		}
	}
	for i := range in.Running {
		j := &in.Running[i]
		if s.running[j.ID] {
			continue
		}
		if s.pending(j.ID) {
			s.eng.Cancel(s.ids[j.ID])
		}
		ej, err := s.engineJob(j)
		if err == nil {
			var sl []engine.Slot
			if sl, err = s.slots(j.Placement); err == nil {
				err = s.snap.Restore(ej, sl, j.StartedAt)
			}
		}
		if err != nil {
			s.log.Warn("scheduler: cannot restore a running job into the snapshot", "job", j.ID, "err", err)
			continue
		}
		if j.CapW > 0 {
			s.snap.SetCap(ej.ID, j.CapW)
		}
		s.running[j.ID] = true
	}
	if s.kept {
		return nil // Enqueue keeps the queue
	}
	// Pending jobs: new ones join the queue in submission order, gone ones
	// (cancelled) leave it.
	for name, id := range s.ids {
		if _, ok := s.eng.Pending(id); ok && !nowPending[name] {
			s.eng.Cancel(id)
			s.forget(name)
		}
	}
	for i := range in.Pending {
		j := &in.Pending[i]
		if s.pending(j.ID) {
			continue
		}
		if d := s.submit(j); d != nil {
			refused = append(refused, *d)
		}
	}
	return refused
}

// Enqueue implements server.QueueKeeper: the server keeps no copy of the
// queue, and from now on Schedule takes its pending jobs from here.
func (s *Scheduler) Enqueue(q server.QueueChange) (err error) {
	defer func() { // the engine boundary, as in Schedule
		if r := recover(); r != nil {
			s.built = false
			err = fmt.Errorf("enginesched: engine panic: %v", r)
		}
	}()
	if q.Tenants != nil && !s.sameTenants(q.Tenants) {
		s.setTenants(q.Tenants)
	}
	if !s.built || q.Generation != s.gen || !s.kept {
		if err := s.reset(); err != nil {
			return fmt.Errorf("enginesched: %w", err)
		}
		s.gen, s.kept = q.Generation, true
	}
	for _, name := range q.Left {
		if s.pending(name) {
			s.eng.Cancel(s.ids[name])
			s.forget(name)
		}
	}
	for i := range q.Joined {
		j := &q.Joined[i]
		switch {
		case s.pending(j.ID):
			continue
		case s.running[j.ID]:
			// back in the queue (its node was lost, or it failed and may
			// restart): requeued with the engine's backoff, as a
			// preempted job is
			delete(s.running, j.ID)
			if id := s.ids[j.ID]; s.eng.Requeue(s.snap, id, q.Now) {
				s.queued(id)
				continue
			}
			s.snap.Release(s.ids[j.ID], q.Now)
			s.forget(j.ID)
		}
		if d := s.submit(j); d != nil {
			s.refused = append(s.refused, *d)
		}
	}
	return nil
}

// LoadOrder implements server.PrefixKeeper: the engine's queue is in
// arrival order under fifo, and by priority, then arrival, under priority
// and backfill; any other policy orders the queue by more than each job,
// and decides once it is whole.
func (s *Scheduler) LoadOrder() server.LoadOrder {
	switch s.key {
	case engine.KeyArrival:
		return server.LoadByID
	case engine.KeyPriority:
		return server.LoadByPriority
	}
	return server.LoadWhole
}

// setTenants takes the tenants' weights and quotas, which shape the
// engine's queues: the engine is built again.
func (s *Scheduler) setTenants(ts map[string]server.TenantConfig) {
	s.cfg.Tenants = make(map[string]engine.Tenant, len(ts))
	for name, t := range ts {
		s.cfg.Tenants[name] = engine.Tenant{Weight: t.Weight, Quota: t.Quota}
	}
	s.built = false
}

// Schedule implements server.Scheduler.
func (s *Scheduler) Schedule(_ context.Context, in server.ScheduleInput) (out []server.Decision, err error) {
	defer func() { // the engine boundary: a panic there fails this pass only
		if r := recover(); r != nil {
			s.built = false
			out, err = nil, fmt.Errorf("enginesched: engine panic: %v", r)
		}
	}()
	if s.kept {
		// The queue is Enqueue's: it cannot be built again from the input.
		if in.Tenants != nil && !s.sameTenants(in.Tenants) || !s.built || in.Generation != s.gen {
			s.built = false
			return nil, fmt.Errorf("enginesched: the queue of generation %d was not given (Enqueue)", in.Generation)
		}
	} else {
		if in.Tenants != nil && !s.sameTenants(in.Tenants) {
			s.setTenants(in.Tenants) // weights and quotas shape the engine's queues
		}
		if !s.built || in.Generation != s.gen {
			if err := s.reset(); err != nil {
				return nil, fmt.Errorf("enginesched: %w", err)
			}
			s.gen = in.Generation
		}
	}
	out = append(s.sync(in), s.refused...)
	s.refused = nil
	s.setGrid(in)
	res := s.eng.Schedule(s.snap, in.Now)
	for _, d := range res.Decisions {
		name := s.names[d.Job]
		switch d.Action {
		case engine.Place:
			out = append(out, server.Decision{Action: server.ActPlace, Job: name, Placement: s.allocations(d.Slots),
				Reasons: []string{s.describe(d.Reason)}})
			s.running[name] = true
		case engine.Preempt:
			out = append(out, server.Decision{Action: server.ActPreempt, Job: name, Reasons: []string{s.describe(d.Reason)}})
			delete(s.running, name)
			s.queued(d.Job) // the engine requeued it
		}
	}
	if s.kept {
		out = s.waits(res.Waiting, out)
	} else {
		for _, w := range s.eng.Waits() {
			out = append(out, server.Decision{Action: server.ActWait, Job: s.names[w.Job], Reasons: []string{s.describe(w.Reason)}})
		}
	}
	// The power controller: a fresh measured draw against the limits,
	// once the effect of its last decisions had time to show.
	if in.MeasuredAt.After(s.measuredAt) && !in.Now.Before(s.settleEnd) {
		s.measuredAt = in.MeasuredAt
		s.measure(in.Nodes)
		decided := false
		for _, d := range s.eng.Control(s.snap, in.Now) {
			switch d.Action {
			case engine.Cap:
				out = append(out, server.Decision{Action: server.ActCap, Job: s.names[d.Job], CapW: d.CapW, Reasons: []string{s.describe(d.Reason)}})
				decided = true
			case engine.Uncap:
				out = append(out, server.Decision{Action: server.ActUncap, Job: s.names[d.Job], Reasons: []string{s.describe(d.Reason)}})
				decided = true
			case engine.Preempt: // shed for a grid event: the engine requeued it
				name := s.names[d.Job]
				out = append(out, server.Decision{Action: server.ActPreempt, Job: name, Reasons: []string{s.describe(d.Reason)}})
				delete(s.running, name)
				s.queued(d.Job)
				decided = true
			}
		}
		if decided {
			s.settleEnd = in.Now.Add(s.opts.Settle)
		}
	}
	return out, nil
}

// waits says why jobs wait, in bounded number: those the pass tried, then
// others in turn from where the last pass stopped.
func (s *Scheduler) waits(tried []engine.Wait, out []server.Decision) []server.Decision {
	said := make(map[engine.JobID]bool, 2*maxWaits)
	say := func(id engine.JobID, r engine.Reason) {
		said[id] = true
		out = append(out, server.Decision{Action: server.ActWait, Job: s.names[id], Reasons: []string{s.describe(r)}})
	}
	for _, w := range tried {
		if len(said) == maxWaits {
			break
		}
		if !said[w.Job] && s.queuedID(w.Job) {
			say(w.Job, w.Reason)
		}
	}
	if len(s.order) > 2*s.eng.Queued()+1024 { // drop the stale entries
		keep := s.order[:0]
		for _, id := range s.order {
			if s.queuedID(id) {
				keep = append(keep, id)
			}
		}
		s.order, s.next = keep, 0
	}
	for n, visits := 0, 0; n < maxWaits && visits < min(len(s.order), 4*maxWaits); visits++ {
		if s.next >= len(s.order) {
			s.next = 0
		}
		id := s.order[s.next]
		s.next++
		if said[id] || !s.queuedID(id) {
			continue
		}
		if r, ok := s.eng.Reason(id); ok {
			say(id, r)
			n++
		}
	}
	return out
}

// WhatIf implements server.WhatIf: a scratch scheduler, built from the
// same configuration, decides on the input; this one is not touched, so
// a dry run may ask while the reconcile loop schedules.
func (s *Scheduler) WhatIf(ctx context.Context, in server.ScheduleInput) ([]server.Decision, error) {
	scratch, err := New(s.fleet, s.base, s.opts)
	if err != nil {
		return nil, err
	}
	in.MeasuredAt = time.Time{} // no power control: placement only
	return scratch.Schedule(ctx, in)
}

// sameTenants reports whether the tenants are those the engine has.
func (s *Scheduler) sameTenants(ts map[string]server.TenantConfig) bool {
	if len(ts) != len(s.cfg.Tenants) {
		return false
	}
	for name, t := range ts {
		if e, ok := s.cfg.Tenants[name]; !ok || e.Weight != t.Weight || e.Quota != t.Quota {
			return false
		}
	}
	return true
}

// measure sets the measured IT draw of every rack, row, hall and site from
// the nodes' last reported draw (nodes that report none count 0).
func (s *Scheduler) measure(nodes []store.Node) {
	f := s.fleet
	rack := make([]int64, len(f.Racks))
	for _, n := range nodes {
		i, ok := s.nodeIx[n.Name]
		if !ok || n.DrawW < 0 || n.State == store.NodeLost {
			continue
		}
		rack[f.Nodes[i].Rack] += int64(n.DrawW)
	}
	row, hall, site := make([]int64, len(f.Rows)), make([]int64, len(f.Halls)), make([]int64, len(f.Sites))
	for i, r := range f.Racks {
		row[r.Parent] += rack[i]
		s.snap.SetMeasured(fleet.LevelRack, i, rack[i])
	}
	for i, r := range f.Rows {
		hall[r.Parent] += row[i]
		s.snap.SetMeasured(fleet.LevelRow, i, row[i])
	}
	for i, h := range f.Halls {
		site[h.Parent] += hall[i]
		s.snap.SetMeasured(fleet.LevelHall, i, hall[i])
	}
	for i := range f.Sites {
		s.snap.SetMeasured(fleet.LevelSite, i, site[i])
	}
}

// setGrid gives the engine the grid events in force or announced, in
// facility watts. A fractional target is known once the event starts
// (server.GridTargetMW); before, the engine plans with that fraction of
// the scope's draw as the nodes last reported it.
func (s *Scheduler) setGrid(in server.ScheduleInput) {
	var evs []engine.GridEvent
	var siteW []float64
	for _, e := range in.GridEvents {
		if e.State != store.GridScheduled && e.State != store.GridActive {
			continue
		}
		kind, err := engine.ParseGridKind(e.Kind)
		if err != nil {
			kind = engine.Mandatory
		}
		ev := engine.GridEvent{ID: e.ID, Start: e.Start, End: e.End(), Notice: time.Duration(e.NoticeS) * time.Second,
			TargetW: server.GridTargetMW(e) * 1e6, Kind: kind, PriceUSDPerMWh: e.PriceUSDPerMWh}
		for si := range s.fleet.Sites {
			st := &s.fleet.Sites[si]
			if e.ScopeKind == "site" && st.Name == e.Scope || e.ScopeKind == "region" && s.fleet.Regions[st.Region].Name == e.Scope {
				ev.Sites = append(ev.Sites, si)
			}
		}
		if len(ev.Sites) == 0 || !ev.End.After(ev.Start) {
			continue // not this fleet's: the server checked it against its own
		}
		if ev.TargetW == 0 && e.TargetFraction > 0 {
			if siteW == nil {
				siteW = s.siteDraw(in.Nodes)
			}
			for _, si := range ev.Sites {
				ev.TargetW += e.TargetFraction * siteW[si] * s.fleet.Sites[si].PUE
			}
		}
		evs = append(evs, ev)
	}
	if slices.EqualFunc(evs, s.grid, sameGridEvent) {
		return
	}
	if err := s.eng.SetGridEvents(s.snap, evs); err != nil {
		s.log.Warn("scheduler: grid events refused by the engine", "err", err)
		return
	}
	s.grid = evs
}

func sameGridEvent(a, b engine.GridEvent) bool {
	return a.ID == b.ID && slices.Equal(a.Sites, b.Sites) && a.Start.Equal(b.Start) && a.End.Equal(b.End) &&
		a.Notice == b.Notice && a.TargetW == b.TargetW && a.Kind == b.Kind && a.PriceUSDPerMWh == b.PriceUSDPerMWh
}

// siteDraw is each site's IT draw from the nodes' last reports.
func (s *Scheduler) siteDraw(nodes []store.Node) []float64 {
	w := make([]float64, len(s.fleet.Sites))
	for _, n := range nodes {
		if i, ok := s.nodeIx[n.Name]; ok && n.DrawW > 0 && n.State != store.NodeLost {
			w[s.fleet.SiteOfNode(i)] += n.DrawW
		}
	}
	return w
}

package server

import (
	"context"
	"maps"
	"math"
	"sync"
	"time"

	"stargate/fleet"
	"stargate/store"
)

// The power tree's draw for GET /v1/power and /metrics is kept in memory:
// reading every node and running job from the store on each request costs
// about half a second at 100,000 nodes. It is computed from the store when
// first asked, then this replica's writes keep it current: a heartbeat
// moves its node's draw along the node's path, and any other write that
// can change a draw (jobs placed, ended or cancelled; nodes registered,
// drained or lost) drops it, so that the next read computes it again.
// What other replicas wrote is read again once it is powerMaxAge old.

// powerMaxAge bounds how long a replica's power view may miss what other
// replicas wrote.
const powerMaxAge = 10 * time.Second

type powerCache struct {
	mu  sync.Mutex
	ps  *powerState // nil until computed, and after a write dropped it
	at  time.Time
	gen uint64 // counts writes seen, so that a computation that raced one is not kept
}

// uncounted marks a node outside the draw (not registered, or lost).
var uncounted = math.Inf(-1)

// powerNow returns the power tree's draw, from memory when it is current.
func (s *Server) powerNow(ctx context.Context) (*powerState, error) {
	c := &s.powerView
	now := s.clock.Now()
	c.mu.Lock()
	if c.ps != nil && now.Sub(c.at) < powerMaxAge && !now.Before(c.at) {
		ps := c.ps.clone()
		c.mu.Unlock()
		return ps, nil
	}
	gen := c.gen
	c.mu.Unlock()
	ps, err := s.measurePower(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.gen == gen {
		c.ps, c.at = ps, now
		ps = ps.clone()
	}
	c.mu.Unlock()
	return ps, nil
}

// drop forgets the kept draw: a write may have changed it.
func (c *powerCache) drop() {
	c.mu.Lock()
	c.ps = nil
	c.gen++
	c.mu.Unlock()
}

// beat moves node i's part of the draw to drawW, measured by a heartbeat
// just recorded (drawW < 0: no reading, the draw is expected from its jobs).
func (c *powerCache) beat(f *fleet.Fleet, i int, drawW float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// a computation under way may have read the node before this beat:
	// it must not be kept
	c.gen++
	ps := c.ps
	if ps == nil {
		return
	}
	old := ps.contrib[i]
	if drawW < 0 || old == uncounted {
		c.ps = nil // an expected draw, or a node coming back: compute again
		return
	}
	d := drawW - old
	ps.contrib[i] = drawW
	p := f.Path(i)
	ps.rack[p[fleet.LevelRack]] += d
	ps.row[p[fleet.LevelRow]] += d
	ps.hall[p[fleet.LevelHall]] += d
	ps.site[p[fleet.LevelSite]] += d
}

// clone copies the aggregates (not the per-node parts) for a reader.
func (ps *powerState) clone() *powerState {
	return &powerState{
		site: append([]float64(nil), ps.site...), hall: append([]float64(nil), ps.hall...),
		row: append([]float64(nil), ps.row...), rack: append([]float64(nil), ps.rack...),
		nodes: append([]int32(nil), ps.nodes...), busy: append([]int(nil), ps.busy...), byState: maps.Clone(ps.byState),
	}
}

// countsCache keeps the jobs counted by tenant and state for /metrics, as
// the power view keeps the draw: dropped by this replica's writes of jobs,
// read again from the store once powerMaxAge old.
type countsCache struct {
	mu     sync.Mutex
	counts []store.JobCount
	ok     bool
	at     time.Time
	gen    uint64
}

func (c *countsCache) drop() {
	c.mu.Lock()
	c.ok = false
	c.gen++
	c.mu.Unlock()
}

// jobCounts returns the jobs by tenant and state, from memory when current.
func (s *Server) jobCounts(ctx context.Context) ([]store.JobCount, error) {
	c := &s.countsView
	now := s.clock.Now()
	c.mu.Lock()
	if c.ok && now.Sub(c.at) < powerMaxAge && !now.Before(c.at) {
		counts := c.counts
		c.mu.Unlock()
		return counts, nil
	}
	gen := c.gen
	c.mu.Unlock()
	counts, err := s.store.JobCounts(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.gen == gen {
		c.counts, c.ok, c.at = counts, true, now
	}
	c.mu.Unlock()
	return counts, nil
}

// powerStore is the server's store, telling the kept views of writes.
type powerStore struct {
	store.Store
	s *Server
}

func (p powerStore) Apply(ctx context.Context, c store.Changes) error {
	defer p.s.powerView.drop()
	defer p.s.countsView.drop()
	return p.Store.Apply(ctx, c)
}

func (p powerStore) SubmitJobs(ctx context.Context, jobs []store.Job) ([]store.SubmitResult, error) {
	defer p.s.countsView.drop()
	return p.Store.SubmitJobs(ctx, jobs)
}

func (p powerStore) RegisterNode(ctx context.Context, n store.Node) (store.Node, error) {
	defer p.s.powerView.drop()
	return p.Store.RegisterNode(ctx, n)
}

func (p powerStore) RegisterNodes(ctx context.Context, nodes []store.Node) error {
	defer p.s.powerView.drop()
	return p.Store.RegisterNodes(ctx, nodes)
}

func (p powerStore) Heartbeat(ctx context.Context, name string, at time.Time, drawW float64) error {
	err := p.Store.Heartbeat(ctx, name, at, drawW)
	if err == nil {
		p.beat(name, drawW)
	}
	return err
}

func (p powerStore) Heartbeats(ctx context.Context, beats []store.Beat) ([]bool, error) {
	found, err := p.Store.Heartbeats(ctx, beats)
	if err == nil {
		for i, b := range beats {
			if i < len(found) && found[i] {
				p.beat(b.Node, b.DrawW)
			}
		}
	}
	return found, err
}

func (p powerStore) beat(name string, drawW float64) {
	if i, ok := p.s.nodeIx[name]; ok {
		p.s.powerView.beat(p.s.fleet, i, drawW)
	} else {
		p.s.powerView.drop()
	}
}

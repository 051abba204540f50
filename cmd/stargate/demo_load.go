package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"stargate/client"
	"stargate/fleet"
	"stargate/internal/human"
	"stargate/store"
)

// The demo's workload: tenants submitting a mix of training gangs,
// inference services and batch jobs, drawn from a seeded stream, at a
// pace that keeps the fleet busy and a queue in front of it.

// Job kinds of the demo's workload, indexes of demoTenant.mix.
const (
	demoTraining = iota
	demoInference
	demoBatch
)

// demoTenant is one tenant of the workload: its share of the jobs and its
// mix of kinds.
type demoTenant struct {
	name  string
	share float64
	mix   [3]float64 // training, inference, batch
	c     *client.Client
}

// demoTenants are the workload's tenants.
func demoTenants() []demoTenant {
	return []demoTenant{
		{name: "frontier-lab", share: 0.35, mix: [3]float64{0.7, 0, 0.3}},
		{name: "chatco", share: 0.25, mix: [3]float64{0.15, 0.7, 0.15}},
		{name: "biolab", share: 0.2, mix: [3]float64{0.3, 0, 0.7}},
		{name: "vision", share: 0.2, mix: [3]float64{0.3, 0.3, 0.4}},
	}
}

// demoPool is the fleet's nodes of one model: a job never spans two.
type demoPool struct {
	accel        string // accelerator model
	perNode      int    // accelerators per node
	rackNodes    int    // the most nodes of the model in one rack
	nodes        int
	accelerators int
}

// demoPools lists the fleet's node models, in catalog order.
func demoPools(fl *fleet.Fleet) []demoPool {
	byModel := map[uint16]int{}
	var pools []demoPool
	inRack := map[[2]int32]int{} // (rack, model) -> nodes
	for i, n := range fl.Nodes {
		k, ok := byModel[n.Model]
		if !ok {
			k = len(pools)
			byModel[n.Model] = k
			pools = append(pools, demoPool{accel: fl.NodeAccelerator(i).Name, perNode: fl.NodeAccelerators(i)})
		}
		p := &pools[k]
		p.nodes++
		p.accelerators += p.perNode
		key := [2]int32{n.Rack, int32(n.Model)}
		inRack[key]++
		p.rackNodes = max(p.rackNodes, inRack[key])
	}
	return pools
}

// demoLoad decides what the tenants submit. step is a state machine
// without I/O: given the server's counts, it returns the jobs to submit
// now; run does the submitting.
type demoLoad struct {
	rng      *rand.Rand
	pools    []demoPool
	weights  []float64 // of the pools: each is offered work in proportion to its accelerators
	tenants  []demoTenant
	speed    float64
	capacity int     // accelerators of the fleet
	queue    int     // pending jobs the load keeps at most
	rate     float64 // jobs per second once the fleet is busy
	seq      int
}

// demoSubmit is one job step decides to submit.
type demoSubmit struct {
	tenant int
	spec   store.JobSpec
}

// newDemoLoad prepares the workload of a fleet. A job's node model is
// drawn so that each model is offered work in proportion to its
// accelerators (a model of large nodes and racks gets fewer, larger
// jobs), and jobs arrive, once the fleet is busy, at 1.3 times the rate
// at which the fleet can run them, so that a queue stands. Both come
// from a sample of the stream.
func newDemoLoad(fl *fleet.Fleet, seed uint64, speed float64) (*demoLoad, error) {
	l := &demoLoad{rng: rand.New(rand.NewPCG(seed, 0xd3e0)), pools: demoPools(fl), tenants: demoTenants(), speed: speed,
		capacity: fl.Accelerators}
	if len(l.pools) == 0 || l.capacity == 0 {
		return nil, errors.New("demo: the fleet has no accelerators")
	}
	l.queue = min(max(l.capacity/200, 8), 60)
	// the mean work (accelerator-seconds) of a job of each pool
	const n = 1000
	l.weights = make([]float64, len(l.pools))
	for i, p := range l.pools {
		sample := &demoLoad{rng: rand.New(rand.NewPCG(seed, 0x5a3e)), pools: []demoPool{p}, weights: []float64{1},
			tenants: l.tenants, speed: speed}
		work := 0.0
		for range n {
			s := sample.next().spec
			work += float64(s.Accelerators) * float64(s.DurationS)
		}
		l.weights[i] = float64(p.accelerators) / (work / n)
		// pool i runs weights[i] of its jobs per second, full
		l.rate += 1.3 * l.weights[i]
	}
	return l, nil
}

// step returns the jobs to submit for one second of the demo, given the
// server's counts: while the fleet has room, enough to fill the queue;
// once it is busy, Poisson arrivals at the load's rate, as long as fewer
// than queue jobs wait.
func (l *demoLoad) step(c demoCounts) []demoSubmit {
	room := l.queue - c.pending
	if room <= 0 {
		return nil
	}
	n := room
	if float64(c.allocated) >= 0.9*float64(l.capacity) {
		n = min(n, l.poisson(l.rate))
	}
	out := make([]demoSubmit, n)
	for i := range out {
		out[i] = l.next()
	}
	return out
}

// poisson draws from a Poisson distribution of mean m (Knuth's method;
// m is small here).
func (l *demoLoad) poisson(m float64) int {
	limit, k, p := math.Exp(-m), 0, l.rng.Float64()
	for p > limit && k < 1000 {
		k++
		p *= l.rng.Float64()
	}
	return k
}

// pick draws an index with probability proportional to its weight.
func (l *demoLoad) pick(weights ...float64) int {
	sum := 0.0
	for _, w := range weights {
		sum += w
	}
	x := l.rng.Float64() * sum
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

// uniform draws from [lo, hi).
func (l *demoLoad) uniform(lo, hi float64) float64 { return lo + (hi-lo)*l.rng.Float64() }

// seconds is a run time of s seconds at the demo's speed, at least one.
func (l *demoLoad) seconds(s float64) int64 { return max(1, int64(math.Round(s/l.speed))) }

// next draws the next job: its tenant, then its node model by the pools'
// weights, then its kind by the tenant's mix, then its shape.
func (l *demoLoad) next() demoSubmit {
	shares := make([]float64, len(l.tenants))
	for i, t := range l.tenants {
		shares[i] = t.share
	}
	ti := l.pick(shares...)
	t := l.tenants[ti]
	p := l.pools[l.pick(l.weights...)]
	l.seq++
	var s store.JobSpec
	switch l.pick(t.mix[:]...) {
	case demoTraining:
		// a gang of half a rack, a rack or two racks of nodes
		half := max(p.rackNodes/2, min(2, p.rackNodes))
		nodes := []int{half, p.rackNodes, 2 * p.rackNodes}[l.pick(4, 3, 1)]
		nodes = max(1, min(nodes, p.nodes/4))
		s = store.JobSpec{Kind: store.KindTraining, Priority: 50, Accelerators: nodes * p.perNode, PerNode: p.perNode,
			Model: p.accel, Topology: "rack", Power: l.uniform(0.75, 0.95), DurationS: l.seconds(l.uniform(60, 240)),
			CheckpointS: l.seconds(30), MaxRestarts: 2}
		if nodes > p.rackNodes {
			s.Topology = "row"
		}
		s.Name = fmt.Sprintf("%s-%05d", []string{"pretrain", "finetune", "rlhf"}[l.pick(2, 2, 1)], l.seq)
	case demoInference:
		acc := min(p.perNode, []int{1, 2, 4, 8}[l.pick(3, 3, 2, 2)])
		s = store.JobSpec{Kind: store.KindInference, Priority: 100, Accelerators: acc, Topology: "node", TopologyRequired: true,
			Power: l.uniform(0.3, 0.5), DurationS: l.seconds(l.uniform(180, 420)), MaxRestarts: 3}
		if l.rng.Float64() < 0.5 {
			s.Model = p.accel
		}
		s.Name = fmt.Sprintf("%s-%05d", []string{"chat", "embed", "rerank"}[l.pick(3, 1, 1)], l.seq)
	default:
		acc := min(p.perNode, []int{1, 2, 4, 8}[l.pick(3, 3, 2, 2)])
		s = store.JobSpec{Kind: store.KindBatch, Priority: 0, Preemptible: true, Accelerators: acc, Topology: "node",
			Power: l.uniform(0.55, 0.8), DurationS: l.seconds(l.uniform(20, 90))}
		s.Name = fmt.Sprintf("%s-%05d", []string{"eval", "etl", "tokenize", "sweep"}[l.pick(3, 2, 2, 1)], l.seq)
	}
	s.Tenant = t.name
	return demoSubmit{tenant: ti, spec: s}
}

// run submits the load's jobs once a second until ctx ends, each with its
// tenant's token. A refused job is logged, not retried.
func (l *demoLoad) run(ctx context.Context, reg prometheus.Gatherer, log *slog.Logger) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	refused := 0
	for {
		for _, sub := range l.step(readDemoCounts(reg)) {
			if _, err := l.tenants[sub.tenant].c.SubmitSpec(ctx, sub.spec, ""); err != nil {
				if ctx.Err() != nil {
					return
				}
				if refused++; refused == 1 {
					log.Warn("demo: a job was refused", "tenant", sub.spec.Tenant, "job", sub.spec.Name, "err", err)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// plural is "1 site", "3 sites".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return human.Int(n) + " " + noun + "s"
}

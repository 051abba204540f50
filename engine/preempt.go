package engine

import (
	"math"
	"math/bits"
	"slices"
	"sort"
	"time"

	"stargate/fleet"
)

// victim is a running job that a preemptor may stop.
type victim struct {
	a    *Alloc
	prio int           // its rank for preemption (Job.Priority, or the policy's)
	rank int32         // position in cost order
	lost time.Duration // work lost if stopped now (since its last checkpoint)
	n    int32         // its accelerators on Up nodes
}

// lostWork is the work a running job loses if stopped at now: the time
// since its last checkpoint, or since it started when it never checkpoints.
func lostWork(a *Alloc, now time.Time) time.Duration {
	ran := now.Sub(a.Start)
	if ran < 0 {
		return 0
	}
	if a.Job.CheckpointEvery > 0 {
		return ran % a.Job.CheckpointEvery
	}
	return ran
}

// lowestRank returns the lowest preemption rank of any running
// preemptible job that started before cutoff, found once a pass: jobs a
// pass stops only raise it, and jobs it starts are not yet candidates, so
// a job that does not outrank it cannot preempt anything in the pass.
func (ps *pass) lowestRank(cutoff int64) int {
	if ps.lowest != nil {
		return *ps.lowest
	}
	ps.s.trackPreemptible()
	low := math.MaxInt
	for _, pp := range ps.s.pools {
		pp.preemptible.walk(func(a *Alloc) bool {
			if a.startKey > cutoff {
				return false
			}
			low = min(low, ps.e.rank(&a.Job, a.attainedAt(ps.now)))
			return true
		})
	}
	ps.lowest = &low
	return low
}

// maxExactVictims bounds the candidates among which preemption searches
// every subset; beyond it the search is bounded (see cheapestBounded).
const maxExactVictims = 10

// siteEligible reports whether site holds one of the pools elig.
func (ps *pass) siteEligible(site int32, elig []int32) bool {
	for _, pi := range elig {
		if ps.s.pools[pi].site == site {
			return true
		}
	}
	return false
}

// fitsWithout reports whether p could be placed with the victims stopped;
// the snapshot is unchanged when it returns.
func (ps *pass) fitsWithout(p *Pending, elig []int32, vs []*victim) bool {
	s := ps.s
	for _, v := range vs {
		s.free(v.a)
	}
	ok := false
	for _, pi := range elig {
		pp := s.pools[pi]
		r := makeRequest(&p.Job, pp)
		r.w = pp.drawW(&p.Job)
		if !staticFit(&r, pp) {
			continue
		}
		if slots, _ := ps.e.pl.place(&r, pp); slots != nil {
			ok = true
			break
		}
	}
	for i := len(vs) - 1; i >= 0; i-- {
		s.allocate(vs[i].a)
	}
	return ok
}

// setCost is a victim set's cost in the documented order.
func setCost(vs []*victim) victimSet {
	c := victimSet{vs: vs, maxPr: math.MinInt}
	for _, v := range vs {
		c.maxPr = max(c.maxPr, v.prio)
		c.accel += int32(v.a.accelerators())
		c.lost += v.lost
	}
	return c
}

// cheapestExact tries every subset of the candidates, cheapest first, and
// returns the first with which p can be placed, or nil.
func (ps *pass) cheapestExact(p *Pending, elig []int32, cands []*victim) []*victim {
	// accelerators each candidate frees in the pools the job may use, and
	// what is free there now: a subset that cannot bring the count to
	// the job's size in some pool is not worth trying
	k := int32(p.Job.Accelerators)
	most := int32(0)
	for _, pi := range elig {
		most = max(most, ps.s.pools[pi].free)
	}
	subsets := make([]victimSet, 0, 1<<len(cands)-1)
	for mask := 1; mask < 1<<len(cands); mask++ {
		var vs []*victim
		freed := int32(0)
		for i, v := range cands {
			if mask&(1<<i) != 0 {
				vs = append(vs, v)
				if slices.Contains(elig, v.a.pool) {
					freed += v.n
				}
			}
		}
		if most+freed >= k {
			subsets = append(subsets, setCost(vs))
		}
	}
	sort.SliceStable(subsets, func(a, b int) bool { return subsets[a].better(&subsets[b]) })
	for _, c := range subsets {
		if ps.fitsWithout(p, elig, c.vs) {
			return c.vs
		}
	}
	return nil
}

// cheapestBounded finds a victim set when there are too many candidates
// to try every subset: the cheapest set that frees enough accelerators in
// one domain of any level the job may span (a covering search, exact by
// count), extended with further candidates in cost order while p still
// cannot be placed (power or shape), then trimmed, most costly first, of
// every victim without which p can still be placed. The result is never
// wasteful (no victim is unneeded) but may cost more than the cheapest
// set when power, not accelerators, is what holds p back.
func (ps *pass) cheapestBounded(p *Pending, elig []int32, cands []*victim) []*victim {
	s := ps.s
	j := &p.Job
	var best *victimSet
	for _, pi := range elig {
		pp := s.pools[pi]
		r := makeRequest(j, pp)
		if !staticFit(&r, pp) {
			continue
		}
		// the widest level the job may span: a set that frees enough in a
		// narrower domain frees enough in the wider one holding it, which
		// has at least as many free, so no narrower level offers a
		// cheaper set
		if set := ps.victimsIn(pp, pi, &r, cands); set != nil && (best == nil || set.better(best)) {
			best = set
		}
	}
	var vs []*victim
	if best != nil {
		vs = append(vs, best.vs...)
	}
	in := map[*victim]bool{}
	for _, v := range vs {
		in[v] = true
	}
	added := 0
	for _, v := range cands {
		if ps.fitsWithout(p, elig, vs) {
			break
		}
		if in[v] {
			continue
		}
		if added++; added > maxAugment {
			return nil
		}
		vs = append(vs, v)
		in[v] = true
	}
	if len(vs) == 0 || !ps.fitsWithout(p, elig, vs) {
		return nil
	}
	sort.SliceStable(vs, func(a, b int) bool { return vs[a].rank < vs[b].rank })
	for x := len(vs) - 1; x >= 0 && len(vs) > 1; x-- {
		rest := append(append([]*victim(nil), vs[:x]...), vs[x+1:]...)
		if ps.fitsWithout(p, elig, rest) {
			vs = rest
		}
	}
	return vs
}

// maxAugment bounds the victims cheapestBounded adds beyond the covering
// set before it gives up.
const maxAugment = 32

// gain is what stopping victim v frees in domain dom.
type gain struct {
	dom int32
	v   *victim
	n   int32
}

// victimSet is a candidate set of victims in one domain.
type victimSet struct {
	vs    []*victim
	maxPr int
	accel int32
	lost  time.Duration
}

func (a *victimSet) better(b *victimSet) bool {
	if a.maxPr != b.maxPr {
		return a.maxPr < b.maxPr
	}
	if a.accel != b.accel {
		return a.accel < b.accel
	}
	if a.lost != b.lost {
		return a.lost < b.lost
	}
	return len(a.vs) < len(b.vs)
}

// preempt tries to start p by stopping lower-priority preemptible jobs:
// it finds the cheapest victim set with which p can be placed (see the
// package documentation for the order and the search), stops it and
// places p; otherwise nothing changes.
func (ps *pass) preempt(p *Pending) bool {
	s, e := ps.s, ps.e
	s.trackPreemptible()
	j := &p.Job
	k := int32(j.Accelerators)
	elig := e.eligible(j)
	// quick reject: not enough preemptible accelerators of lower priority
	// in any pool the job may use
	rank := e.rank(j, p.Attained)
	cutoff := ps.now.Add(-max(e.cfg.MinRuntime, 1)).UnixNano()
	// (a policy's own rank changes as jobs run: the lowest rank of any job
	// that may be stopped is found once a pass instead)
	possible := false
	if e.ranker != nil {
		if rank <= ps.lowestRank(cutoff) {
			return false
		}
		possible = true
	}
	for _, pi := range elig {
		pp := s.pools[pi]
		n := pp.free
		for pr, c := range pp.preemptAcc {
			if pr < rank {
				n += c
			}
		}
		if n >= k {
			possible = true
			break
		}
	}
	if !possible {
		return false
	}
	// candidates: preemptible, lower priority, started before the cutoff
	// (never at the instant they started, e.g. in this pass, nor within
	// their minimum run time)
	// in every pool of the sites the job may use: all of a site's pools
	// share its breakers, so stopping any of them frees watts
	var cands []*victim
	for qi, q := range s.pools {
		if !ps.siteEligible(q.site, elig) {
			continue
		}
		s.pools[qi].preemptible.walk(func(a *Alloc) bool {
			if a.startKey > cutoff {
				return false
			}
			if r := e.rank(&a.Job, a.attainedAt(ps.now)); r < rank {
				v := &victim{a: a, lost: lostWork(a, ps.now), prio: r}
				for _, sl := range a.Slots {
					if s.node[sl.Node].state == Up {
						v.n += int32(bits.OnesCount64(sl.Mask))
					}
				}
				cands = append(cands, v)
			}
			return true
		})
	}
	if len(cands) == 0 {
		return false
	}
	sort.Slice(cands, func(x, y int) bool {
		a, b := cands[x], cands[y]
		if a.prio != b.prio {
			return a.prio < b.prio
		}
		if a.lost != b.lost {
			return a.lost < b.lost
		}
		return a.a.Job.ID < b.a.Job.ID
	})
	for i, v := range cands {
		v.rank = int32(i)
	}
	var set []*victim
	if len(cands) <= maxExactVictims {
		set = ps.cheapestExact(p, elig, cands)
	} else {
		set = ps.cheapestBounded(p, elig, cands)
	}
	if set == nil {
		return false
	}
	best := &victimSet{vs: set}
	for _, v := range best.vs {
		s.free(v.a) // booked below only if the preemption is committed
	}
	e.memo.reset() // capacity came back: earlier refusals may not hold
	e.fits.reset()
	mark := len(ps.res.Decisions)
	resv := ps.resv
	ps.resv.active = false // the preemptor may use any pool
	_, ok := ps.try(p)
	ps.resv = resv
	if !ok {
		for _, v := range best.vs {
			s.allocate(v.a)
		}
		return false
	}
	// victims first, then the placement
	placed := append([]Decision(nil), ps.res.Decisions[mark:]...)
	ps.res.Decisions = ps.res.Decisions[:mark]
	sort.Slice(best.vs, func(a, b int) bool { return best.vs[a].a.Job.ID < best.vs[b].a.Job.ID })
	for _, v := range best.vs {
		ps.res.Decisions = append(ps.res.Decisions, Decision{Action: Preempt, Job: v.a.Job.ID, Site: v.a.Site,
			Reason: Reason{Code: PreemptedFor, Domain: -1, Job: j.ID}})
		ps.res.Preempted++
		s.account(v.a, ps.now)
		e.requeue(v.a, ps.now)
	}
	for i := range placed {
		if placed[i].Action == Place {
			placed[i].Reason = reason(Preempting)
		}
	}
	ps.res.Decisions = append(ps.res.Decisions, placed...)
	return true
}

// victimsIn returns the cheapest victim set that frees r.k accelerators
// in one domain of level r.top of pool pi (one scale-up group when r.grp),
// or nil.
func (ps *pass) victimsIn(pp *pool, pi int32, r *request, cands []*victim) *victimSet {
	s := ps.s
	l, k := r.top, r.k
	// domOf is the domain of node n that the job must stay in
	domOf := func(n int32) int32 {
		if r.grp {
			return pp.grpOf[s.f.Nodes[n].Rack-pp.off[fleet.LevelRack]]
		}
		return s.f.Ancestor(fleet.LevelNode, n, l)
	}
	var best *victimSet
	// accelerators each victim would free in each domain of level l,
	// grouped by domain, victims in cost order within a domain
	var gains []gain
	for _, v := range cands {
		if v.a.pool != pi {
			continue
		}
		for _, sl := range v.a.Slots {
			if s.node[sl.Node].state != Up {
				continue
			}
			d := domOf(sl.Node)
			if d < 0 {
				continue
			}
			gains = append(gains, gain{dom: d, v: v, n: int32(popcount(sl.Mask))})
		}
	}
	slices.SortFunc(gains, func(a, b gain) int {
		if a.dom != b.dom {
			return int(a.dom - b.dom)
		}
		return int(a.v.rank - b.v.rank)
	})
	// merge the slots of one victim in one domain
	merged := gains[:0]
	for _, g := range gains {
		if m := len(merged); m > 0 && merged[m-1].dom == g.dom && merged[m-1].v == g.v {
			merged[m-1].n += g.n
			continue
		}
		merged = append(merged, g)
	}
	for i := 0; i < len(merged); {
		d := merged[i].dom
		jEnd := i
		for jEnd < len(merged) && merged[jEnd].dom == d {
			jEnd++
		}
		group := merged[i:jEnd]
		i = jEnd
		free := pp.free
		switch {
		case r.grp:
			free = pp.grp.at[d].free
		case l != fleet.LevelSite:
			free = pp.lv[l].at[d-pp.off[l]].free
		}
		if set := cheapest(group, k-free); set != nil && (best == nil || set.better(best)) {
			best = set
		}
	}
	return best
}

// maxExactCells bounds the table of cheapest's exact search (victims ×
// accelerators needed); beyond it the search is greedy.
const maxExactCells = 1 << 20

// cheapest returns the cheapest set of victims among group (one domain's,
// in cost order) whose accelerators there cover need, by the documented
// order: lowest highest priority, then fewest accelerators stopped, then
// least work lost, then fewest jobs. The highest priority is settled
// first, as the lowest whose victims cover need; among the victims up to
// it, a covering knapsack finds the exact minimum of the rest when the
// table is small (maxExactCells), else victims are taken in cost order and
// those not needed dropped, the most costly first. It returns nil if the
// group cannot cover need, or need ≤ 0 (nothing to free).
func cheapest(group []gain, need int32) *victimSet {
	if need <= 0 {
		return nil
	}
	n, sum := 0, int32(0)
	for n < len(group) && sum < need {
		sum += group[n].n
		n++
	}
	if sum < need {
		return nil
	}
	// take every victim of the settled priority or lower
	for top := group[n-1].v.prio; n < len(group) && group[n].v.prio == top; n++ {
	}
	cands := group[:n]
	var picked []gain
	if int64(len(cands))*int64(need+1) <= maxExactCells {
		picked = cover(cands, need)
	} else {
		left := need
		for _, g := range cands {
			if left <= 0 {
				break
			}
			picked = append(picked, g)
			left -= g.n
		}
		for x := len(picked) - 1; x >= 0; x-- {
			if left+picked[x].n <= 0 {
				left += picked[x].n
				picked = append(picked[:x], picked[x+1:]...)
			}
		}
	}
	set := &victimSet{maxPr: picked[0].v.prio}
	for _, g := range picked {
		set.vs = append(set.vs, g.v)
		set.maxPr = max(set.maxPr, g.v.prio)
		set.accel += int32(g.v.a.accelerators())
		set.lost += g.v.lost
	}
	return set
}

// cost is what a set of victims costs, compared in order.
type cost struct {
	ok    bool // reachable
	accel int64
	lost  time.Duration
	jobs  int
}

func (a cost) less(b cost) bool {
	switch {
	case a.ok != b.ok:
		return a.ok
	case a.accel != b.accel:
		return a.accel < b.accel
	case a.lost != b.lost:
		return a.lost < b.lost
	}
	return a.jobs < b.jobs
}

// cover solves the covering knapsack exactly: the subset of gains whose
// accelerators sum to at least need at the least cost. best[c] is the
// least cost of covering c with the gains seen so far; take records the
// choices to rebuild the subset.
func cover(gains []gain, need int32) []gain {
	w := int(need) + 1
	best := make([]cost, w)
	best[0].ok = true
	take := make([]bool, len(gains)*w)
	for i, g := range gains {
		c := cost{ok: true, accel: int64(g.v.a.accelerators()), lost: g.v.lost, jobs: 1}
		for x := w - 1; x >= 1; x-- {
			from := best[max(0, x-int(g.n))]
			if !from.ok {
				continue
			}
			if alt := (cost{ok: true, accel: from.accel + c.accel, lost: from.lost + c.lost, jobs: from.jobs + 1}); alt.less(best[x]) {
				best[x] = alt
				take[i*w+x] = true
			}
		}
	}
	var out []gain
	for i, x := len(gains)-1, w-1; i >= 0 && x > 0; i-- {
		if take[i*w+x] {
			out = append(out, gains[i])
			x = max(0, x-int(gains[i].n))
		}
	}
	// cost order, as the greedy search returns them
	for a, b := 0, len(out)-1; a < b; a, b = a+1, b-1 {
		out[a], out[b] = out[b], out[a]
	}
	return out
}

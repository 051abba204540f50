package engine

import (
	"sort"
	"time"
)

// victim is a running job that a preemptor may stop.
type victim struct {
	a    *Alloc
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

// preempt tries to start p by stopping lower-priority preemptible jobs.
// It looks, in every pool and every domain of the level p would be packed
// into, for the cheapest set of victims that frees enough accelerators
// there (lowest priority first, then fewest accelerators, then least lost
// work thanks to recent checkpoints), drops the victims not needed, and
// commits the set only if p is then placed; otherwise nothing changes.
func (ps *pass) preempt(p *Pending) bool {
	s, e := ps.s, ps.e
	j := &p.Job
	k := int32(j.Accelerators)
	elig := e.eligible(j)
	// quick reject: not enough preemptible accelerators of lower priority
	// in any pool the job may use
	possible := false
	for _, pi := range elig {
		pp := s.pools[pi]
		n := pp.free
		for pr, c := range pp.preemptAcc {
			if pr < j.Priority {
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
	cutoff := ps.now.Add(-max(e.cfg.MinRuntime, 1)).UnixNano()
	var cands []*victim
	for _, pi := range elig {
		s.pools[pi].preemptible.walk(func(a *Alloc) bool {
			if a.startKey > cutoff {
				return false
			}
			if a.Job.Priority < j.Priority {
				cands = append(cands, &victim{a: a, lost: lostWork(a, ps.now)})
			}
			return true
		})
	}
	if len(cands) == 0 {
		return false
	}
	sort.Slice(cands, func(x, y int) bool {
		a, b := cands[x], cands[y]
		if a.a.Job.Priority != b.a.Job.Priority {
			return a.a.Job.Priority < b.a.Job.Priority
		}
		if a.lost != b.lost {
			return a.lost < b.lost
		}
		return a.a.Job.ID < b.a.Job.ID
	})
	for i, v := range cands {
		v.rank = int32(i)
	}
	var best *victimSet
	for _, pi := range elig {
		pp := s.pools[pi]
		r := request{k: k, perNode: int32(j.PerNode)}
		r.maxL = topLevel(j, pp)
		if !staticFit(&r, pp) {
			continue
		}
		// the tightest level that can hold the job, going up (for a job
		// that may span) until some domain can be freed
		l := plNode
		for l < r.maxL && pp.cap[l] < k {
			l++
		}
		for ; l <= r.maxL; l++ {
			if set := ps.victimsIn(pp, pi, l, k, cands); set != nil {
				if best == nil || set.better(best) {
					best = set
				}
				break
			}
		}
	}
	if best == nil {
		return false
	}
	for _, v := range best.vs {
		s.free(v.a) // booked below only if the preemption is committed
	}
	ps.memo = nil // capacity came back: earlier refusals may not hold
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

// victimsIn returns the cheapest victim set that frees k accelerators in
// one domain of pool level l of pool pi, or nil.
func (ps *pass) victimsIn(pp *pool, pi int32, l int, k int32, cands []*victim) *victimSet {
	s := ps.s
	var best *victimSet
	// accelerators each victim would free in each domain of level l,
	// grouped by domain, victims in cost order within a domain
	var gains []gain
	for _, v := range cands {
		if v.a.pool != pi {
			continue
		}
		for _, sl := range v.a.Slots {
			if s.nodeState[sl.Node] != Up {
				continue
			}
			gains = append(gains, gain{dom: s.ancestor(plNode, sl.Node, l), v: v, n: int32(popcount(sl.Mask))})
		}
	}
	sort.Slice(gains, func(a, b int) bool {
		if gains[a].dom != gains[b].dom {
			return gains[a].dom < gains[b].dom
		}
		return gains[a].v.rank < gains[b].v.rank
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
		if l < plSite {
			free = pp.lv[l].free[d-pp.off[l]]
		}
		need := k - free
		var picked []gain
		for _, g := range group {
			if need <= 0 {
				break
			}
			picked = append(picked, g)
			need -= g.n
		}
		if need > 0 || len(picked) == 0 {
			continue
		}
		// drop victims that are not needed, the most costly first
		for x := len(picked) - 1; x >= 0; x-- {
			if need+picked[x].n <= 0 {
				need += picked[x].n
				picked = append(picked[:x], picked[x+1:]...)
			}
		}
		set := &victimSet{maxPr: picked[0].v.a.Job.Priority}
		for _, g := range picked {
			set.vs = append(set.vs, g.v)
			set.maxPr = max(set.maxPr, g.v.a.Job.Priority)
			set.accel += int32(g.v.a.accelerators())
			set.lost += g.v.lost
		}
		if best == nil || set.better(best) {
			best = set
		}
	}
	return best
}

package engine

import (
	"sort"
	"time"
)

// victim is a running job that a preemptor may stop.
type victim struct {
	a    *Alloc
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
	inPool := map[int32]bool{}
	for _, pi := range elig {
		inPool[pi] = true
	}
	var cands []*victim
	for _, a := range s.allocs {
		if !inPool[a.pool] || !a.Job.Preemptible || a.Job.Priority >= j.Priority {
			continue
		}
		// never at the instant it started (in this pass, say), nor before
		// its minimum run time
		if ran := ps.now.Sub(a.Start); ran <= 0 || ran < e.cfg.MinRuntime {
			continue
		}
		cands = append(cands, &victim{a: a, lost: lostWork(a, ps.now)})
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
	var best *victimSet
	for _, pi := range elig {
		pp := s.pools[pi]
		r := request{job: j, k: k, perNode: int32(j.PerNode)}
		r.maxL, r.req = topLevel(j, pp)
		if !staticFit(&r, pp) {
			continue
		}
		// the tightest level that can hold the job
		l := plNode
		for l < r.maxL && pp.cap[l] < k {
			l++
		}
		// accelerators each victim would free in each domain of level l
		gain := map[int32]map[*victim]int32{}
		var doms []int32
		for _, v := range cands {
			if v.a.pool != pi {
				continue
			}
			for _, sl := range v.a.Slots {
				if s.nodeState[sl.Node] != Up {
					continue
				}
				d := s.ancestor(plNode, sl.Node, l)
				m := gain[d]
				if m == nil {
					m = map[*victim]int32{}
					gain[d] = m
					doms = append(doms, d)
				}
				m[v] += int32(popcount(sl.Mask))
			}
		}
		sort.Slice(doms, func(a, b int) bool { return doms[a] < doms[b] })
		for _, d := range doms {
			free := pp.free
			if l < plSite {
				free = pp.lv[l].free[d-pp.off[l]]
			}
			need := k - free
			set := &victimSet{}
			for _, v := range cands {
				if need <= 0 {
					break
				}
				g := gain[d][v]
				if g == 0 {
					continue
				}
				set.vs = append(set.vs, v)
				need -= g
			}
			if need > 0 || len(set.vs) == 0 {
				continue
			}
			// drop victims that are not needed, the most costly first
			for i := len(set.vs) - 1; i >= 0; i-- {
				if g := gain[d][set.vs[i]]; need+g <= 0 {
					need += g
					set.vs = append(set.vs[:i], set.vs[i+1:]...)
				}
			}
			set.maxPr = set.vs[0].a.Job.Priority
			for _, v := range set.vs {
				set.maxPr = max(set.maxPr, v.a.Job.Priority)
				for _, sl := range v.a.Slots {
					set.accel += int32(popcount(sl.Mask))
				}
				set.lost += v.lost
			}
			if best == nil || set.better(best) {
				best = set
			}
		}
	}
	if best == nil {
		return false
	}
	for _, v := range best.vs {
		s.free(v.a) // booked below only if the preemption is committed
	}
	ps.memo = map[memoKey]memo{} // capacity came back: earlier refusals may not hold
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

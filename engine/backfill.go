package engine

import (
	"sort"
	"time"
)

// reserve computes the backfill reservation for p, the first job of the
// pass that cannot start: in each pool it may use, the earliest time at
// which the free accelerators plus those of running jobs expected to end
// by then (start + estimated duration) cover it. The earliest pool wins.
// Later jobs of the pass may use that pool only if they are expected to
// end by then, or fit in what the head leaves over.
func (ps *pass) reserve(p *Pending) {
	s := ps.s
	j := &p.Job
	k := int32(j.Accelerators)
	in := map[int32]bool{}
	for _, pi := range ps.e.eligible(j) {
		pp := s.pools[pi]
		r := request{job: j, k: k, perNode: int32(j.PerNode)}
		r.maxL, r.req = topLevel(j, pp)
		if staticFit(&r, pp) && pp.total >= k {
			in[pi] = true
		}
	}
	if len(in) == 0 {
		return
	}
	type end struct {
		pool int32
		at   time.Time
		n    int32
		id   JobID
	}
	var ends []end
	for _, a := range s.allocs {
		if !in[a.pool] || a.Job.Duration <= 0 {
			continue
		}
		n := int32(0)
		for _, sl := range a.Slots {
			if s.nodeState[sl.Node] == Up {
				n += int32(popcount(sl.Mask))
			}
		}
		ends = append(ends, end{a.pool, a.Start.Add(a.Job.Duration), n, a.Job.ID})
	}
	sort.Slice(ends, func(a, b int) bool {
		if !ends[a].at.Equal(ends[b].at) {
			return ends[a].at.Before(ends[b].at)
		}
		return ends[a].id < ends[b].id
	})
	best := reservation{}
	pools := make([]int32, 0, len(in))
	for pi := range in {
		pools = append(pools, pi)
	}
	sort.Slice(pools, func(a, b int) bool { return pools[a] < pools[b] })
	for _, pi := range pools {
		avail := s.pools[pi].free
		r := reservation{active: true, pool: pi, infinite: true}
		if avail >= k {
			// It has room but could not be placed (fragmented or power):
			// hold the pool from now.
			r.at, r.infinite, r.extra = ps.now, false, 0
		} else {
			for _, x := range ends {
				if x.pool != pi {
					continue
				}
				avail += x.n
				if avail >= k {
					r.at, r.infinite, r.extra = x.at, false, avail-k
					break
				}
			}
		}
		if !best.active || (!r.infinite && (best.infinite || r.at.Before(best.at))) {
			best = r
		}
	}
	if best.infinite {
		best.extra = 0
	}
	ps.resv = best
}

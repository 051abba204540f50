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
		r := request{k: k, perNode: int32(j.PerNode)}
		r.maxL = topLevel(j, pp)
		if staticFit(&r, pp) && pp.total >= k {
			in[pi] = true
		}
	}
	if len(in) == 0 {
		return
	}
	// pools in index order, for determinism
	pools := make([]int32, 0, len(in))
	for pi := range in {
		pools = append(pools, pi)
	}
	sort.Slice(pools, func(a, b int) bool { return pools[a] < pools[b] })
	best := reservation{}
	for _, pi := range pools {
		pp := s.pools[pi]
		avail := pp.free
		r := reservation{active: true, pool: pi, infinite: true}
		if avail >= k {
			// It has room but could not be placed (fragmented or power):
			// hold the pool from now.
			r.at, r.infinite, r.extra = ps.now, false, 0
		} else {
			// walk running jobs by expected end until enough is freed
			pp.ends.walk(func(a *Alloc) bool {
				for _, sl := range a.Slots {
					if s.nodeState[sl.Node] == Up {
						avail += int32(popcount(sl.Mask))
					}
				}
				if avail >= k {
					r.at, r.infinite, r.extra = time.Unix(0, a.endKey), false, avail-k
					return false
				}
				return true
			})
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

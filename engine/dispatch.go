package engine

import (
	"sort"
	"time"
)

// RankSites returns the sites a job may use, best first by the engine's
// site policy at now, with what the policy saw (free accelerators of the
// job's model, energy price and carbon). It changes nothing: a driver can
// show where a waiting job is headed, or route jobs to per-site control
// planes. Sites of equal score keep fleet order.
func (e *Engine) RankSites(s *Snapshot, j *Job, now time.Time) []SiteView {
	e.bind(s)
	ps := &pass{e: e, s: s, now: now}
	elig := e.eligible(j)
	var out []SiteView
	var scores []float64
	seen := map[int32]bool{}
	for _, pi := range elig {
		site := s.pools[pi].site
		if seen[site] {
			continue
		}
		seen[site] = true
		v := *ps.siteView(site, elig, j)
		out = append(out, v)
		scores = append(scores, e.sites.Score(&v, j))
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	ranked := make([]SiteView, len(out))
	for i, k := range idx {
		ranked[i] = out[k]
	}
	return ranked
}

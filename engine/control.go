package engine

import (
	"fmt"
	"math/bits"
	"sort"
	"time"

	"stargate/fleet"
	"stargate/power"
)

// CapConfig configures Engine.Control.
type CapConfig struct {
	// Controller holds the two thresholds (defaults 0.98 and 0.90 of the
	// rated limit).
	Controller power.Controller
	// MinCapFraction is the cap, as a fraction of TDP, put on each
	// accelerator of a capped job (default 0.5).
	MinCapFraction float64
}

func (c CapConfig) withDefaults() CapConfig {
	if c.Controller == (power.Controller{}) {
		c.Controller = power.Default()
	}
	if c.MinCapFraction == 0 {
		c.MinCapFraction = 0.5
	}
	return c
}

func (c CapConfig) validate() error {
	if err := c.Controller.Validate(); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	if c.MinCapFraction <= 0 || c.MinCapFraction > 1 {
		return fmt.Errorf("engine: min cap fraction must be in (0, 1], got %g", c.MinCapFraction)
	}
	return nil
}

// rated returns the physical limit of a domain in watts: the breaker's
// rating (the substation's IT share for a site), without oversubscription.
func (s *Snapshot) rated(l fleet.Level, d int32) float64 {
	if l == fleet.LevelSite {
		st := &s.f.Sites[d]
		return float64(st.LimitW) / st.PUE
	}
	return float64(s.f.Domains(l)[d].LimitW)
}

func (s *Snapshot) ratedFast(l fleet.Level, d int32) float64 {
	switch l {
	case fleet.LevelHall:
		return float64(s.f.Halls[d].LimitW)
	case fleet.LevelRow:
		return float64(s.f.Rows[d].LimitW)
	case fleet.LevelRack:
		return float64(s.f.Racks[d].LimitW)
	}
	return s.rated(l, d)
}

type domKey struct {
	l fleet.Level
	d int32
}

// capSaving returns the per-accelerator cap, capFrac of TDP, for a running
// job, and what it saves per accelerator against the job's expected draw.
func (s *Snapshot) capSaving(a *Alloc, capFrac float64) (capW, saving float64) {
	acc := &s.f.Catalog.Accelerators[s.pools[a.pool].accel]
	capW = capFrac * acc.TDPW
	saving = a.Job.powerFraction()*acc.TDPW - capW
	return capW, max(saving, 0)
}

// Control compares the measured draw of every domain (Snapshot.SetMeasured)
// with its rated limit and returns Cap decisions where a domain is over
// the upper threshold (lowest priority first, until the expected draw is
// back under it) and Uncap decisions for capped jobs whose every domain
// would stay under the lower threshold with the cap lifted (highest
// priority first). It applies them to s (Alloc.CapW). It does not model
// time: the driver calls it as often as its controller reacts.
func (e *Engine) Control(s *Snapshot, now time.Time) []Decision {
	e.bind(s)
	c := e.cfg.Capping
	var out []Decision
	g := e.gridNow(s, now)
	if g != nil {
		g.calibrate()
	}
	// domains over the upper threshold, and what they must shed
	excess := map[domKey]float64{}
	var over []domKey
	for _, k := range s.overDomains(c.Controller, nil) { // x > 0: a mark is kept by SetMeasured, judged here again
		if x := c.Controller.Excess(s.ratedFast(k.l, k.d), float64(s.measured[k.l][k.d])); x > 0 {
			excess[k] = x
			over = append(over, k)
		}
	}
	capped := map[JobID]bool{}
	if len(over) > 0 {
		// each running job's accelerators in each overloaded domain, in
		// job order
		share := map[domKey][]jobShare{}
		for _, a := range s.allocs {
			if a.CapW > 0 {
				continue
			}
			for _, k := range s.domainsOf(a) {
				if _, ok := excess[k.key]; ok {
					share[k.key] = append(share[k.key], jobShare{a, k.n})
				}
			}
		}
		for _, k := range over {
			sh := share[k]
			sort.Slice(sh, func(i, j int) bool { return sh[i].a.Job.ID < sh[j].a.Job.ID })
		}
		for _, k := range over {
			x := excess[k]
			loads := make([]power.Load, 0, len(share[k]))
			var js []jobShare
			for _, sh := range share[k] {
				_, sv := s.capSaving(sh.a, c.MinCapFraction)
				if capped[sh.a.Job.ID] {
					x -= sv * float64(sh.n) // already capped for another domain
					continue
				}
				loads = append(loads, power.Load{Priority: sh.a.Job.Priority, SavingW: sv * float64(sh.n)})
				js = append(js, sh)
			}
			for _, i := range c.Controller.Shed(x, loads) {
				a := js[i].a
				capW, _ := s.capSaving(a, c.MinCapFraction)
				s.setCap(a, capW)
				capped[a.Job.ID] = true
				out = append(out, Decision{Action: Cap, Job: a.Job.ID, Site: a.Site, CapW: capW,
					Reason: Reason{Code: OverLimit, Level: k.l, Domain: k.d}})
			}
		}
	}
	if g != nil && len(g.inForce) > 0 {
		e.pl.grid, e.pl.gnow, e.pl.gmask = g, now, 0
		out = e.gridShed(s, now, capped, out)
		e.pl.grid = nil
	}
	// uncap, highest priority first, while every domain stays under the
	// lower threshold (and grid events and ramps allow it); a cap put for
	// a grid event goes back to a draw that was not over the upper one
	var held []bool
	if g != nil {
		held = e.heldSites(now)
	}
	var cappedJobs []*Alloc
	for id, a := range s.capped {
		if !capped[id] && (held == nil || !held[a.Site]) {
			cappedJobs = append(cappedJobs, a)
		}
	}
	sort.Slice(cappedJobs, func(i, j int) bool { return cappedJobs[i].Job.ID < cappedJobs[j].Job.ID })
	sort.SliceStable(cappedJobs, func(i, j int) bool { return cappedJobs[i].Job.Priority > cappedJobs[j].Job.Priority })
	extra := map[domKey]float64{}
	for _, a := range cappedJobs {
		capW := a.CapW
		acc := &s.f.Catalog.Accelerators[s.pools[a.pool].accel]
		restore := max(a.Job.powerFraction()*acc.TDPW-capW, 0)
		if g != nil && held != nil && !e.gridRoom(s, a, now) {
			continue
		}
		doms := s.domainsOf(a)
		ok := true
		for _, k := range doms {
			m := float64(s.measured[k.key.l][k.key.d]) + extra[k.key] + restore*float64(k.n)
			rated := s.ratedFast(k.key.l, k.key.d)
			if a.gridCap && c.Controller.Excess(rated, m) > 0 || !a.gridCap && !c.Controller.CanRestore(rated, m) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		rise := 0.0
		if g != nil {
			if rise = s.uncapRise(a); !g.rampOK(a.Site, rise, now) {
				continue
			}
		}
		for _, k := range doms {
			extra[k.key] += restore * float64(k.n)
		}
		if g != nil {
			g.rise(a.Site, rise, now)
		}
		s.setCap(a, 0)
		out = append(out, Decision{Action: Uncap, Job: a.Job.ID, Site: a.Site, Reason: reason(Headroom)})
	}
	return out
}

type jobShare struct {
	a *Alloc
	n int32
}

type domCount struct {
	key domKey
	n   int32
}

// domainsOf lists the domains a job runs under, with its accelerators in
// each, from the site down.
func (s *Snapshot) domainsOf(a *Alloc) []domCount {
	var out []domCount
	add := func(l fleet.Level, d int32, n int32) {
		for i := range out {
			if out[i].key.l == l && out[i].key.d == d {
				out[i].n += n
				return
			}
		}
		out = append(out, domCount{domKey{l, d}, n})
	}
	for _, sl := range a.Slots {
		n := int32(bits.OnesCount64(sl.Mask))
		path := s.f.Path(int(sl.Node))
		for l := fleet.LevelSite; l <= fleet.LevelRack; l++ {
			add(l, path[l], n)
		}
	}
	return out
}

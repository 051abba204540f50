package sim

// Energy: each site's facility draw integrated hour by hour over its
// energy mix.

import (
	"time"

	"stargate/energy"
)

// siteEnergy is one site's energy so far, and the dispatch of its draw
// in the hour the clock is in, kept while neither changes: a run's events
// fall many to an hour, and most leave a site's draw as it was.
type siteEnergy struct {
	mwh, usd, tco2 float64
	peakW          float64

	// the dispatch of meanW (IT watts) in hour h, -1 for none: each
	// source's MW and its price and intensity then, and the MW unserved
	h                    int
	meanW                float64
	parts, price, carbon []float64
	unserved             float64
}

// hourAt sets the hour of the year the clock is in at run time a, as the
// span of run time [hourFrom, hourTo) it covers.
func (s *Sim) hourAt(a time.Duration) {
	abs := s.cfg.Start.Add(a)
	s.hourTo = a + abs.Truncate(time.Hour).Add(time.Hour).Sub(abs)
	s.hourFrom = s.hourTo - time.Hour
	s.hour = energy.HourOfYear(abs)
}

// integrateSites adds every site's energy from a to b, hour by hour of the
// year (UTC).
func (s *Sim) integrateSites(a, b time.Duration) {
	for a < b {
		if a < s.hourFrom || a >= s.hourTo {
			s.hourAt(a)
		}
		end := min(b, s.hourTo)
		frac := (end - a).Hours()
		for si := range s.siteEnergy {
			s.integrate(si, frac)
		}
		a = end
	}
}

// integrate adds site si's energy over frac hours of the hour the clock
// is in, its mean facility draw dispatched by energy.Dispatch.
func (s *Sim) integrate(si int, frac float64) {
	se := &s.siteEnergy[si]
	if m := s.dom[0][si].mean; se.h != s.hour || se.meanW != m {
		s.dispatch(si, m)
	}
	for i, mw := range se.parts {
		mwh := mw * frac
		se.mwh += mwh
		se.usd += mwh * se.price[i]
		se.tco2 += mwh * se.carbon[i] / 1e3
	}
	se.mwh += se.unserved * frac
}

// dispatch computes site si's dispatch of meanW in the hour the clock is
// in, and its sources' prices and intensities when the hour changed.
func (s *Sim) dispatch(si int, meanW float64) {
	site := &s.f.Sites[si]
	se := &s.siteEnergy[si]
	if se.parts == nil {
		n := len(site.Energy)
		se.parts, se.price, se.carbon = make([]float64, n), make([]float64, n), make([]float64, n)
	}
	h := s.hour
	if se.h != h {
		for i := range site.Energy {
			se.price[i] = energy.Price(&site.Energy[i], h)
			se.carbon[i] = energy.Carbon(&site.Energy[i], h)
		}
	}
	se.h, se.meanW = h, meanW
	se.unserved = energy.Dispatch(site.Energy, meanW*site.PUE/1e6, h, se.parts)
}

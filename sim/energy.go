package sim

// Energy: each site's facility draw integrated hour by hour over its
// energy mix.

import (
	"time"

	"stargate/energy"
)

// integrate adds site si's energy from a to b, hour by hour of the year
// (UTC), dispatching the site's mean facility draw by energy.Dispatch.
func (s *Sim) integrate(si int, a, b time.Duration) {
	site := &s.f.Sites[si]
	facilityMW := s.mean[0][si] * site.PUE / 1e6
	if len(s.parts) < len(site.Energy) {
		s.parts = make([]float64, len(site.Energy))
	}
	se := &s.siteEnergy[si]
	for a < b {
		abs := s.cfg.Start.Add(a)
		hourEnd := abs.Truncate(time.Hour).Add(time.Hour)
		end := min(b, a+hourEnd.Sub(abs))
		h := energy.HourOfYear(abs)
		frac := (end - a).Hours()
		parts := s.parts[:len(site.Energy)]
		unserved := energy.Dispatch(site.Energy, facilityMW, h, parts)
		for i := range site.Energy {
			mwh := parts[i] * frac
			se.mwh += mwh
			se.usd += mwh * energy.Price(&site.Energy[i], h)
			se.tco2 += mwh * energy.Carbon(&site.Energy[i], h) / 1e3
		}
		se.mwh += unserved * frac
		a = end
	}
}

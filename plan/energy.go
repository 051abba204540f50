package plan

import (
	"strings"

	"stargate/fleet"
)

// Dispatch splits a constant facility draw of drawMW over a year of hours
// among a site's energy sources: capacity sources (mw) first, in file
// order, each up to its capacity times its output profile that hour; then
// shares split the rest. It returns each source's energy, emissions and
// cost, and the energy no source covers (only possible when the mix has
// capacity sources alone).
func Dispatch(srcs []fleet.EnergySource, drawMW float64) ([]Source, float64) {
	out := make([]Source, len(srcs))
	for i, s := range srcs {
		out[i].Source = s.Source
	}
	var unserved, total float64
	for h := 0; h < fleet.HoursPerYear; h++ {
		rest := drawMW // MWh in this hour
		for i := range srcs {
			s := &srcs[i]
			if s.MW <= 0 {
				continue
			}
			e := min(rest, s.MW*hourly(s.Profile.Output, h, 1))
			rest -= e
			out[i].account(s, h, e)
		}
		if rest <= 0 {
			continue
		}
		shared := false
		for i := range srcs {
			s := &srcs[i]
			if s.Share > 0 {
				out[i].account(s, h, rest*s.Share)
				shared = true
			}
		}
		if !shared {
			unserved += rest
		}
	}
	for i := range out {
		total += out[i].GWh
	}
	for i := range out {
		if total > 0 {
			out[i].Share = out[i].GWh / total
		}
	}
	return out, unserved / 1e3
}

// account adds e MWh from source s in hour h.
func (o *Source) account(s *fleet.EnergySource, h int, e float64) {
	o.GWh += e / 1e3
	o.CostUSD += e * hourly(s.Profile.Price, h, s.PriceUSDPerMWh)
	o.EmissionsTCO2 += e * hourly(s.Profile.Carbon, h, carbon(s)) / 1e3 // MWh × g/kWh = kg; /1e3 = t
}

// carbon is a source's intensity in gCO2/kWh: its own, or its kind's default.
func carbon(s *fleet.EnergySource) float64 {
	if s.CarbonGPerKWh != nil {
		return *s.CarbonGPerKWh
	}
	return fleet.DefaultCarbon[strings.ToLower(s.Source)]
}

// hourly returns the profile's value for hour h of the year (a 24-value
// profile repeats daily), or def when there is no profile.
func hourly(p []float64, h int, def float64) float64 {
	if len(p) == 0 {
		return def
	}
	return p[h%len(p)]
}

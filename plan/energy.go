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
	parts := make([]float64, len(srcs))
	for h := 0; h < fleet.HoursPerYear; h++ {
		unserved += DispatchHour(srcs, drawMW, h, parts)
		for i := range srcs {
			out[i].account(&srcs[i], h, parts[i])
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

// DispatchHour splits drawMW for one hour of the year among the sources by
// the rule of Dispatch, writing each source's MWh into parts (one per
// source), and returns the MWh that no source covers.
func DispatchHour(srcs []fleet.EnergySource, drawMW float64, h int, parts []float64) float64 {
	rest := drawMW
	for i := range srcs {
		parts[i] = 0
		if s := &srcs[i]; s.MW > 0 {
			parts[i] = min(rest, s.MW*hourly(s.Profile.Output, h, 1))
			rest -= parts[i]
		}
	}
	if rest <= 0 {
		return 0
	}
	shared := false
	for i := range srcs {
		if s := &srcs[i]; s.Share > 0 {
			parts[i] = rest * s.Share
			shared = true
		}
	}
	if shared {
		return 0
	}
	return rest
}

// Price returns source s's price in USD/MWh in hour h of the year.
func Price(s *fleet.EnergySource, h int) float64 { return hourly(s.Profile.Price, h, s.PriceUSDPerMWh) }

// Carbon returns source s's intensity in gCO2/kWh in hour h of the year.
func Carbon(s *fleet.EnergySource, h int) float64 { return hourly(s.Profile.Carbon, h, carbon(s)) }

// account adds e MWh from source s in hour h.
func (o *Source) account(s *fleet.EnergySource, h int, e float64) {
	o.GWh += e / 1e3
	o.CostUSD += e * Price(s, h)
	o.EmissionsTCO2 += e * Carbon(s, h) / 1e3 // MWh × g/kWh = kg; /1e3 = t
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

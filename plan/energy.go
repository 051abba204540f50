package plan

import (
	"stargate/energy"
	"stargate/fleet"
)

// Dispatch splits a constant facility draw of drawMW over a year of hours
// among a site's energy sources by the rule of energy.Dispatch: capacity
// sources (mw) first, in file order, each up to its capacity times its
// output profile that hour; then shares split the rest. It returns each
// source's energy, emissions and cost, and the energy no source covers
// (only possible when the mix has capacity sources alone).
func Dispatch(srcs []fleet.EnergySource, drawMW float64) ([]Source, float64) {
	out := make([]Source, len(srcs))
	for i, s := range srcs {
		out[i].Source = s.Source
	}
	var unserved, total float64
	parts := make([]float64, len(srcs))
	for h := 0; h < fleet.HoursPerYear; h++ {
		unserved += energy.Dispatch(srcs, drawMW, h, parts)
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

// account adds e MWh from source s in hour h.
func (o *Source) account(s *fleet.EnergySource, h int, e float64) {
	o.GWh += e / 1e3
	o.CostUSD += e * energy.Price(s, h)
	o.EmissionsTCO2 += e * energy.Carbon(s, h) / 1e3 // MWh × g/kWh = kg; /1e3 = t
}

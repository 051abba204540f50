package engine

import (
	"time"

	"stargate/energy"
	"stargate/fleet"
)

// EnergyAt returns a site's blended energy price (USD/MWh) and carbon
// intensity (gCO2/kWh) in the hour of now (UTC): its mix dispatched by
// energy.Blend against the site's rated IT load (LimitW / PUE). Sources
// given in MW cover their share of that load first, at their hourly
// output; shares split the rest. Hourly profiles of 24 values repeat
// daily; 8760 values cover a year.
func EnergyAt(site *fleet.Site, now time.Time) (price, carbon float64) {
	itMW := float64(site.LimitW) / site.PUE / 1e6
	return energy.Blend(site.Energy, itMW, energy.HourOfYear(now))
}

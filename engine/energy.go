package engine

import (
	"time"

	"stargate/fleet"
)

// EnergyAt returns a site's blended energy price (USD/MWh) and carbon
// intensity (gCO2/kWh) in the hour of now (UTC). Sources given in MW cover
// their share of the site's IT load first, at their hourly output; shares
// split the rest. Hourly profiles of 24 values repeat daily; 8760 values
// cover a year.
func EnergyAt(site *fleet.Site, now time.Time) (price, carbon float64) {
	hour := hourOf(now)
	itMW := float64(site.LimitW) / site.PUE / 1e6
	covered := 0.0
	var shares float64
	for _, e := range site.Energy {
		shares += e.Share
	}
	type part struct{ w, price, carbon float64 }
	var parts []part
	for _, e := range site.Energy {
		if e.MW <= 0 {
			continue
		}
		out := 1.0
		if v, ok := hourly(e.Profile.Output, hour); ok {
			out = v
		}
		c := 0.0
		if itMW > 0 {
			c = min(e.MW*out/itMW, 1-covered)
		}
		covered += c
		parts = append(parts, part{c, sourcePrice(&e, hour), sourceCarbon(&e, hour)})
	}
	for _, e := range site.Energy {
		if e.MW > 0 || shares <= 0 {
			continue
		}
		parts = append(parts, part{(1 - covered) * e.Share / shares, sourcePrice(&e, hour), sourceCarbon(&e, hour)})
	}
	var tw float64
	for _, p := range parts {
		price += p.w * p.price
		carbon += p.w * p.carbon
		tw += p.w
	}
	if tw > 0 {
		price /= tw
		carbon /= tw
	}
	return price, carbon
}

func hourOf(t time.Time) int {
	t = t.UTC()
	return (t.YearDay()-1)*24 + t.Hour()
}

// hourly picks the value of a 24- or 8760-long profile for an hour of the year.
func hourly(v []float64, hourOfYear int) (float64, bool) {
	switch len(v) {
	case 24:
		return v[hourOfYear%24], true
	case fleet.HoursPerYear:
		return v[hourOfYear%fleet.HoursPerYear], true
	}
	return 0, false
}

func sourcePrice(e *fleet.EnergySource, hour int) float64 {
	if v, ok := hourly(e.Profile.Price, hour); ok {
		return v
	}
	return e.PriceUSDPerMWh
}

func sourceCarbon(e *fleet.EnergySource, hour int) float64 {
	if v, ok := hourly(e.Profile.Carbon, hour); ok {
		return v
	}
	if e.CarbonGPerKWh != nil {
		return *e.CarbonGPerKWh
	}
	return fleet.DefaultCarbon[e.Source]
}

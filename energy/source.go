package energy

import (
	"time"

	"stargate/fleet"
)

// HourOfYear returns the hour of the year of t in UTC, 0 to 8759: the
// hour that indexes a yearly profile. The last day of a leap year reads
// as the first day of the year.
func HourOfYear(t time.Time) int {
	t = t.UTC()
	return ((t.YearDay()-1)*24 + t.Hour()) % fleet.HoursPerYear
}

// Hourly returns the value of profile p for hour h of the year: a
// 24-value profile repeats daily, an 8760-value one covers the year. It
// returns false for any other length (no profile).
func Hourly(p []float64, h int) (float64, bool) {
	switch len(p) {
	case 24:
		return p[h%24], true
	case fleet.HoursPerYear:
		return p[h%fleet.HoursPerYear], true
	}
	return 0, false
}

// Output returns the fraction of source s's capacity available in hour h:
// its output profile's value, or 1 without one.
func Output(s *fleet.EnergySource, h int) float64 {
	if v, ok := Hourly(s.Profile.Output, h); ok {
		return v
	}
	return 1
}

// Price returns source s's price in USD/MWh in hour h: its price
// profile's value, or its own price.
func Price(s *fleet.EnergySource, h int) float64 {
	if v, ok := Hourly(s.Profile.Price, h); ok {
		return v
	}
	return s.PriceUSDPerMWh
}

// Carbon returns source s's intensity in gCO2/kWh in hour h: its carbon
// profile's value, else its own intensity, else the default of its kind
// (fleet.DefaultCarbonOf, which ignores case), else 0.
func Carbon(s *fleet.EnergySource, h int) float64 {
	if v, ok := Hourly(s.Profile.Carbon, h); ok {
		return v
	}
	if s.CarbonGPerKWh != nil {
		return *s.CarbonGPerKWh
	}
	c, _ := fleet.DefaultCarbonOf(s.Source)
	return c
}

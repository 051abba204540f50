package energy

import (
	"math"
	"testing"
	"time"

	"stargate/fleet"
)

func ptr(v float64) *float64 { return &v }

// noonOnly is a 24-hour output profile: full output at noon, none else.
func noonOnly() []float64 {
	v := make([]float64, 24)
	v[12] = 1
	return v
}

// yearRamp is an 8760-hour profile whose value is its hour.
func yearRamp() []float64 {
	v := make([]float64, fleet.HoursPerYear)
	for h := range v {
		v[h] = float64(h)
	}
	return v
}

func TestBlend(t *testing.T) {
	gasGrid := []fleet.EnergySource{
		{Source: "gas", Share: 0.55, PriceUSDPerMWh: 45},
		{Source: "grid", Share: 0.45, PriceUSDPerMWh: 60, CarbonGPerKWh: ptr(400)},
	}
	solarGrid := []fleet.EnergySource{
		{Source: "solar", MW: 50, PriceUSDPerMWh: 30, Profile: fleet.Profile{Output: noonOnly()}},
		{Source: "grid", Share: 1, PriceUSDPerMWh: 60, CarbonGPerKWh: ptr(400)},
	}
	nuclear := []fleet.EnergySource{{Source: "nuclear", MW: 80, PriceUSDPerMWh: 70}}
	for _, tc := range []struct {
		name          string
		srcs          []fleet.EnergySource
		loadMW        float64
		h             int
		price, carbon float64
	}{
		{"shares only", gasGrid, 100, 0, 0.55*45 + 0.45*60, 0.55*490 + 0.45*400},
		{"shares only, any load", gasGrid, 7, 4000, 0.55*45 + 0.45*60, 0.55*490 + 0.45*400},
		{"solar covers half at noon", solarGrid, 100, 12, (30 + 60) / 2.0, (48 + 400) / 2.0},
		{"solar covers a fifth at noon", solarGrid, 250, 12, 0.2*30 + 0.8*60, 0.2*48 + 0.8*400},
		{"solar covers all at noon", solarGrid, 40, 12, 30, 48},
		{"the day repeats", solarGrid, 100, 12 + 24*200, (30 + 60) / 2.0, (48 + 400) / 2.0},
		{"no solar at night", solarGrid, 100, 0, 60, 400},
		{"unrated site: shares alone", solarGrid, 0, 12, 60, 400},
		{"capacity short of load: covered energy only", nuclear, 100, 9, 70, 12},
		{"capacity that gives nothing", []fleet.EnergySource{
			{Source: "solar", MW: 50, PriceUSDPerMWh: 30, Profile: fleet.Profile{Output: noonOnly()}},
		}, 100, 0, 0, 0},
		{"8760 price and carbon profiles", []fleet.EnergySource{
			{Source: "grid", Share: 1, PriceUSDPerMWh: 99, CarbonGPerKWh: ptr(99), Profile: fleet.Profile{Price: yearRamp(), Carbon: yearRamp()}},
		}, 100, 5000, 5000, 5000},
		{"8760 output profile", []fleet.EnergySource{
			{Source: "wind", MW: 100, PriceUSDPerMWh: 20, Profile: fleet.Profile{Output: func() []float64 {
				v := make([]float64, fleet.HoursPerYear)
				v[5000] = 0.25
				return v
			}()}},
			{Source: "coal", Share: 1, PriceUSDPerMWh: 50},
		}, 100, 5000, 0.25*20 + 0.75*50, 0.25*11 + 0.75*820},
		{"missing carbon takes the default", []fleet.EnergySource{{Source: "coal", Share: 1}}, 100, 0, 0, 820},
		{"own carbon beats the default", []fleet.EnergySource{{Source: "coal", Share: 1, CarbonGPerKWh: ptr(700)}}, 100, 0, 0, 700},
		{"source names ignore case", []fleet.EnergySource{
			{Source: "Gas", Share: 0.5}, {Source: "SOLAR", Share: 0.5},
		}, 100, 0, 0, (490 + 48) / 2.0},
		{"unknown source without carbon", []fleet.EnergySource{{Source: "storage", Share: 1, PriceUSDPerMWh: 80}}, 100, 0, 80, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, c := Blend(tc.srcs, tc.loadMW, tc.h)
			if !near(p, tc.price) || !near(c, tc.carbon) {
				t.Errorf("Blend = price %g carbon %g, want %g %g", p, c, tc.price, tc.carbon)
			}
		})
	}
}

func TestDispatch(t *testing.T) {
	srcs := []fleet.EnergySource{
		{Source: "solar", MW: 50, Profile: fleet.Profile{Output: noonOnly()}},
		{Source: "nuclear", MW: 30},
		{Source: "gas", Share: 0.25},
		{Source: "grid", Share: 0.75, CarbonGPerKWh: ptr(400)},
	}
	for _, tc := range []struct {
		name     string
		srcs     []fleet.EnergySource
		loadMW   float64
		h        int
		parts    []float64
		unserved float64
	}{
		{"capacity in order, shares split the rest", srcs, 100, 12, []float64{50, 30, 5, 15}, 0},
		{"night: nuclear, then shares", srcs, 100, 0, []float64{0, 30, 17.5, 52.5}, 0},
		{"first capacity covers all", srcs, 40, 12, []float64{40, 0, 0, 0}, 0},
		{"no load", srcs, 0, 12, []float64{0, 0, 0, 0}, 0},
		{"capacity alone leaves a gap", srcs[:2], 100, 0, []float64{0, 30}, 70},
		{"shares are proportions: the rest is split whole", []fleet.EnergySource{
			{Source: "gas", Share: 0.3}, {Source: "coal", Share: 0.3},
		}, 100, 0, []float64{50, 50}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parts := make([]float64, len(tc.srcs))
			for i := range parts {
				parts[i] = -1 // stale values must be overwritten
			}
			unserved := Dispatch(tc.srcs, tc.loadMW, tc.h, parts)
			for i := range parts {
				if !near(parts[i], tc.parts[i]) {
					t.Errorf("parts = %v, want %v", parts, tc.parts)
					break
				}
			}
			if !near(unserved, tc.unserved) {
				t.Errorf("unserved = %g, want %g", unserved, tc.unserved)
			}
		})
	}
}

func TestHourOfYear(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		want int
	}{
		{time.Date(2026, 1, 1, 0, 30, 0, 0, time.UTC), 0},
		{time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC), (31+28+31+30+31)*24 + 12},
		{time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC), fleet.HoursPerYear - 1},
		{time.Date(2024, 12, 31, 5, 0, 0, 0, time.UTC), 5}, // leap year's last day reads as the first
		{time.Date(2026, 1, 1, 3, 0, 0, 0, time.FixedZone("UTC+2", 2*3600)), 1},
	} {
		if got := HourOfYear(tc.t); got != tc.want {
			t.Errorf("HourOfYear(%v) = %d, want %d", tc.t, got, tc.want)
		}
	}
}

func TestHourlyIgnoresOtherLengths(t *testing.T) {
	s := fleet.EnergySource{Source: "grid", PriceUSDPerMWh: 42, CarbonGPerKWh: ptr(300),
		Profile: fleet.Profile{Price: make([]float64, 12), Carbon: make([]float64, 48)}}
	if p, c := Price(&s, 3), Carbon(&s, 3); p != 42 || c != 300 {
		t.Errorf("price %g carbon %g from profiles of 12 and 48 values, want the source's own 42 and 300", p, c)
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*max(1, math.Abs(b)) }

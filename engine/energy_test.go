package engine_test

import (
	"math"
	"testing"
	"time"

	"stargate/engine"
	"stargate/fleet"
	"stargate/plan"
)

// TestEnergyAtSourceNameCase checks that a source's default intensity does
// not depend on how the file spells its name: "Gas" is gas, as fleet
// validation and the plan report already take it.
func TestEnergyAtSourceNameCase(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	site := func(source string) *fleet.Site {
		return &fleet.Site{Domain: fleet.Domain{LimitW: 120e6}, PUE: 1.2, Energy: []fleet.EnergySource{
			{Source: source, Share: 1, PriceUSDPerMWh: 50},
		}}
	}
	_, lower := engine.EnergyAt(site("gas"), now)
	_, upper := engine.EnergyAt(site("Gas"), now)
	if lower != fleet.DefaultCarbon["gas"] {
		t.Fatalf("gas: carbon %g, want the default %g", lower, fleet.DefaultCarbon["gas"])
	}
	if upper != lower {
		t.Errorf("Gas: carbon %g, gas: %g", upper, lower)
	}
	mix, _ := plan.Dispatch(site("Gas").Energy, 100)
	// a year of constant intensity: emissions / energy is the hourly figure
	if planned := mix[0].EmissionsTCO2 / mix[0].GWh; math.Abs(planned-upper) > 1e-9*planned {
		t.Errorf("Gas: engine carbon %g, plan %g", upper, planned)
	}
}

package energy

import (
	"math"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"stargate/fleet"
)

// drawProfile draws no profile, a day (24 values) or a year (8760) in [lo, hi].
func drawProfile(t *rapid.T, name string, lo, hi float64) []float64 {
	n := rapid.SampledFrom([]int{0, 24, fleet.HoursPerYear}).Draw(t, name+" length")
	if n == 0 {
		return nil
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = lo + float64(i%7)/6*(hi-lo) // cheap to build, still varies by hour
	}
	k := rapid.IntRange(0, n-1).Draw(t, name+" hour")
	v[k] = rapid.Float64Range(lo, hi).Draw(t, name+" value")
	return v
}

// drawMix draws a mix of capacity and share sources; shares add up to 1,
// as validation requires.
func drawMix(t *rapid.T) []fleet.EnergySource {
	kinds := []string{"gas", "Gas", "COAL", "solar", "Wind", "nuclear", "grid", "storage"}
	n := rapid.IntRange(1, 6).Draw(t, "sources")
	srcs := make([]fleet.EnergySource, n)
	var shares float64
	for i := range srcs {
		s := &srcs[i]
		s.Source = rapid.SampledFrom(kinds).Draw(t, "source")
		s.PriceUSDPerMWh = rapid.Float64Range(0, 300).Draw(t, "price")
		if _, ok := fleet.DefaultCarbonOf(s.Source); !ok || rapid.Bool().Draw(t, "own carbon") {
			s.CarbonGPerKWh = ptr(rapid.Float64Range(0, 1000).Draw(t, "carbon"))
		}
		s.Profile.Price = drawProfile(t, "price profile", -50, 500)
		s.Profile.Carbon = drawProfile(t, "carbon profile", 0, 1000)
		if rapid.Bool().Draw(t, "capacity") {
			s.MW = rapid.Float64Range(0.1, 500).Draw(t, "mw")
			s.Profile.Output = drawProfile(t, "output profile", 0, 1)
		} else {
			s.Share = rapid.Float64Range(0.01, 1).Draw(t, "share")
			shares += s.Share
		}
	}
	for i := range srcs {
		srcs[i].Share /= max(shares, 1e-300)
	}
	return srcs
}

// TestBlendWithinSources checks that a blend is an average: its price and
// intensity lie between the lowest and highest of its sources' that hour,
// and it is (0, 0) exactly when no source gives energy, which the test
// decides from the mix itself, not from Dispatch.
func TestBlendWithinSources(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		srcs := drawMix(t)
		h := rapid.IntRange(0, fleet.HoursPerYear-1).Draw(t, "hour")
		load := rapid.SampledFrom([]float64{0, 1, 100, 1e4}).Draw(t, "load")
		if rapid.Bool().Draw(t, "odd load") {
			load = rapid.Float64Range(0, 2000).Draw(t, "load MW")
		}
		price, carbon := Blend(srcs, load, h)

		pLo, pHi := math.Inf(1), math.Inf(-1)
		cLo, cHi := math.Inf(1), math.Inf(-1)
		gives := false
		for i := range srcs {
			s := &srcs[i]
			p, c := Price(s, h), Carbon(s, h)
			pLo, pHi = min(pLo, p), max(pHi, p)
			cLo, cHi = min(cLo, c), max(cHi, c)
			if s.Share > 0 || load > 0 && s.MW*Output(s, h) > 0 {
				gives = true
			}
			if strings.EqualFold(s.Source, "gas") && s.CarbonGPerKWh == nil && s.Profile.Carbon == nil && c != 490 {
				t.Fatalf("%s without carbon: %g, want gas's 490", s.Source, c)
			}
		}
		if !gives {
			if price != 0 || carbon != 0 {
				t.Fatalf("no source gives energy, yet price %g carbon %g", price, carbon)
			}
			return
		}
		const eps = 1e-9
		if price < pLo-eps*math.Abs(pLo) || price > pHi+eps*math.Abs(pHi) {
			t.Fatalf("price %g outside the sources' [%g, %g]", price, pLo, pHi)
		}
		if carbon < cLo-eps*math.Abs(cLo) || carbon > cHi+eps*math.Abs(cHi) {
			t.Fatalf("carbon %g outside the sources' [%g, %g]", carbon, cLo, cHi)
		}
	})
}

// TestDispatchConservesLoad checks that dispatch hands out the load, no
// more: parts are non-negative, a capacity source gives at most its MW
// times its output, and the parts and the uncovered rest add up to the
// load.
func TestDispatchConservesLoad(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		srcs := drawMix(t)
		h := rapid.IntRange(0, fleet.HoursPerYear-1).Draw(t, "hour")
		load := rapid.Float64Range(0, 2000).Draw(t, "load MW")
		parts := make([]float64, len(srcs))
		unserved := Dispatch(srcs, load, h, parts)
		sum := unserved
		hasShares := false
		for i, e := range parts {
			s := &srcs[i]
			hasShares = hasShares || s.Share > 0
			if e < 0 || s.MW > 0 && e > s.MW*Output(s, h) {
				t.Fatalf("source %d (%s) gives %g MW", i, s.Source, e)
			}
			sum += e
		}
		if math.Abs(sum-load) > 1e-9*max(load, 1) {
			t.Fatalf("parts %v and unserved %g add up to %g, want the load %g", parts, unserved, sum, load)
		}
		if hasShares && unserved != 0 {
			t.Fatalf("unserved %g with share sources", unserved)
		}
	})
}

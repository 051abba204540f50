package energy

import (
	"math"

	"stargate/fleet"
)

// Dispatch splits a load of loadMW over hour h of the year among srcs and
// writes each source's share of it, in MW over the hour (so MWh), into
// parts, which must hold one value per source. Capacity sources (MW > 0)
// go first, in order, each up to MW × its output that hour; share sources
// (Share > 0) split what is left in proportion to their shares. It returns the MW
// that no source covers, which only a mix of capacity sources alone can
// leave.
func Dispatch(srcs []fleet.EnergySource, loadMW float64, h int, parts []float64) (unserved float64) {
	rest := loadMW
	var shares float64
	for i := range srcs {
		s := &srcs[i]
		parts[i] = 0
		switch {
		case s.MW > 0:
			parts[i] = min(rest, s.MW*Output(s, h))
			rest -= parts[i]
		case s.Share > 0:
			shares += s.Share
		}
	}
	if rest <= 0 {
		return 0
	}
	if shares <= 0 {
		return rest
	}
	for i := range srcs {
		if s := &srcs[i]; s.MW <= 0 && s.Share > 0 {
			parts[i] = rest * s.Share / shares
		}
	}
	return 0
}

// Blend returns the price (USD/MWh) and intensity (gCO2/kWh) of the
// energy that covers loadMW in hour h, by the rule of Dispatch: the
// average of the sources' figures weighted by the energy each gives.
// Uncovered load does not count, and where no source gives anything both
// are 0. A load that is not a positive, finite number (an unrated site)
// is blended by the shares alone.
func Blend(srcs []fleet.EnergySource, loadMW float64, h int) (price, carbon float64) {
	var buf [8]float64
	parts := buf[:0]
	if len(srcs) > len(buf) {
		parts = make([]float64, len(srcs))
	}
	parts = parts[:len(srcs)]
	if loadMW > 0 && !math.IsInf(loadMW, 1) {
		Dispatch(srcs, loadMW, h, parts)
	} else {
		for i := range srcs {
			if parts[i] = 0; srcs[i].MW <= 0 && srcs[i].Share > 0 {
				parts[i] = srcs[i].Share
			}
		}
	}
	var total float64
	for _, w := range parts {
		if w > 0 {
			total += w
		}
	}
	if total <= 0 {
		return 0, 0
	}
	// weights as fractions of the total first: with a tiny load, part ×
	// price would underflow
	for i := range srcs {
		if w := parts[i] / total; w > 0 {
			price += w * Price(&srcs[i], h)
			carbon += w * Carbon(&srcs[i], h)
		}
	}
	return price, carbon
}

package power

import (
	"errors"
	"fmt"
	"sort"
)

// Controller decides power caps for one level of the power tree at a time.
// When the measured draw of a domain passes CapAbove × limit, it caps
// loads until the draw is expected back at that line; capped loads are
// lifted only once the draw with them restored stays at or below
// UncapBelow × limit. The gap between the two thresholds is the
// hysteresis that keeps caps from flapping.
type Controller struct {
	CapAbove   float64 // fraction of the limit, e.g. 0.98
	UncapBelow float64 // fraction of the limit, e.g. 0.90; < CapAbove
}

// Default returns the controller with CapAbove 0.98 and UncapBelow 0.90.
func Default() Controller { return Controller{CapAbove: 0.98, UncapBelow: 0.90} }

// ErrThresholds is wrapped by Validate's errors.
var ErrThresholds = errors.New("power: bad controller thresholds")

// Validate checks 0 < UncapBelow < CapAbove <= 1.
func (c Controller) Validate() error {
	if !(c.UncapBelow > 0 && c.UncapBelow < c.CapAbove && c.CapAbove <= 1) {
		return fmt.Errorf("%w: need 0 < uncap_below (%g) < cap_above (%g) <= 1", ErrThresholds, c.UncapBelow, c.CapAbove)
	}
	return nil
}

// Excess returns how many watts must be shed at a domain: the measured
// draw above CapAbove × limit, or 0 when it is not over.
func (c Controller) Excess(limitW, measuredW float64) float64 {
	if limitW <= 0 {
		return 0
	}
	if x := measuredW - c.CapAbove*limitW; x > 0 {
		return x
	}
	return 0
}

// CanRestore reports whether a domain whose draw would be projectedW with
// a cap lifted stays at or below UncapBelow × limit.
func (c Controller) CanRestore(limitW, projectedW float64) bool {
	return limitW <= 0 || projectedW <= c.UncapBelow*limitW
}

// Load is something the controller may cap: a job's share of a domain.
type Load struct {
	Priority int
	// SavingW is what capping it saves at this domain.
	SavingW float64
}

// Shed picks the loads to cap to save at least excessW: lowest priority
// first, then the largest saving, then input order. It returns their
// indexes in the order chosen; if all loads together save too little, it
// returns all that save anything.
func (c Controller) Shed(excessW float64, loads []Load) []int {
	if excessW <= 0 {
		return nil
	}
	idx := make([]int, 0, len(loads))
	for i, l := range loads {
		if l.SavingW > 0 {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool {
		x, y := loads[idx[a]], loads[idx[b]]
		if x.Priority != y.Priority {
			return x.Priority < y.Priority
		}
		return x.SavingW > y.SavingW
	})
	saved := 0.0
	for i, k := range idx {
		saved += loads[k].SavingW
		if saved >= excessW {
			return idx[:i+1]
		}
	}
	return idx
}

package plan

// Grid flexibility: how much of a site's expected draw can bend to a grid
// signal, how long the site can hold a cut, and how much more IT load its
// substation could feed if it accepted curtailment for a few hours a year.
//
// The model, per site, on the plan's own figures (a node at load factor L
// draws idle + L × (rated − idle), as if L of its accelerators were busy
// at rated power and the rest idle):
//
//   - Protected: the share p (InferenceShare) of the accelerators that
//     serve inference; their whole draw, p × draw, is never shed.
//   - Idle: the rest's idle draw, (1 − p) × idle; stopping a job leaves
//     its node idle, so no shed goes below it.
//   - Flexible: (1 − p) × (draw − idle), the training and batch work that
//     caps and stops can shed.
//   - Caps alone shed (1 − p) × L × accelerators × (1 − c) × TDP: each
//     busy flexible accelerator capped from TDP to c × TDP (c is the
//     engine's GridConfig.CapFraction). A capped job runs at c^(1/3) of
//     its speed (the cube-root law) and keeps running, so a cut within
//     what caps shed holds indefinitely.
//   - A deeper cut, up to the flexible MW, also stops a share s of the
//     flexible work and caps the rest: s × flexible + (1 − s) × caps =
//     cut. The stopped work is deferred, and the hold is bounded by
//     catching it up before the next day's event: H hours of stopped
//     accelerators (s × (1 − p) × L × accelerators) must fit, in the
//     CatchUpHours − H hours left, on the accelerators the site can run
//     beyond its expected number: its idle ones, (1 − L) × accelerators,
//     as far as its IT power feeds them at (rated − idle) / accelerators
//     watts each. So H = 24 × C / (stopped + C), C that catch-up rate.
//   - A cut beyond the flexible MW cannot be met without protected work.
//
// The cut is a share of the expected IT draw; at a constant PUE it is the
// same share of the facility's draw.

import (
	"fmt"
	"math"

	"stargate/engine"
	"stargate/fleet"
)

// DefaultInferenceShare is the assumed share of a site's accelerators
// that serve inference (protected from caps and stops): the share of the
// simulator's measured grid-event run (README, "Grid events"). It is an
// assumption, not a measurement; set it from the site's job mix.
const DefaultInferenceShare = 0.15

// DefaultCut is the cut a site is asked to hold, a share of its expected
// draw: the 25% of the field trial of arXiv 2507.00909.
const DefaultCut = 0.25

// CatchUpHours is the window in which work stopped for a cut must be
// caught up: a day, so that the next day's event at the grid's peak finds
// no backlog.
const CatchUpHours = 24

// DefaultCapFraction returns the cap, as a fraction of TDP, that the
// engine puts on a flexible job for a grid event by default
// (engine.GridConfig.CapFraction, which follows the controller's
// Capping.MinCapFraction).
func DefaultCapFraction() float64 {
	e, err := engine.New(engine.Config{})
	if err != nil {
		panic("plan: the engine's default configuration is invalid: " + err.Error())
	}
	return e.Config().Grid.CapFraction
}

// GridOptions are the knobs of the grid flexibility figures. They are used
// as given, so start from DefaultGridOptions.
type GridOptions struct {
	// InferenceShare in [0,1]: the share of each site's accelerators that
	// serve inference, protected from caps and stops.
	InferenceShare float64
	// CapFraction in (0,1]: the cap on a flexible job's accelerators, as
	// a fraction of TDP.
	CapFraction float64
	// Cut in (0,1): the cut each site is asked to hold, a share of its
	// expected draw.
	Cut float64
	// FlexibilityHours, when not nil, asks for the extra IT load each site
	// could connect if it accepted curtailment for that many hours a
	// year, in [0, 8760]. See Headroom.
	FlexibilityHours *float64
	// PeakLoadFactor is the load factor of a site's busiest hour, for the
	// load-duration curve of FlexibilityHours, in [L, min(1, 2L)] for the
	// plan's load factor L; 0 means min(1, 2L), the widest even spread
	// around L.
	PeakLoadFactor float64
}

// DefaultGridOptions returns the default inference share, the engine's
// cap and the default cut, with no flexibility question.
func DefaultGridOptions() GridOptions {
	return GridOptions{InferenceShare: DefaultInferenceShare, CapFraction: DefaultCapFraction(), Cut: DefaultCut}
}

// check lists the problems of the grid options at load factor lf.
func (g *GridOptions) check(lf float64) []string {
	var problems []string
	if !(g.InferenceShare >= 0 && g.InferenceShare <= 1) {
		problems = append(problems, fmt.Sprintf("inference share must be between 0 and 1, got %g", g.InferenceShare))
	}
	if !(g.CapFraction > 0 && g.CapFraction <= 1) {
		problems = append(problems, fmt.Sprintf("cap fraction must be > 0 and at most 1, got %g", g.CapFraction))
	}
	if !(g.Cut > 0 && g.Cut < 1) {
		problems = append(problems, fmt.Sprintf("cut must be between 0 and 1 (exclusive; 25%% is 0.25), got %g", g.Cut))
	}
	if h := g.FlexibilityHours; h != nil && !(*h >= 0 && *h <= fleet.HoursPerYear) {
		problems = append(problems, fmt.Sprintf("flexibility hours must be between 0 and %d (a year), got %g", fleet.HoursPerYear, *h))
	}
	if g.PeakLoadFactor != 0 && lf >= 0 && lf <= 1 {
		if hi := min(1, 2*lf); !(g.PeakLoadFactor >= lf && g.PeakLoadFactor <= hi) {
			problems = append(problems, fmt.Sprintf("peak load factor must be between the load factor %g and %g, got %g", lf, hi, g.PeakLoadFactor))
		}
	}
	return problems
}

// peakLow returns the load factors of the busiest and the quietest hour
// of the load-duration curve: the peak asked (or min(1, 2L)) and 2L − peak,
// so that the year's mean is L.
func (g *GridOptions) peakLow(lf float64) (peak, low float64) {
	peak = g.PeakLoadFactor
	if peak == 0 {
		peak = min(1, 2*lf)
	}
	return peak, max(0, 2*lf-peak)
}

// Hold says how a site meets the cut asked.
const (
	// HoldIndefinite: caps alone meet it; capped jobs keep running.
	HoldIndefinite = "indefinite"
	// HoldLimited: it also stops flexible work, for HoldHours at most.
	HoldLimited = "limited"
	// HoldUnreachable: it is deeper than the flexible draw.
	HoldUnreachable = "unreachable"
)

// Flexibility is how a site's expected draw splits for a grid signal and
// how the site meets the cut asked. Its flexible MW and the MW caps alone
// shed are in the site's Figures (FlexibleMW, CapCutMW).
type Flexibility struct {
	// ProtectedMW is the inference accelerators' draw: inference share ×
	// draw.
	ProtectedMW float64 `json:"protected_mw"`
	// IdleMW is the idle draw of the flexible accelerators' nodes, which
	// no stop goes below: (1 − inference share) × idle.
	IdleMW float64 `json:"idle_mw"`
	// FlexibleShare is FlexibleMW / DrawMW: the deepest cut without
	// protected work.
	FlexibleShare float64 `json:"flexible_share"`
	// CapCutShare is CapCutMW / DrawMW: the deepest cut caps alone hold.
	CapCutShare float64 `json:"cap_cut_share"`
	// CutMW is the cut asked: cut × draw.
	CutMW float64 `json:"cut_mw"`
	// CappedShare and StoppedShare are the shares of the flexible work
	// capped and stopped to meet the cut.
	CappedShare  float64 `json:"capped_share"`
	StoppedShare float64 `json:"stopped_share"`
	// FlexibleSpeed is the speed the flexible work keeps during the cut:
	// uncapped 1, capped cap^(1/3), stopped 0, weighted by their shares.
	FlexibleSpeed float64 `json:"flexible_speed"`
	// Hold is HoldIndefinite, HoldLimited or HoldUnreachable.
	Hold string `json:"hold"`
	// HoldHours is how long a limited cut holds (0 when unreachable);
	// absent when the cut holds indefinitely.
	HoldHours *float64 `json:"hold_hours,omitempty"`
}

// Headroom is the extra IT load a site could connect if it accepted
// curtailment for FlexibilityHours a year, after the method of Norris et
// al., "Rethinking Load Growth" (Duke University, 2025): load added so
// that the total stays under a limit except in the curtailed hours. Here
// the limit is the site's IT power (substation / PUE), and the site's own
// draw over the year follows a load-duration curve: its load factor runs
// evenly from the peak load factor in the busiest hour down to 2L − peak
// in the quietest, so the year's mean is the plan's L. The draw exceeded
// in x hours of the year is then
//
//	d(x) = peak − (peak − low) × x / 8760
//
// The added load runs flat all year. Outside the curtailed hours it must
// fit under the IT power: extra ≤ IT − d(H). In them the site sheds what
// caps alone shed at its expected draw (CapCutMW, held for any length;
// stops are not counted, as the curve has no chronology to bound events):
// extra ≤ IT − d(0) + CapCutMW. The extra load is the lesser, and 0 when
// negative.
type Headroom struct {
	// PeakMW, LowMW: the draw of the busiest and the quietest hour.
	PeakMW float64 `json:"peak_mw"`
	LowMW  float64 `json:"low_mw"`
	// AtHoursMW is d(H), the draw exceeded in FlexibilityHours of the year.
	AtHoursMW float64 `json:"at_hours_mw"`
	// FirmExtraMW is the extra load with no curtailment: IT − peak, or 0.
	FirmExtraMW float64 `json:"firm_extra_mw"`
	// ExtraMW is the extra load with curtailment in FlexibilityHours.
	ExtraMW float64 `json:"extra_mw"`
	// ExtraAccelerators is how many accelerators of the site's model
	// ExtraMW feeds at rated power, in whole nodes and scale-up domains.
	ExtraAccelerators int `json:"extra_accelerators"`
	// CurtailedHours is how many hours a year the site with the extra
	// load is over its IT power and sheds (at most FlexibilityHours).
	CurtailedHours float64 `json:"curtailed_hours"`
	// CurtailMW is the deepest shed, in the busiest hour: d(0) + extra −
	// IT, or 0; with extra load it is at most CapCutMW.
	CurtailMW float64 `json:"curtail_mw"`
	// CurtailedMWh is the IT energy shed in a year: the area between the
	// curve (with the extra load) and the IT power, CurtailedHours ×
	// CurtailMW / 2 (a triangle) unless the site is over all year.
	CurtailedMWh float64 `json:"curtailed_mwh"`
}

// siteLoad is what the grid figures need of a site: its nodes' idle and
// rated draw, accelerators, and the watts caps can take off when every
// accelerator is busy, at the plan's load factor.
type siteLoad struct {
	idleW, ratedW, drawW float64
	accelerators         float64
	capW                 float64 // Σ accelerators × (1 − c) × TDP
}

// drawAt is the site's draw with a share u of its accelerators busy.
func (l *siteLoad) drawAt(u float64) float64 { return l.idleW + u*(l.ratedW-l.idleW) }

// flexibility fills s.Grid (and s.FlexibleMW, s.CapCutMW) and, when asked,
// s.Headroom, for a site of load l with itW watts of IT power.
func flexibility(s *Site, l *siteLoad, itW float64, lf float64, g *GridOptions, fit func(w float64) int) {
	p, c := g.InferenceShare, g.CapFraction
	fl := &s.Grid
	flexW := (1 - p) * (l.drawW - l.idleW)
	capW := (1 - p) * lf * l.capW
	cutW := g.Cut * l.drawW
	fl.ProtectedMW = p * l.drawW / 1e6
	fl.IdleMW = (1 - p) * l.idleW / 1e6
	s.FlexibleMW, s.CapCutMW, fl.CutMW = flexW/1e6, capW/1e6, cutW/1e6
	if l.drawW > 0 {
		fl.FlexibleShare, fl.CapCutShare = flexW/l.drawW, capW/l.drawW
	}
	speed := math.Cbrt(c)
	switch {
	case cutW <= capW:
		fl.Hold = HoldIndefinite
		if capW > 0 {
			fl.CappedShare = cutW / capW
		}
	case cutW <= flexW && flexW > capW:
		fl.Hold = HoldLimited
		fl.StoppedShare = (cutW - capW) / (flexW - capW)
		fl.CappedShare = 1 - fl.StoppedShare
		stopped := fl.StoppedShare * (1 - p) * lf * l.accelerators
		catchUp := (1 - lf) * l.accelerators
		if perAcc := (l.ratedW - l.idleW) / l.accelerators; perAcc > 0 {
			catchUp = min(catchUp, max(0, itW-l.drawW)/perAcc)
		}
		h := CatchUpHours * catchUp / (stopped + catchUp)
		fl.HoldHours = &h
	default:
		fl.Hold = HoldUnreachable
		h := 0.0
		fl.HoldHours = &h
	}
	if fl.Hold != HoldUnreachable {
		fl.FlexibleSpeed = 1 - fl.CappedShare - fl.StoppedShare + fl.CappedShare*speed
	}

	if g.FlexibilityHours == nil {
		return
	}
	hours := *g.FlexibilityHours
	up, low := g.peakLow(lf)
	h := &Headroom{PeakMW: l.drawAt(up) / 1e6, LowMW: l.drawAt(low) / 1e6}
	it := itW / 1e6
	slope := (h.PeakMW - h.LowMW) / fleet.HoursPerYear // MW per hour of the curve
	h.AtHoursMW = h.PeakMW - slope*hours
	h.FirmExtraMW = max(0, it-h.PeakMW)
	h.ExtraMW = max(0, min(it-h.AtHoursMW, it-h.PeakMW+s.CapCutMW))
	h.ExtraAccelerators = fit(h.ExtraMW * 1e6)
	if e := h.PeakMW + h.ExtraMW - it; e > 0 {
		h.CurtailMW = e
		h.CurtailedHours = fleet.HoursPerYear
		if slope > 0 {
			h.CurtailedHours = min(e/slope, fleet.HoursPerYear)
		}
		h.CurtailedMWh = h.CurtailedHours * (e + e - slope*h.CurtailedHours) / 2
	}
	s.Headroom = h
}

// GridParams are the assumptions of a report's grid flexibility figures.
type GridParams struct {
	InferenceShare float64 `json:"inference_share"`
	CapFraction    float64 `json:"cap_fraction"`
	// CappedSpeed is cap_fraction^(1/3): the speed of a capped job.
	CappedSpeed float64 `json:"capped_speed"`
	Cut         float64 `json:"cut"`
	// CatchUpHours bounds a cut that stops work (see CatchUpHours).
	CatchUpHours float64 `json:"catch_up_hours"`
}

// FlexibilityTotals say how the headroom with curtailment was asked, and
// total the sites' headroom (each against its own substation).
type FlexibilityTotals struct {
	Hours float64 `json:"hours"`
	// PeakLoadFactor and LowLoadFactor are the load factors of the
	// busiest and the quietest hour of every site's load-duration curve.
	PeakLoadFactor float64 `json:"peak_load_factor"`
	LowLoadFactor  float64 `json:"low_load_factor"`
	FirmExtraMW    float64 `json:"firm_extra_mw"`
	ExtraMW        float64 `json:"extra_mw"`
	CurtailedMWh   float64 `json:"curtailed_mwh"`
}

func (g *GridOptions) params() GridParams {
	return GridParams{InferenceShare: g.InferenceShare, CapFraction: g.CapFraction, CappedSpeed: math.Cbrt(g.CapFraction),
		Cut: g.Cut, CatchUpHours: CatchUpHours}
}

// totals sums the sites' headroom, or returns nil when none was asked.
func (g *GridOptions) totals(lf float64, sites []Site) *FlexibilityTotals {
	if g.FlexibilityHours == nil {
		return nil
	}
	t := &FlexibilityTotals{Hours: *g.FlexibilityHours}
	t.PeakLoadFactor, t.LowLoadFactor = g.peakLow(lf)
	for i := range sites {
		h := sites[i].Headroom
		t.FirmExtraMW += h.FirmExtraMW
		t.ExtraMW += h.ExtraMW
		t.CurtailedMWh += h.CurtailedMWh
	}
	return t
}

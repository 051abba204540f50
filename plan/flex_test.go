package plan

import (
	"bytes"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// withGrid returns the default options with the grid options changed by set.
func withGrid(set func(g *GridOptions)) Options {
	o := DefaultOptions()
	set(&o.Grid)
	return o
}

func hours(h float64) *float64 { return &h }

// The engine caps flexible jobs at half their TDP for a grid event; the
// README and the hand computations below use that figure.
func TestDefaultCapFractionIsTheEngines(t *testing.T) {
	if c := DefaultCapFraction(); c != 0.5 {
		t.Errorf("DefaultCapFraction() = %v, want the engine's 0.5", c)
	}
	if g := DefaultOptions().Grid; g.InferenceShare != 0.15 || g.Cut != 0.25 || g.CapFraction != 0.5 || g.FlexibilityHours != nil {
		t.Errorf("DefaultOptions().Grid = %+v", g)
	}
}

// The small example by hand: 16 DGX H100 (128 GPUs) at load factor 0.7 on
// 2 MW at PUE 1.3 (1,538,461.5 W of IT). A node idles at 8 × 70 + 2,000 =
// 2,560 W, is rated 10,200 W and draws 7,908 W: the site draws 126,528 W
// over an idle floor of 40,960 W.
func TestFlexibilityByHand(t *testing.T) {
	r, err := Fleet(load(t, "small"), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	s := r.Sites[0]
	f := s.Grid
	const draw, idle = 126_528.0, 40_960.0
	near(t, "protected_mw", f.ProtectedMW, 0.15*draw/1e6, 1e-12)      // 18,979.2 W
	near(t, "idle_mw", f.IdleMW, 0.85*idle/1e6, 1e-12)                // 34,816 W
	near(t, "flexible_mw", s.FlexibleMW, 0.85*(draw-idle)/1e6, 1e-12) // 72,732.8 W
	near(t, "parts add to the draw", f.ProtectedMW+f.IdleMW+s.FlexibleMW, s.DrawMW, 1e-12)
	near(t, "flexible_share", f.FlexibleShare, 72_732.8/draw, 1e-12) // 57.5%
	// Caps: 0.85 × 0.7 × 128 busy flexible GPUs, each from 700 W to 350 W.
	const caps = 0.85 * 0.7 * 128 * 350 // 26,656 W
	near(t, "cap_cut_mw", s.CapCutMW, caps/1e6, 1e-12)
	near(t, "cap_cut_share", f.CapCutShare, caps/draw, 1e-12) // 21.1%
	// A 25% cut (31,632 W) is deeper than caps: stop s of the flexible
	// work, s × 72,732.8 + (1 − s) × 26,656 = 31,632.
	near(t, "cut_mw", f.CutMW, 31_632/1e6, 1e-12)
	stopped := (31_632 - caps) / (72_732.8 - caps) // 0.10799
	near(t, "stopped_share", f.StoppedShare, stopped, 1e-12)
	near(t, "capped_share", f.CappedShare, 1-stopped, 1e-12)
	near(t, "flexible_speed", f.FlexibleSpeed, (1-stopped)*math.Cbrt(0.5), 1e-12) // 0.708
	// Held while 0.108 × 0.85 × 0.7 × 128 = 8.22 stopped GPUs an hour are
	// caught up within the day on the 0.3 × 128 = 38.4 idle GPUs (the IT
	// power would feed (1,538,461.5 − 126,528) / 955 = 1,478 of them at
	// (10,200 − 2,560) / 8 = 955 W each).
	if f.Hold != HoldLimited || f.HoldHours == nil {
		t.Fatalf("hold = %q %v, want limited", f.Hold, f.HoldHours)
	}
	near(t, "hold_hours", *f.HoldHours, 24*38.4/(stopped*0.85*0.7*128+38.4), 1e-9) // 19.77 h
	near(t, "hold_hours (rounded)", *f.HoldHours, 19.766, 1e-3)
}

// How a cut is met: by caps alone (indefinitely), with stops (for hours),
// or not at all; the knobs move the answer as the model says.
func TestFlexibilityCases(t *testing.T) {
	fl := load(t, "small")
	plan := func(set func(g *GridOptions)) Site {
		t.Helper()
		r, err := Fleet(fl, withGrid(set))
		if err != nil {
			t.Fatal(err)
		}
		return r.Sites[0]
	}
	const draw, caps, flex = 126_528.0, 26_656.0, 72_732.8

	s := plan(func(g *GridOptions) { g.Cut = 0.2 }) // 25,305.6 W ≤ caps
	if s.Grid.Hold != HoldIndefinite || s.Grid.HoldHours != nil || s.Grid.StoppedShare != 0 {
		t.Errorf("20%% cut: %+v, want held by caps indefinitely", s.Grid)
	}
	near(t, "20% capped_share", s.Grid.CappedShare, 0.2*draw/caps, 1e-12)
	near(t, "20% flexible_speed", s.Grid.FlexibleSpeed, 1-0.2*draw/caps*(1-math.Cbrt(0.5)), 1e-12)

	s = plan(func(g *GridOptions) { g.Cut = 0.6 }) // 75,916.8 W > 72,732.8 flexible
	if s.Grid.Hold != HoldUnreachable || s.Grid.HoldHours == nil || *s.Grid.HoldHours != 0 || s.Grid.FlexibleSpeed != 0 {
		t.Errorf("60%% cut: %+v, want out of reach", s.Grid)
	}
	// Exactly the flexible draw: everything flexible stopped.
	s = plan(func(g *GridOptions) { g.Cut = flex / draw })
	if s.Grid.Hold != HoldLimited {
		t.Errorf("cut = flexible share: hold %q", s.Grid.Hold)
	}
	near(t, "all stopped", s.Grid.StoppedShare, 1, 1e-12)

	s = plan(func(g *GridOptions) { g.InferenceShare = 1 })
	if s.FlexibleMW != 0 || s.CapCutMW != 0 || s.Grid.Hold != HoldUnreachable {
		t.Errorf("all inference: flexible %v, caps %v, hold %q", s.FlexibleMW, s.CapCutMW, s.Grid.Hold)
	}
	// No inference: caps shed 0.7 × 128 × 350 = 31,360 W, short of the
	// 31,632 W cut.
	s = plan(func(g *GridOptions) { g.InferenceShare = 0 })
	near(t, "no inference: caps", s.CapCutMW, 0.7*128*350/1e6, 1e-12)
	if s.Grid.Hold != HoldLimited {
		t.Errorf("no inference: hold %q", s.Grid.Hold)
	}
	// A cap at TDP sheds nothing: every watt of the cut comes from stops.
	s = plan(func(g *GridOptions) { g.CapFraction = 1 })
	near(t, "cap at TDP: caps", s.CapCutMW, 0, 1e-15)
	near(t, "cap at TDP: stopped", s.Grid.StoppedShare, 31_632/flex, 1e-12)
	// A deeper cap: 0.3 of TDP sheds 0.85 × 0.7 × 128 × 490 = 37,318.4 W,
	// enough for 25%.
	s = plan(func(g *GridOptions) { g.CapFraction = 0.3 })
	near(t, "cap 0.3: caps", s.CapCutMW, 0.85*0.7*128*490/1e6, 1e-12)
	if s.Grid.Hold != HoldIndefinite {
		t.Errorf("cap 0.3: hold %q", s.Grid.Hold)
	}

	// At load factor 1 no accelerator idles: stopped work has nowhere to
	// catch up, so a cut that needs stops holds 0 h.
	r, err := Fleet(fl, with(func(o *Options) { o.LoadFactor = 1; o.Grid.Cut = 0.4 }))
	if err != nil {
		t.Fatal(err)
	}
	if f := r.Sites[0].Grid; f.Hold != HoldLimited || *f.HoldHours != 0 {
		t.Errorf("load factor 1, 40%% cut: %q %v h, want limited to 0 h", f.Hold, *f.HoldHours)
	}
}

// The headroom with 44 h of curtailment on the small example, by hand.
// The load factor runs from 1 to 0.4 over the year: the draw from the
// nameplate, 163,200 W, down to 40,960 + 0.4 × 122,240 = 89,856 W.
func TestHeadroomByHand(t *testing.T) {
	fl := load(t, "small")
	r, err := Fleet(fl, withGrid(func(g *GridOptions) { g.FlexibilityHours = hours(44) }))
	if err != nil {
		t.Fatal(err)
	}
	it := 2e6 / 1.3
	h := r.Sites[0].Headroom
	if h == nil || r.Flexibility == nil {
		t.Fatal("no headroom")
	}
	near(t, "peak_mw", h.PeakMW, 0.1632, 1e-12)
	near(t, "low_mw", h.LowMW, 0.089856, 1e-12)
	// d(44) = 163,200 − 73,344 × 44 / 8760 = 162,831.6 W.
	d44 := 163_200 - 73_344*44/8760.0
	near(t, "at_hours_mw", h.AtHoursMW, d44/1e6, 1e-12)
	near(t, "firm_extra_mw", h.FirmExtraMW, (it-163_200)/1e6, 1e-12)
	// min(IT − d(44), IT − peak + caps 26,656 W): the first binds.
	near(t, "extra_mw", h.ExtraMW, (it-d44)/1e6, 1e-12) // 1.3756 MW
	// floor(1,375,629.9 / 10,200) = 134 DGX H100.
	if h.ExtraAccelerators != 134*8 {
		t.Errorf("extra_accelerators = %d, want 1,072", h.ExtraAccelerators)
	}
	// The site with the extra load is over its IT power by up to
	// 163,200 − 162,831.6 = 368.4 W, for 44 h: 44 × 368.4 / 2 Wh.
	near(t, "curtail_mw", h.CurtailMW, (163_200-d44)/1e6, 1e-12)
	near(t, "curtailed_hours", h.CurtailedHours, 44, 1e-9)
	near(t, "curtailed_mwh", h.CurtailedMWh, 44*(163_200-d44)/2/1e6, 1e-12)
	if fx := r.Flexibility; fx.Hours != 44 || fx.PeakLoadFactor != 1 || math.Abs(fx.LowLoadFactor-0.4) > 1e-12 || fx.ExtraMW != h.ExtraMW {
		t.Errorf("flexibility totals %+v", *fx)
	}

	// A whole year curtailed: the caps bind, extra = IT − peak + 26,656 W;
	// the site sheds while its curve is over IT − extra, for 26,656 W /
	// (73,344 W / 8760 h) = 3,183.7 h.
	r, err = Fleet(fl, withGrid(func(g *GridOptions) { g.FlexibilityHours = hours(8760) }))
	if err != nil {
		t.Fatal(err)
	}
	h = r.Sites[0].Headroom
	near(t, "8760 h: extra_mw", h.ExtraMW, (it-163_200+26_656)/1e6, 1e-12)
	near(t, "8760 h: curtail_mw", h.CurtailMW, 26_656/1e6, 1e-12)
	near(t, "8760 h: curtailed_hours", h.CurtailedHours, 26_656/(73_344/8760.0), 1e-6)
	near(t, "8760 h: curtailed_mwh", h.CurtailedMWh, 26_656/(73_344/8760.0)*26_656/2/1e6, 1e-9)

	// No curtailment: the firm headroom, nothing shed.
	r, _ = Fleet(fl, withGrid(func(g *GridOptions) { g.FlexibilityHours = hours(0) }))
	if h := r.Sites[0].Headroom; h.ExtraMW != h.FirmExtraMW || h.CurtailedHours != 0 || h.CurtailedMWh != 0 {
		t.Errorf("0 h: %+v", *h)
	}
	// A flat year (peak load factor = the load factor): curtailment
	// gains nothing.
	r, err = Fleet(fl, withGrid(func(g *GridOptions) { g.FlexibilityHours = hours(44); g.PeakLoadFactor = 0.7 }))
	if err != nil {
		t.Fatal(err)
	}
	h = r.Sites[0].Headroom
	near(t, "flat: peak", h.PeakMW, 0.126528, 1e-12)
	near(t, "flat: extra", h.ExtraMW, (it-126_528)/1e6, 1e-12)
	if h.ExtraMW != h.FirmExtraMW || h.CurtailedHours != 0 {
		t.Errorf("flat year: %+v", *h)
	}
}

// A site already over its IT power in its busiest hours (oversubscribed)
// has no extra room; the hours it sheds already are reported.
func TestHeadroomOversubscribed(t *testing.T) {
	// The small site filled with DGX H100 at an oversubscription of 1.5.
	r, err := Fleet(load(t, "small"), with(func(o *Options) {
		o.Accelerator = "h100"
		o.Oversubscription = 1.5
		o.Grid.FlexibilityHours = hours(44)
	}))
	if err != nil {
		t.Fatal(err)
	}
	s := r.Sites[0]
	h := s.Headroom
	// floor(1,538,461.5 × 1.5 / 10,200) = 226 nodes: 2.3052 MW rated.
	near(t, "peak", h.PeakMW, 226*10_200/1e6, 1e-9)
	if h.ExtraMW != 0 || h.FirmExtraMW != 0 || h.ExtraAccelerators != 0 {
		t.Errorf("oversubscribed: extra %v, firm %v, room %d", h.ExtraMW, h.FirmExtraMW, h.ExtraAccelerators)
	}
	// Over IT by 2,305,200 − 1,538,461.5 W at the peak, for as long as the
	// curve is over IT.
	slope := (226 * (10_200 - 2_560) * 0.6) / 8760.0 // W per hour
	e := 226*10_200 - 2e6/1.3
	near(t, "curtail_mw", h.CurtailMW, e/1e6, 1e-9)
	near(t, "curtailed_hours", h.CurtailedHours, e/slope, 1e-6) // 6,483 h
	// Its expected draw, 226 × 7,908 W, is over its IT power too: no
	// room to catch up stopped work.
	if f := s.Grid; f.Hold != HoldLimited || *f.HoldHours != 0 {
		t.Errorf("oversubscribed: hold %q %v", f.Hold, *f.HoldHours)
	}
}

// Every site of the example fleet keeps the model's invariants.
func TestFlexibilityInvariants(t *testing.T) {
	r, err := Fleet(load(t, "stargate"), withGrid(func(g *GridOptions) { g.FlexibilityHours = hours(44) }))
	if err != nil {
		t.Fatal(err)
	}
	var extra float64
	for _, s := range r.Sites {
		f, h := s.Grid, s.Headroom
		if d := f.ProtectedMW + f.IdleMW + s.FlexibleMW; math.Abs(d-s.DrawMW) > 1e-9*s.DrawMW {
			t.Errorf("%s: protected + idle + flexible = %v, draw %v", s.Name, d, s.DrawMW)
		}
		if !(s.CapCutMW > 0 && s.CapCutMW < s.FlexibleMW) {
			t.Errorf("%s: caps shed %v of flexible %v", s.Name, s.CapCutMW, s.FlexibleMW)
		}
		// The cut is met: caps and stops shed exactly the cut.
		shed := f.CappedShare*s.CapCutMW + f.StoppedShare*s.FlexibleMW
		if math.Abs(shed-f.CutMW) > 1e-9*f.CutMW {
			t.Errorf("%s: sheds %v MW for a cut of %v", s.Name, shed, f.CutMW)
		}
		if !(h.ExtraMW >= h.FirmExtraMW && h.ExtraMW <= s.ITMW-h.LowMW && h.CurtailMW <= s.CapCutMW+1e-9) {
			t.Errorf("%s: headroom %+v (IT %v, caps %v)", s.Name, *h, s.ITMW, s.CapCutMW)
		}
		near(t, s.Name+": the curve's mean is the draw", (h.PeakMW+h.LowMW)/2, s.DrawMW, 1e-9)
		extra += h.ExtraMW
	}
	near(t, "fleet extra", r.Flexibility.ExtraMW, extra, 1e-9)
	near(t, "fleet flexible", r.Totals.FlexibleMW, func() float64 {
		var x float64
		for _, s := range r.Sites {
			x += s.FlexibleMW
		}
		return x
	}(), 1e-9)
}

func TestGridOptionsRejected(t *testing.T) {
	cases := []struct {
		name string
		set  func(o *Options)
		want string
	}{
		{"negative hours", func(o *Options) { o.Grid.FlexibilityHours = hours(-1) }, "flexibility hours must be between 0 and 8760 (a year), got -1"},
		{"hours over a year", func(o *Options) { o.Grid.FlexibilityHours = hours(8761) }, "flexibility hours must be between 0 and 8760"},
		{"NaN hours", func(o *Options) { o.Grid.FlexibilityHours = hours(math.NaN()) }, "flexibility hours"},
		{"no cut", func(o *Options) { o.Grid.Cut = 0 }, "cut must be between 0 and 1 (exclusive; 25% is 0.25), got 0"},
		{"whole cut", func(o *Options) { o.Grid.Cut = 1 }, "cut must be between 0 and 1"},
		{"cut as a percentage", func(o *Options) { o.Grid.Cut = 25 }, "cut must be between 0 and 1 (exclusive; 25% is 0.25), got 25"},
		{"negative inference", func(o *Options) { o.Grid.InferenceShare = -0.1 }, "inference share must be between 0 and 1, got -0.1"},
		{"inference over 1", func(o *Options) { o.Grid.InferenceShare = 1.5 }, "inference share must be between 0 and 1"},
		{"no cap", func(o *Options) { o.Grid.CapFraction = 0 }, "cap fraction must be > 0 and at most 1, got 0"},
		{"cap over TDP", func(o *Options) { o.Grid.CapFraction = 1.2 }, "cap fraction must be > 0 and at most 1"},
		{"peak under the load factor", func(o *Options) { o.Grid.PeakLoadFactor = 0.5 }, "peak load factor must be between the load factor 0.7 and 1, got 0.5"},
		{"peak over 2L", func(o *Options) { o.LoadFactor = 0.3; o.Grid.PeakLoadFactor = 0.7 }, "peak load factor must be between the load factor 0.3 and 0.6, got 0.7"},
	}
	fl := load(t, "small")
	for _, c := range cases {
		_, err := Fleet(fl, with(c.set))
		if !errors.Is(err, ErrOption) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want ErrOption with %q", c.name, err, c.want)
		}
	}
	// Every problem at once.
	_, err := Fleet(fl, with(func(o *Options) { o.Grid.Cut, o.Grid.InferenceShare = 2, -1 }))
	if err == nil || !strings.Contains(err.Error(), "inference share") || !strings.Contains(err.Error(), "cut must") {
		t.Errorf("two problems: %v", err)
	}
	// Sizing ignores the grid options.
	if _, err := Size(nil, question(10, "h100", 150, 1.2)); err != nil {
		t.Errorf("sizing: %v", err)
	}
}

// Golden output of the flexibility question on the example fleet.
func TestGoldenFlexibility(t *testing.T) {
	r, err := Fleet(load(t, "stargate"), withGrid(func(g *GridOptions) { g.FlexibilityHours = hours(44) }))
	if err != nil {
		t.Fatal(err)
	}
	for ext, write := range map[string]func(*bytes.Buffer) error{
		"txt":  func(b *bytes.Buffer) error { return r.WriteTable(b) },
		"json": func(b *bytes.Buffer) error { return r.WriteJSON(b) },
		"csv":  func(b *bytes.Buffer) error { return r.WriteCSV(b) },
	} {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			t.Fatal(err)
		}
		golden(t, filepath.Join("testdata", "stargate-flexibility-44h."+ext), b.Bytes())
	}
}

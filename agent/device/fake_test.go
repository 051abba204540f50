package device_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"stargate/agent/device"
	"stargate/fleet"
)

func TestFakeDrawFollowsLoad(t *testing.T) {
	f := device.NewFake(h100(newClock(), 2))
	for _, c := range []struct{ load, util, power float64 }{
		{0, 0, 70},
		{1, 1, 700},
		{0.5, 0.5, 385},
		{0.25, 0.25, 227.5},
		{1.5, 1, 700}, // clamped
		{-1, 0, 70},   // clamped
		{math.NaN(), 0, 70},
	} {
		f.SetLoad(0, c.load)
		rs := read(t, f)
		if !near(rs[0].PowerW, c.power) || !near(rs[0].Util, c.util) {
			t.Errorf("load %g: power %g W util %g, want %g W util %g", c.load, rs[0].PowerW, rs[0].Util, c.power, c.util)
		}
		if rs[1].PowerW != 70 || rs[1].Util != 0 {
			t.Errorf("load %g on device 0 moved device 1: %+v", c.load, rs[1])
		}
	}
	f.SetLoad(7, 1)  // out of range: ignored
	f.SetLoad(-1, 1) // likewise
}

func TestFakeTelemetryFollowsLoad(t *testing.T) {
	f := device.NewFake(h100(newClock(), 1))
	idle := read(t, f)[0]
	f.SetLoad(0, 1)
	busy := read(t, f)[0]
	if !(busy.TempC > idle.TempC) || !(busy.MemUsedMiB > idle.MemUsedMiB) || !(busy.SMClockMHz > idle.SMClockMHz) {
		t.Errorf("busy device not hotter, fuller and faster than idle:\nidle %+v\nbusy %+v", idle, busy)
	}
	if busy.MemUsedMiB > busy.MemTotalMiB || busy.MemTotalMiB != 81920 {
		t.Errorf("memory %g of %g MiB", busy.MemUsedMiB, busy.MemTotalMiB)
	}
	if idle.UUID == "" || idle.Model != "h100-sxm" {
		t.Errorf("identity: %+v", idle)
	}
}

func TestFakeCap(t *testing.T) {
	f := device.NewFake(h100(newClock(), 2))
	f.SetLoad(0, 1)
	f.SetLoad(1, 1)

	applied, err := f.SetCap(0, 400)
	if err != nil || applied != 400 {
		t.Fatalf("SetCap(0, 400) = %g, %v; want 400, nil", applied, err)
	}
	rs := read(t, f)
	if rs[0].PowerW != 400 || rs[0].Util != 1 || rs[0].CapW != 400 || rs[0].LimitW != 400 {
		t.Errorf("capped at 400 W: %+v; want draw 400, util 1, cap and limit 400", rs[0])
	}
	if rs[1].PowerW != 700 || rs[1].CapW != 0 || rs[1].LimitW != 700 {
		t.Errorf("cap on device 0 moved device 1: %+v", rs[1])
	}

	// A cap above the demand does not raise the draw.
	f.SetLoad(0, 0.5)
	if _, err := f.SetCap(0, 600); err != nil {
		t.Fatal(err)
	}
	if got := read(t, f)[0].PowerW; got != demand(0.5) {
		t.Errorf("load 0.5 under a 600 W cap draws %g W, want %g", got, demand(0.5))
	}

	// Out of range: refused with the range, limit unchanged.
	for _, w := range []float64{100, 209.9, 700.1, 2000} {
		applied, err := f.SetCap(0, w)
		var re *device.RangeError
		if !errors.Is(err, device.ErrOutOfRange) || !errors.As(err, &re) || applied != 0 {
			t.Fatalf("SetCap(0, %g) = %g, %v; want 0 and an ErrOutOfRange", w, applied, err)
		}
		if re.MinW != 210 || re.MaxW != 700 || re.Index != 0 || re.Watts != w {
			t.Errorf("range error %+v; want index 0, %g W, [210, 700]", re, w)
		}
		if !strings.Contains(err.Error(), "[210, 700]") {
			t.Errorf("error %q does not name the range", err)
		}
		if got := read(t, f)[0].LimitW; got != 600 {
			t.Errorf("refused cap changed the limit to %g", got)
		}
	}
	// The ends of the range are allowed.
	for _, w := range []float64{210, 700} {
		if applied, err := f.SetCap(0, w); err != nil || applied != w {
			t.Errorf("SetCap(0, %g) = %g, %v", w, applied, err)
		}
	}
	if r := read(t, f)[0]; r.CapW != 0 {
		t.Errorf("a cap equal to the default limit reads as cap %g, want 0 (default)", r.CapW)
	}

	// Restore with 0 and with a negative value.
	for _, w := range []float64{0, -5} {
		if _, err := f.SetCap(0, 300); err != nil {
			t.Fatal(err)
		}
		applied, err := f.SetCap(0, w)
		if err != nil || applied != 700 {
			t.Errorf("SetCap(0, %g) = %g, %v; want the default 700", w, applied, err)
		}
		if r := read(t, f)[0]; r.CapW != 0 || r.LimitW != 700 || r.PowerW != demand(0.5) {
			t.Errorf("after SetCap(0, %g): %+v", w, r)
		}
	}

	if _, err := f.SetCap(2, 300); !errors.Is(err, device.ErrNoDevice) {
		t.Errorf("SetCap on device 2 of 2: %v, want ErrNoDevice", err)
	}
	if _, err := f.SetCap(-1, 300); !errors.Is(err, device.ErrNoDevice) {
		t.Errorf("SetCap on device -1: %v, want ErrNoDevice", err)
	}
}

func TestFakeCloseRestores(t *testing.T) {
	f := device.NewFake(h100(newClock(), 3))
	for i := range 3 {
		f.SetLoad(i, 1)
	}
	f.SetCap(0, 300)
	f.SetCap(2, 500)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	for _, r := range read(t, f) {
		if r.CapW != 0 || r.LimitW != 700 || r.PowerW != 700 {
			t.Errorf("after Close: %+v; want no cap, limit 700, draw 700", r)
		}
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestFakeEnergyIntegrates(t *testing.T) {
	clock := newClock()
	f := device.NewFake(h100(clock, 2))
	f.SetLoad(0, 1)
	clock.Advance(10 * time.Second)
	rs := read(t, f)
	if rs[0].EnergyJ != 7000 || rs[1].EnergyJ != 700 {
		t.Fatalf("after 10 s at 700 W and 70 W: %g J and %g J", rs[0].EnergyJ, rs[1].EnergyJ)
	}
	// A change between reads splits the interval at the change.
	clock.Advance(4 * time.Second) // 4 s at 700 W
	f.SetCap(0, 350)
	clock.Advance(2 * time.Second) // 2 s at 350 W
	f.SetLoad(0, 0)
	clock.Advance(3 * time.Second) // 3 s at 70 W
	rs = read(t, f)
	if want := 7000 + 4*700 + 2*350 + 3*70.0; rs[0].EnergyJ != want {
		t.Errorf("device 0: %g J, want %g", rs[0].EnergyJ, want)
	}
	if want := 19 * 70.0; rs[1].EnergyJ != want {
		t.Errorf("device 1: %g J, want %g", rs[1].EnergyJ, want)
	}
	// Reading again at the same instant adds nothing; a clock that steps
	// back adds nothing either.
	before := read(t, f)[0].EnergyJ
	clock.Advance(-time.Minute)
	if got := read(t, f)[0].EnergyJ; got != before {
		t.Errorf("energy moved from %g to %g with the clock going back", before, got)
	}
}

func TestFakeFail(t *testing.T) {
	clock := newClock()
	f := device.NewFake(h100(clock, 2))
	f.SetLoad(1, 1)
	clock.Advance(time.Second)
	f.Fail(1, "XID 79: fallen off the bus")
	clock.Advance(time.Second)
	rs := read(t, f)
	if rs[1].Fatal != "XID 79: fallen off the bus" {
		t.Errorf("failed device reads %+v", rs[1])
	}
	if rs[1].PowerW != 0 || rs[1].EnergyJ != 0 || rs[1].Util != 0 || rs[1].UUID == "" {
		t.Errorf("a fatal reading carries only its identity and why: %+v", rs[1])
	}
	if rs[0].Fatal != "" {
		t.Errorf("healthy device reads fatal: %+v", rs[0])
	}
	if _, err := f.SetCap(1, 300); !errors.Is(err, device.ErrNoDevice) || !strings.Contains(err.Error(), "XID 79") {
		t.Errorf("SetCap on a failed device: %v, want ErrNoDevice naming why", err)
	}
	f.Fail(0, "")
	if r := read(t, f)[0]; r.Fatal == "" {
		t.Errorf("Fail with no reason left device 0 healthy")
	}
	// Repair brings the device back with its load; it drew nothing while
	// failed.
	f.Repair(1)
	clock.Advance(time.Second)
	r := read(t, f)[1]
	if r.Fatal != "" || r.PowerW != 700 || r.EnergyJ != 700+700 {
		t.Errorf("repaired device: %+v; want 700 W and 1400 J (1 s before, 1 s after)", r)
	}
	defer func() {
		if recover() == nil {
			t.Errorf("Fail on device 5 of 2 did not panic")
		}
	}()
	f.Fail(5, "x")
}

func TestFakeUUIDs(t *testing.T) {
	clock := newClock()
	a1 := read(t, device.NewFake(h100(clock, 4)))
	a2 := read(t, device.NewFake(h100(clock, 4)))
	mb := h100(clock, 4)
	mb.Node = "node-b"
	b := read(t, device.NewFake(mb))
	seen := map[string]bool{}
	for i := range a1 {
		if a1[i].UUID != a2[i].UUID {
			t.Errorf("device %d: UUID %q then %q for the same node", i, a1[i].UUID, a2[i].UUID)
		}
		if !strings.HasPrefix(a1[i].UUID, "GPU-fake-") {
			t.Errorf("UUID %q", a1[i].UUID)
		}
		for _, u := range []string{a1[i].UUID, b[i].UUID} {
			if seen[u] {
				t.Errorf("UUID %q used twice", u)
			}
			seen[u] = true
		}
	}
}

func TestFakeModelValidate(t *testing.T) {
	err := device.FakeModel{Count: 0, TDPW: 0, IdleW: -1}.Validate()
	if err == nil {
		t.Fatal("invalid model accepted")
	}
	for _, field := range []string{"count", "tdp_w", "idle_w"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error %q does not name %s", err, field)
		}
	}
	bad := h100(newClock(), 1)
	bad.MinCapW = 800 // above TDP, the default limit
	bad.MaxCapW = 600 // below it
	err = bad.Validate()
	if err == nil || !strings.Contains(err.Error(), "min_cap_w") || !strings.Contains(err.Error(), "max_cap_w") {
		t.Errorf("cap range excluding TDP: %v", err)
	}
	if err := h100(newClock(), 1).Validate(); err != nil {
		t.Errorf("valid model: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Errorf("NewFake accepted an invalid model")
		}
	}()
	device.NewFake(device.FakeModel{})
}

func TestFakeModelFor(t *testing.T) {
	cat := fleet.DefaultCatalog()
	acc := &cat.Accelerators[cat.Accelerator("b200")]
	m := device.FakeModelFor(acc, 8, "n1")
	if m.TDPW != acc.TDPW || m.IdleW != acc.IdleW || m.Count != 8 || m.Node != "n1" || m.Model != "b200" {
		t.Fatalf("FakeModelFor(b200) = %+v", m)
	}
	clock := newClock()
	m.Clock = clock.Now
	f := device.NewFake(m)
	if _, err := f.SetCap(0, 0.3*acc.TDPW); err != nil {
		t.Errorf("default lowest cap 0.3·TDP refused: %v", err)
	}
	if _, err := f.SetCap(0, 0.29*acc.TDPW); !errors.Is(err, device.ErrOutOfRange) {
		t.Errorf("cap under 0.3·TDP: %v, want ErrOutOfRange", err)
	}
	// The engine caps at half of TDP by default: that must be allowed.
	if _, err := f.SetCap(0, 0.5*acc.TDPW); err != nil {
		t.Errorf("the engine's default cap (0.5·TDP): %v", err)
	}
}

// TestFakeAgreesWithFleet checks that the fake's uncapped draw is the
// fleet model's: eight fake devices at a load draw what fleet says a node
// draws at that load, less its overhead.
func TestFakeAgreesWithFleet(t *testing.T) {
	cat := fleet.DefaultCatalog()
	for _, nm := range cat.Nodes {
		acc := &cat.Accelerators[cat.Accelerator(nm.Accelerator)]
		m := device.FakeModelFor(acc, nm.Accelerators, "n")
		m.Clock = newClock().Now
		f := device.NewFake(m)
		for _, u := range []float64{0, 0.3, 1} {
			var sum float64
			for i := range nm.Accelerators {
				f.SetLoad(i, u)
			}
			for _, r := range read(t, f) {
				sum += r.PowerW
			}
			overhead := nm.OverheadIdleW + u*(nm.OverheadW-nm.OverheadIdleW)
			if want := nm.DrawW(acc, u) - overhead; math.Abs(sum-want) > 1e-6 {
				t.Errorf("%s at load %g: fake devices draw %g W, fleet %g W", nm.Name, u, sum, want)
			}
		}
	}
}

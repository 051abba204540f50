package device

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"sync"
	"time"

	"stargate/fleet"
)

// Constants of the fake's thermal, memory and clock behaviour. They make
// readings look plausible; nothing decides on them.
const (
	fakeAmbientC      = 30   // temperature of an idle board with no draw
	fakeRiseAtTDPC    = 50   // rise above ambient at TDP: 80 °C at full draw
	fakeMemFraction   = 0.9  // share of memory a fully busy device uses
	fakeIdleClockMHz  = 345  // SM clock of an idle board
	fakeBoostClockMHz = 1980 // default SM clock of a busy board (H100 SXM boost)
	fakeMinCapFrac    = 0.3  // default lowest cap, of TDP (H100 SXM allows 200 of 700 W)
)

// FakeModel describes a node's simulated devices: all alike, as the
// accelerators of one node are.
type FakeModel struct {
	// Node is the node's name; it seeds the devices' UUIDs, which are
	// "GPU-fake-<16 hex digits of its hash>-<index>", so that a node keeps
	// them across restarts and two nodes never share one.
	Node string
	// Model is the product name the devices report, e.g. "h100-sxm".
	Model string
	// Count is the number of devices (at least 1).
	Count int
	// TDPW is a device's rated power, which is also its default power
	// limit; IdleW its draw when idle (0 <= IdleW <= TDPW).
	TDPW, IdleW float64
	// MinCapW and MaxCapW are the range SetCap accepts (default 0.3·TDP and
	// TDP); it must include TDPW, the default limit.
	MinCapW, MaxCapW float64
	// MemoryMiB is a device's memory (0: not reported).
	MemoryMiB float64
	// SMClockMHz is the SM clock of a busy device (default 1980).
	SMClockMHz float64
	// Clock is the time source for the energy counter (default time.Now);
	// tests pass a fake clock.
	Clock func() time.Time
}

// FakeModelFor returns the FakeModel of count devices of a catalog
// accelerator on the named node, with the catalog's TDP, idle draw and
// memory and the default cap range.
func FakeModelFor(a *fleet.Accelerator, count int, node string) FakeModel {
	return FakeModel{
		Node:      node,
		Model:     a.Name,
		Count:     count,
		TDPW:      a.TDPW,
		IdleW:     a.IdleW,
		MemoryMiB: a.MemoryGB * 1024,
	}
}

func (m FakeModel) withDefaults() FakeModel {
	if m.MinCapW == 0 {
		m.MinCapW = fakeMinCapFrac * m.TDPW
	}
	if m.MaxCapW == 0 {
		m.MaxCapW = m.TDPW
	}
	if m.SMClockMHz == 0 {
		m.SMClockMHz = fakeBoostClockMHz
	}
	if m.Clock == nil {
		m.Clock = time.Now
	}
	return m
}

// Validate reports every problem of the model, after defaults, each with
// its field name.
func (m FakeModel) Validate() error {
	m = m.withDefaults()
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("device: fake model: %s: "+format, append([]any{field}, args...)...))
	}
	if m.Count < 1 {
		bad("count", "must be at least 1, got %d", m.Count)
	}
	if !(m.TDPW > 0) {
		bad("tdp_w", "must be > 0, got %g", m.TDPW)
	}
	if !(m.IdleW >= 0 && m.IdleW <= m.TDPW) {
		bad("idle_w", "must be between 0 and tdp_w (%g), got %g", m.TDPW, m.IdleW)
	}
	if !(m.MinCapW > 0 && m.MinCapW <= m.TDPW) {
		bad("min_cap_w", "must be in (0, tdp_w (%g)], got %g", m.TDPW, m.MinCapW)
	}
	if !(m.MaxCapW >= m.TDPW) || math.IsInf(m.MaxCapW, 0) {
		bad("max_cap_w", "must be at least tdp_w (%g), got %g", m.TDPW, m.MaxCapW)
	}
	if !(m.MemoryMiB >= 0) {
		bad("memory_mib", "must be >= 0, got %g", m.MemoryMiB)
	}
	if !(m.SMClockMHz > 0) {
		bad("sm_clock_mhz", "must be > 0, got %g", m.SMClockMHz)
	}
	return errors.Join(errs...)
}

// Fake is a node's simulated devices. A device draws
// idle + util·(TDP − idle) watts, the law of fleet.NodeModel.DrawW that the
// simulator uses too, limited by its cap; a cap lowers the draw but not the
// utilization it reports. Temperature follows the draw, memory in use and
// the SM clock follow the load. The clock does not drop under a cap: the
// cap-to-slowdown law lives inside the simulator (sim's rateUnder), and a
// second copy here would drift from it. The energy counter integrates the draw over the injected clock,
// exactly, since the draw only changes when SetLoad, SetCap or Fail does.
// For the same model, calls and clock readings, a Fake reads the same.
type Fake struct {
	m   FakeModel
	acc fleet.Accelerator // TDP and idle draw, for the draw law

	mu   sync.Mutex
	last time.Time // the clock at the last integration of energy
	devs []fakeDev
}

type fakeDev struct {
	uuid    string
	util    float64 // 0..1, from SetLoad
	capW    float64 // 0: the default limit (TDP)
	energyJ float64
	fatal   string
}

// NewFake returns the simulated devices of model. It panics if the model
// is invalid (see FakeModel.Validate; Open returns the error instead).
func NewFake(model FakeModel) *Fake {
	if err := model.Validate(); err != nil {
		panic(err)
	}
	m := model.withDefaults()
	f := &Fake{
		m:    m,
		acc:  fleet.Accelerator{Name: m.Model, TDPW: m.TDPW, IdleW: m.IdleW},
		last: m.Clock(),
		devs: make([]fakeDev, m.Count),
	}
	h := fnv.New64a()
	h.Write([]byte(m.Node))
	sum := h.Sum64()
	for i := range f.devs {
		f.devs[i].uuid = fmt.Sprintf("GPU-fake-%016x-%d", sum, i)
	}
	return f
}

// Name returns "fake".
func (f *Fake) Name() string { return "fake" }

// Count returns the number of devices.
func (f *Fake) Count() int { return len(f.devs) }

// Read returns every device's reading at the clock's time now.
func (f *Fake) Read() ([]Reading, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.advance()
	out := make([]Reading, len(f.devs))
	for i := range f.devs {
		d := &f.devs[i]
		r := Reading{Index: i, UUID: d.uuid, Model: f.m.Model}
		if d.fatal != "" {
			r.Fatal = d.fatal
			out[i] = r
			continue
		}
		r.EnergyJ = d.energyJ
		r.MemTotalMiB = f.m.MemoryMiB
		r.PowerW = f.drawW(d)
		r.Util = d.util
		r.MemUsedMiB = math.Round(d.util * fakeMemFraction * f.m.MemoryMiB)
		r.TempC = fakeAmbientC + fakeRiseAtTDPC*r.PowerW/f.m.TDPW
		r.SMClockMHz = fakeIdleClockMHz
		if d.util > 0 {
			r.SMClockMHz = f.m.SMClockMHz
		}
		r.LimitW = f.limitW(d)
		r.CapW = d.capW
		out[i] = r
	}
	return out, nil
}

// SetCap sets device index's power limit to watts, within
// [MinCapW, MaxCapW]; watts <= 0, or watts equal to TDP, restores the
// default limit (TDP).
func (f *Fake) SetCap(index int, watts float64) (float64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if index < 0 || index >= len(f.devs) {
		return 0, fmt.Errorf("device: cap on device %d: %w (fake has %d)", index, ErrNoDevice, len(f.devs))
	}
	d := &f.devs[index]
	if d.fatal != "" {
		return 0, fmt.Errorf("device: cap on device %d: %w: %s", index, ErrNoDevice, d.fatal)
	}
	if watts > 0 && (watts < f.m.MinCapW || watts > f.m.MaxCapW) {
		return 0, &RangeError{Index: index, Watts: watts, MinW: f.m.MinCapW, MaxW: f.m.MaxCapW}
	}
	f.advance()
	if watts <= 0 || watts == f.m.TDPW {
		d.capW = 0
	} else {
		d.capW = watts
	}
	return f.limitW(d), nil
}

// SetLoad sets device index's utilization, clamped to [0, 1].
func (f *Fake) SetLoad(index int, util float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if index < 0 || index >= len(f.devs) {
		return
	}
	f.advance()
	f.devs[index].util = clamp01(util)
}

// Fail makes device index unusable for the reason why (for example
// "vanished" or "XID 79: fallen off the bus"): it stops drawing and Read
// reports why in Fatal until Repair. It panics if index is out of range.
func (f *Fake) Fail(index int, why string) {
	if why == "" {
		why = "failed"
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.advance()
	f.dev(index).fatal = why
}

// Repair makes a failed device index usable again, with the load and cap
// it had. It panics if index is out of range.
func (f *Fake) Repair(index int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.advance()
	f.dev(index).fatal = ""
}

// Close restores every device's default limit. The fake remains usable.
func (f *Fake) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.advance()
	for i := range f.devs {
		f.devs[i].capW = 0
	}
	return nil
}

func (f *Fake) dev(index int) *fakeDev {
	if index < 0 || index >= len(f.devs) {
		panic(fmt.Sprintf("device: fake device %d out of range [0, %d)", index, len(f.devs)))
	}
	return &f.devs[index]
}

// advance integrates every device's draw up to the clock's time now. The
// caller holds f.mu. A clock that goes back adds nothing.
func (f *Fake) advance() {
	now := f.m.Clock()
	dt := now.Sub(f.last).Seconds()
	if dt <= 0 {
		return
	}
	for i := range f.devs {
		if d := &f.devs[i]; d.fatal == "" {
			d.energyJ += f.drawW(d) * dt
		}
	}
	f.last = now
}

// limitW is the power limit in force on d.
func (f *Fake) limitW(d *fakeDev) float64 {
	if d.capW > 0 {
		return d.capW
	}
	return f.m.TDPW
}

// drawW is d's draw: the fleet model's draw at d's load, for one
// accelerator without node overhead, limited by d's power limit.
func (f *Fake) drawW(d *fakeDev) float64 {
	one := fleet.NodeModel{Accelerators: 1}
	return min(one.DrawW(&f.acc, d.util), f.limitW(d))
}

func clamp01(x float64) float64 {
	if !(x > 0) { // also NaN
		return 0
	}
	return min(x, 1)
}

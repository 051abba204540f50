package device_test

import (
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"pgregory.net/rapid"

	"stargate/agent/device"
)

// fakeOp is one step of a random history of a fake.
type fakeOp struct {
	kind  int // 0 load, 1 cap, 2 advance, 3 close
	index int
	value float64
	dt    time.Duration
}

func drawOps(t *rapid.T, count int) []fakeOp {
	n := rapid.IntRange(1, 60).Draw(t, "steps")
	ops := make([]fakeOp, n)
	for i := range ops {
		op := fakeOp{kind: rapid.IntRange(0, 3).Draw(t, "kind"), index: rapid.IntRange(-1, count).Draw(t, "index")}
		switch op.kind {
		case 0:
			op.value = rapid.Float64Range(-0.5, 1.5).Draw(t, "load")
		case 1:
			op.value = rapid.SampledFrom([]float64{-1, 0, 100, 210, 300, 450.5, 700, 701, 1000}).Draw(t, "cap")
		case 2:
			op.dt = time.Duration(rapid.IntRange(0, 120_000).Draw(t, "dt ms")) * time.Millisecond
		}
		ops[i] = op
	}
	return ops
}

// replay runs ops on a fresh fake and returns every reading it made.
func replay(t *rapid.T, count int, ops []fakeOp) [][]device.Reading {
	clock := newClock()
	f := device.NewFake(h100(clock, count))
	var out [][]device.Reading
	for _, op := range ops {
		switch op.kind {
		case 0:
			f.SetLoad(op.index, op.value)
		case 1:
			f.SetCap(op.index, op.value)
		case 2:
			clock.Advance(op.dt)
		case 3:
			f.Close()
		}
		rs, err := f.Read()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rs)
	}
	return out
}

// TestFakeProperties checks a fake against a model recomputed from first
// principles over random histories: draw is the linear demand limited by
// the cap and never above the limit in force, a refused cap changes
// nothing, energy is the sum of draw × time, and two runs of the same
// history read the same.
func TestFakeProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		const count = 3
		ops := drawOps(t, count)
		clock := newClock()
		f := device.NewFake(h100(clock, count))
		load := make([]float64, count)
		limit := []float64{700, 700, 700}
		energy := make([]float64, count)
		draw := func(i int) float64 { return math.Min(demand(load[i]), limit[i]) }
		for step, op := range ops {
			valid := op.index >= 0 && op.index < count
			switch op.kind {
			case 0:
				f.SetLoad(op.index, op.value)
				if valid {
					load[op.index] = math.Max(0, math.Min(1, op.value))
				}
			case 1:
				applied, err := f.SetCap(op.index, op.value)
				inRange := op.value <= 0 || (op.value >= 210 && op.value <= 700)
				switch {
				case !valid:
					if !errors.Is(err, device.ErrNoDevice) {
						t.Fatalf("step %d: cap on device %d: %v", step, op.index, err)
					}
				case !inRange:
					if !errors.Is(err, device.ErrOutOfRange) {
						t.Fatalf("step %d: cap %g accepted: %v", step, op.value, err)
					}
				default:
					want := op.value
					if want <= 0 {
						want = 700
					}
					if err != nil || applied != want {
						t.Fatalf("step %d: SetCap(%d, %g) = %g, %v", step, op.index, op.value, applied, err)
					}
					limit[op.index] = want
				}
			case 2:
				for i := range energy {
					energy[i] += draw(i) * op.dt.Seconds()
				}
				clock.Advance(op.dt)
			case 3:
				f.Close()
				for i := range limit {
					limit[i] = 700
				}
			}
			rs, err := f.Read()
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range rs {
				if r.PowerW > r.LimitW {
					t.Fatalf("step %d device %d: draw %g above limit %g", step, i, r.PowerW, r.LimitW)
				}
				if r.PowerW != draw(i) || r.LimitW != limit[i] || r.Util != load[i] {
					t.Fatalf("step %d device %d: %+v; want draw %g, limit %g, util %g", step, i, r, draw(i), limit[i], load[i])
				}
				if wantCap := map[bool]float64{true: 0, false: limit[i]}[limit[i] == 700]; r.CapW != wantCap {
					t.Fatalf("step %d device %d: cap %g, want %g", step, i, r.CapW, wantCap)
				}
				if math.Abs(r.EnergyJ-energy[i]) > 1e-6*math.Max(1, energy[i]) {
					t.Fatalf("step %d device %d: energy %g J, want %g", step, i, r.EnergyJ, energy[i])
				}
			}
		}
		if a, b := replay(t, count, ops), replay(t, count, ops); !reflect.DeepEqual(a, b) {
			t.Fatalf("the same history read differently")
		}
	})
}

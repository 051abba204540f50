package sim

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// TestSortFloats checks the radix sort against sort.Float64s, on times
// with repeats and on inputs it must hand to sort.Float64s.
func TestSortFloats(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 5, 1023, 1024, 5000, 100_000} {
		for variant := range 5 {
			v := make([]float64, n)
			for i := range v {
				switch variant {
				case 0: // waits: many zeros, a long tail
					if rng.IntN(3) > 0 {
						v[i] = rng.ExpFloat64() * 3600
					}
				case 1: // repeats
					v[i] = float64(rng.IntN(50)) * 0.5
				case 2: // a wide range
					v[i] = math.Ldexp(rng.Float64(), rng.IntN(200)-100)
				case 3: // a negative value: sort.Float64s
					v[i] = rng.NormFloat64()
				case 4: // one −0 among positives: sort.Float64s
					v[i] = rng.Float64()
					if i == n/2 {
						v[i] = math.Copysign(0, -1)
					}
				}
			}
			want := slices.Clone(v)
			sort.Float64s(want)
			sortFloats(v)
			for i := range v {
				if math.Float64bits(v[i]) != math.Float64bits(want[i]) {
					t.Fatalf("n=%d variant %d: at %d got %v, want %v", n, variant, i, v[i], want[i])
				}
			}
		}
	}
}

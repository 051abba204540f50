package sim

import (
	"math"
	"sort"
)

// percentile returns the p-th percentile (0..100) of sorted values by the
// nearest-rank method, or 0 for none.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	r := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[max(0, min(len(sorted)-1, r-1))]
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// sortFloats sorts v in increasing order, as sort.Float64s does. When
// every value is non-negative (the run's waits and completion times), it
// sorts them by their bits, which order as the values do, in linear time:
// a run of millions of jobs sorts in a few passes over them.
func sortFloats(v []float64) {
	if len(v) < 1024 {
		sort.Float64s(v)
		return
	}
	for _, x := range v {
		if math.Float64bits(x)>>63 != 0 || x != x { // negative, −0 or NaN
			sort.Float64s(v)
			return
		}
	}
	// six passes of 11 bits each (the last of 9), least significant first
	const bits, digits = 11, 6
	var count [digits][1 << bits]int
	for _, x := range v {
		b := math.Float64bits(x)
		for d := range count {
			count[d][(b>>(bits*d))&(1<<bits-1)]++
		}
	}
	src, dst := v, make([]float64, len(v))
	for d := range count {
		c := &count[d]
		if c[(math.Float64bits(v[0])>>(bits*d))&(1<<bits-1)] == len(v) {
			continue // every value has this digit
		}
		sum := 0
		for k, n := range c {
			c[k] = sum
			sum += n
		}
		for _, x := range src {
			k := (math.Float64bits(x) >> (bits * d)) & (1<<bits - 1)
			dst[c[k]] = x
			c[k]++
		}
		src, dst = dst, src
	}
	if &src[0] != &v[0] {
		copy(v, src)
	}
}

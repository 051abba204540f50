package sim

import "math/bits"

func popcount(m uint64) int { return bits.OnesCount64(m) }

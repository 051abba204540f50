package human

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// byteUnits are the suffixes ParseBytes knows, as GOMEMLIMIT spells them.
var byteUnits = []struct {
	suffix string
	scale  float64
}{
	{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1},
}

// ParseBytes reads a size such as "2600MiB", "3GiB", "1.5GiB" or "4096"
// (bytes), with GOMEMLIMIT's units: B, KiB, MiB, GiB, TiB.
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	scale := 1.0
	for _, u := range byteUnits {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, scale = strings.TrimSpace(rest), u.scale
			break
		}
	}
	x, err := strconv.ParseFloat(t, 64)
	if err != nil || t == "" || strings.ContainsAny(t, "xXpPeE_") || math.IsNaN(x) {
		return 0, fmt.Errorf("size %q: want a number of bytes with an optional unit B, KiB, MiB, GiB or TiB (e.g. 2600MiB)", s)
	}
	b := x * scale
	if b < 0 || b >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q: out of range", s)
	}
	return int64(b), nil
}

// Package human formats figures for people: thousands separators and
// short durations, shared by every report Stargate prints.
package human

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Count formats x rounded to a whole number with thousands separators:
// 1234567.8 → "1,234,568".
func Count(x float64) string { return Group(strconv.FormatFloat(math.Round(x), 'f', 0, 64)) }

// Int formats n with thousands separators.
func Int(n int) string { return Group(strconv.Itoa(n)) }

// Group puts thousands separators in a string of digits (with an optional
// leading minus sign).
func Group(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg && s != "0" {
		return "-" + b.String()
	}
	return b.String()
}

// Seconds formats a span of seconds: 45s, 12.5m, 3.2h, 4.1d.
func Seconds(s float64) string {
	switch {
	case s < 120:
		return fmt.Sprintf("%.0fs", s)
	case s < 7200:
		return fmt.Sprintf("%.1fm", s/60)
	case s < 172800:
		return fmt.Sprintf("%.1fh", s/3600)
	}
	return fmt.Sprintf("%.1fd", s/86400)
}

// Decimal formats x for machines (CSV cells): rounded to six decimals, in
// its shortest form, without separators.
func Decimal(x float64) string {
	return strconv.FormatFloat(math.Round(x*1e6)/1e6, 'f', -1, 64)
}

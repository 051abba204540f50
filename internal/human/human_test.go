package human

import "testing"

func TestFormats(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567.8: "1,234,568", -1234: "-1,234", -0.2: "0"} {
		if got := Count(in); got != want {
			t.Errorf("Count(%v) = %q, want %q", in, got, want)
		}
	}
	if got := Int(-1000000); got != "-1,000,000" {
		t.Errorf("Int = %q", got)
	}
	for in, want := range map[float64]string{45: "45s", 750: "12.5m", 11520: "3.2h", 354240: "4.1d"} {
		if got := Seconds(in); got != want {
			t.Errorf("Seconds(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestDecimal(t *testing.T) {
	for in, want := range map[float64]string{1.5: "1.5", 1.0 / 3: "0.333333", 1e-7: "0", 1234567.25: "1234567.25"} {
		if got := Decimal(in); got != want {
			t.Errorf("Decimal(%v) = %q, want %q", in, got, want)
		}
	}
}

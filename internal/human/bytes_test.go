package human

import "testing"

func TestParseBytes(t *testing.T) {
	for s, want := range map[string]int64{
		"4096": 4096, "4096B": 4096, "1KiB": 1024, "2600MiB": 2600 << 20, "3GiB": 3 << 30, "1.5GiB": 3 << 29, " 2 TiB ": 2 << 40, "0": 0,
	} {
		if got, err := ParseBytes(s); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "MiB", "3GB", "-1GiB", "1e3", "0x10", "NaN", "inf", "9999999TiB", "3 G"} {
		if got, err := ParseBytes(s); err == nil {
			t.Errorf("ParseBytes(%q) = %d, want an error", s, got)
		}
	}
}

func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"2600MiB", "1.5GiB", "-1", "1e400", "NaNKiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := ParseBytes(s); err == nil && n < 0 {
			t.Fatalf("ParseBytes(%q) = %d", s, n)
		}
	})
}

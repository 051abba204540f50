package fleet_test

import (
	"errors"
	"strings"
	"testing"

	"stargate/fleet"
)

// base is the smallest valid fleet: one site, one hall, one row, one rack of
// four DGX H100 (32 GPUs, 22.4 kW of accelerators at TDP). Bad cases are
// made from it by replacing one piece of text.
const base = `oversubscription: 1.0
regions:
  - name: r
    sites:
      - name: s
        substation_mw: 2
        pue: 1.25
        energy:
          - source: nuclear
            share: 1
        halls:
          - name: hall
            limit_kw: 1000
            rows:
              - name: row
                limit_kw: 500
                racks:
                  - name: rack
                    limit_kw: 42
                    nodes:
                      - model: dgx-h100
                        count: 4
`

// edit returns s with the first old replaced by new; it fails the test when
// old is missing, so that a case never silently tests the base file.
func edit(t testing.TB, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("edit: %q not in the file", old)
	}
	return strings.Replace(s, old, new, 1)
}

// markedLine returns the 1-based line holding the marker "#<", or 0.
func markedLine(s string) int {
	for i, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "#<") {
			return i + 1
		}
	}
	return 0
}

// parseErrs parses a file that must fail and returns its problems.
func parseErrs(t testing.TB, src string) fleet.Errors {
	t.Helper()
	f, err := fleet.Parse(strings.NewReader(src))
	if err == nil {
		t.Fatalf("Parse succeeded (%d accelerators), want an error; file:\n%s", f.Accelerators, src)
	}
	var es fleet.Errors
	if !errors.As(err, &es) {
		t.Fatalf("error is %T, want fleet.Errors: %v", err, err)
	}
	if len(es) == 0 {
		t.Fatal("empty fleet.Errors")
	}
	return es
}

// mustParse parses a file that must load.
func mustParse(t testing.TB, src string) *fleet.Fleet {
	t.Helper()
	f, err := fleet.Parse(strings.NewReader(src))
	if err != nil {
		t.Fatalf("Parse: %v\nfile:\n%s", err, src)
	}
	return f
}

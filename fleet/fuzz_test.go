package fleet_test

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"stargate/fleet"
)

// FuzzParse feeds the loader arbitrary bytes: it must never panic, and an
// error must be fleet.Errors whose every problem has a message and a kind.
// A file that loads must expand into a consistent Fleet.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"small", "stargate", "million-gpu", "sovereign"} {
		data, err := os.ReadFile("../examples/" + name + ".yaml")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(base))
	for _, tc := range badCases(f) {
		f.Add([]byte(tc.src))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fl, err := fleet.Parse(bytes.NewReader(data))
		if err != nil {
			es, ok := err.(fleet.Errors)
			if !ok || len(es) == 0 {
				t.Fatalf("error %T %q, want non-empty fleet.Errors", err, err)
			}
			for _, e := range es {
				if e == nil || e.Msg == "" || e.Kind == nil || !errors.Is(e, e.Kind) || e.Line < 0 {
					t.Fatalf("bad problem %#v", e)
				}
			}
			return
		}
		if fl.Accelerators > fleet.MaxAccelerators || len(fl.Nodes) > fleet.MaxNodes {
			t.Fatalf("a fleet of %d accelerators and %d nodes passed the limits", fl.Accelerators, len(fl.Nodes))
		}
		checkInvariants(t, fl)
	})
}

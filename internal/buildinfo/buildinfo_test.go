package buildinfo

import (
	"runtime"
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	in := Info{Version: "v1.2.3", Revision: "0123456789abcdef", Time: "2026-05-01T10:00:00Z", Modified: true, GoVersion: "go1.26"}
	if got, want := in.String(), "v1.2.3 (0123456789ab+changes, 2026-05-01T10:00:00Z) go1.26"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	if got := (Info{Version: "(devel)", GoVersion: "go1.26"}).String(); got != "(devel) go1.26" {
		t.Errorf("no revision: %q", got)
	}
	if r := Read(); r.GoVersion != runtime.Version() || r.Version == "" || !strings.HasPrefix(r.String(), r.Version) {
		t.Errorf("Read: %+v", r)
	}
}

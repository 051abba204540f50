package systemd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The units pass systemd-analyze verify, with ExecStart pointed at a
// freshly built stargate.
func TestUnitsVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("no systemd-analyze here: install systemd to check the units")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "stargate")
	if out, err := exec.Command("go", "build", "-o", bin, "stargate/cmd/stargate").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	units, _ := filepath.Glob("*.service")
	if len(units) != 2 {
		t.Fatalf("units: %v", units)
	}
	var paths []string
	for _, u := range units {
		data, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		for _, want := range []string{"NoNewPrivileges=yes", "ProtectSystem=", "StateDirectory=", "ExecStart=/usr/local/bin/stargate "} {
			if !strings.Contains(text, want) {
				t.Errorf("%s lacks %s", u, want)
			}
		}
		p := filepath.Join(dir, u)
		os.WriteFile(p, []byte(strings.ReplaceAll(text, "/usr/local/bin/stargate", bin)), 0o644)
		paths = append(paths, p)
	}
	out, err := exec.Command(analyze, append([]string{"verify", "--man=no"}, paths...)...).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

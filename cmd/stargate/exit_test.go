package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain lets a test run this test binary as the stargate command
// itself (STARGATE_RUN_MAIN=1), to check real exit codes and streams.
func TestMain(m *testing.M) {
	if os.Getenv("STARGATE_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// stargate runs the command line in a child process.
func stargate(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "STARGATE_RUN_MAIN=1")
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// A bad fleet file fails with exit status 1 and every problem on stderr.
func TestExitStatus(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("regions:\n  - name: r\n    sites:\n      - name: s\n        substation_mw: -1\n        pue: 0.5\n        energy: []\n"), 0o644)
	out, errOut, code := stargate(t, "plan", "-f", bad)
	if code != 1 || out != "" {
		t.Errorf("exit %d, stdout %q", code, out)
	}
	for _, want := range []string{"line 5: regions[0].sites[0].substation_mw: must be > 0", "pue: must be between 1 and 3", "energy"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	out, _, code = stargate(t, "plan", "--example", "small", "-o", "csv")
	if code != 0 || !strings.HasPrefix(out, "kind,name") {
		t.Errorf("good run: exit %d, %q", code, out)
	}
}

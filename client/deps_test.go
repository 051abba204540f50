package client

import (
	"os/exec"
	"strings"
	"testing"
)

// A program that only talks to the API links no store driver and no
// metrics library: the client needs the wire types (package api) and the
// standard library alone.
func TestClientDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "stargate/client").Output()
	if err != nil {
		t.Skipf("go list: %v (the go command is needed to list dependencies)", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		first, _, _ := strings.Cut(dep, "/")
		std := !strings.Contains(first, ".") && first != "stargate"
		if !std && dep != "stargate/api" && dep != "stargate/client" {
			t.Errorf("the client depends on %s", dep)
		}
	}
}

package main

import (
	"regexp"
	"strings"
	"testing"
)

func TestGridCommands(t *testing.T) {
	url, admin, _ := testServer(t)
	out := cli(t, url, admin, "grid", "event", "create", "--scope", "lab", "--target", "75%", "--duration", "3h", "--notice", "10m")
	m := regexp.MustCompile(`grid event (g\S+): mandatory cut of site lab to 75% of its draw`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("create said %q", out)
	}
	if out := cli(t, url, admin, "grid", "event", "create", "--scope", "demo", "--target", "1.5MW", "--duration", "1h", "--kind", "voluntary", "--price", "400"); !strings.Contains(out, "voluntary cut of region demo to 1.50 MW") {
		t.Errorf("a region in MW: %q", out)
	}
	if out := cli(t, url, admin, "grid", "event", "list", "--state", "scheduled"); strings.Count(out, "scheduled") != 2 {
		t.Errorf("list: %s", out)
	}
	if out := cli(t, url, admin, "power"); !strings.Contains(out, "grid event "+m[1]+" (scheduled, mandatory): site lab at most 75% of its draw") {
		t.Errorf("power does not show the event: %s", out)
	}
	if out := cli(t, url, admin, "grid", "event", "cancel", m[1]); !strings.Contains(out, "cancelled grid event "+m[1]) {
		t.Errorf("cancel: %q", out)
	}
	if _, _, code := stargate(t, "grid", "event", "create", "--scope", "lab", "--target", "lots", "--duration", "1h", "--server", url, "--token", admin); code != exitUsage {
		t.Errorf("a bad target: exit %d", code)
	}
}

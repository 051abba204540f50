package server

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDrawIsBounded: a draw that is not a plausible reading of the node
// (beyond 4 × its rated power, or so large that sums overflow) is a 400
// listing the problem, and nothing of it is stored.
func TestDrawIsBounded(t *testing.T) {
	h := newHarness(t, nil)
	h.register(node1)
	path := NodePath(node1) + "/heartbeat"
	// A DGX H100 is rated 8 × 700 W + 4600 W = 10200 W: at most 40800 W.
	for _, body := range []string{
		`{"name":"` + node1 + `","draw_w":1.7e308}`,
		`{"name":"` + node1 + `","draw_w":40801}`,
	} {
		if r := h.do("agent", "POST", "/v1/nodes", body); r.status != 400 || !strings.Contains(string(r.body), "draw_w") {
			t.Errorf("register %s: %d %s", body, r.status, r.body)
		}
	}
	r := h.do(node1, "POST", path, `{"draw_w":1.7e308,"finished":[{"job":"","state":"succeeded"}]}`)
	if r.status != 400 || !strings.Contains(string(r.body), "draw_w") || !strings.Contains(string(r.body), "finished[0].job") {
		t.Errorf("heartbeat with a huge draw: %d %s", r.status, r.body)
	}
	if r := h.do(node1, "POST", path, `{"draw_w":40801}`); r.status != 400 || !strings.Contains(string(r.body), "40800") {
		t.Errorf("heartbeat above 4 × rated: %d %s", r.status, r.body)
	}
	if r := h.do(node1, "POST", path, `{"draw_w":-1}`); r.status != 400 {
		t.Errorf("negative draw: %d %s", r.status, r.body)
	}
	if r := h.do(node1, "POST", path, `{"draw_w":40800}`); r.status != 200 {
		t.Errorf("heartbeat at the bound: %d %s", r.status, r.body)
	}
	r = h.do("acme", "GET", "/v1/power", "")
	var pw PowerReport
	if r.status != 200 || json.Unmarshal(r.body, &pw) != nil || len(pw.Sites) != 1 || pw.Sites[0].DrawW != 40800 {
		t.Errorf("power: %d %s", r.status, r.body)
	}
	m := h.do("operator", "GET", "/metrics", "")
	for _, line := range strings.Split(string(m.body), "\n") {
		if strings.HasSuffix(line, " +Inf") || strings.HasSuffix(line, " NaN") {
			t.Errorf("metrics: %s", line)
		}
	}
}

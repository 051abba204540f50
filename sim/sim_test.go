package sim

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"stargate/engine"
	"stargate/fleet"
	"stargate/trace"
)

// pool is a site of n single-accelerator nodes with no power limit that
// matters: one rack of generous rating per node.
func pool(t testing.TB, n int, rackKW float64) *fleet.Fleet {
	t.Helper()
	y := `
catalog:
  nodes:
    - {name: one, accelerator: h100-sxm, accelerators: 1, overhead_w: 0, overhead_idle_w: 0}
oversubscription: 10
regions:
  - name: r
    sites:
      - name: s
        substation_mw: 100
        pue: 1.0
        energy: [{source: grid, share: 1, price_usd_mwh: 100, carbon_g_kwh: 500}]
        halls:
          - limit_kw: 100000
            rows:
              - limit_kw: 100000
                racks:
                  - count: ` + strconv.Itoa(n) + `
                    limit_kw: ` + strconv.FormatFloat(rackKW, 'f', -1, 64) + `
                    nodes: [{model: one, count: 1}]
`
	f, err := fleet.Parse(strings.NewReader(y))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFIFOByHand(t *testing.T) {
	f := pool(t, 4, 10)
	jobs := []trace.Job{
		{ID: "a", Submit: 0, Duration: 100, Accelerators: 1},
		{ID: "b", Submit: 0, Duration: 50, Accelerators: 1},
		{ID: "c", Submit: 0, Duration: 30, Accelerators: 1},
		{ID: "d", Submit: 0, Duration: 200, Accelerators: 1},
		{ID: "e", Submit: 10, Duration: 40, Accelerators: 1},
		{ID: "f", Submit: 20, Duration: 10, Accelerators: 1},
		{ID: "g", Submit: 25, Duration: 5, Accelerators: 4},
		{ID: "h", Submit: 26, Duration: 7, Accelerators: 1},
	}
	// By hand, four accelerators, strict FIFO:
	//   a, b, c, d start at 0; c ends at 30, b at 50, a at 100, d at 200.
	//   e (t=10) takes c's accelerator at 30 and ends at 70.
	//   f (t=20) takes b's at 50 and ends at 60.
	//   g (t=25) needs all four: it waits for d, starts at 200, ends at 205.
	//   h (t=26) is behind g in strict FIFO: starts at 205, ends at 212.
	want := map[string][2]float64{"a": {0, 100}, "b": {0, 50}, "c": {0, 30}, "d": {0, 200},
		"e": {30, 70}, "f": {50, 60}, "g": {200, 205}, "h": {205, 212}}
	cfg := Default()
	cfg.Engine = engine.Config{Queue: "fifo"}
	cfg.PassInterval = time.Millisecond
	s, err := New(f, jobs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := s.Run()
	for _, j := range r.Jobs {
		w := want[j.ID]
		if j.Start != w[0] || j.Finish != w[1] {
			t.Errorf("job %s ran %v..%v, want %v..%v", j.ID, j.Start, j.Finish, w[0], w[1])
		}
	}
	if r.JobsCompleted != 8 || r.Makespan != 212 {
		t.Errorf("completed %d, makespan %v", r.JobsCompleted, r.Makespan)
	}
	// JCTs: 100 50 30 200 60 40 180 186 → mean 105.75.
	if r.AvgJCT != 105.75 {
		t.Errorf("avg JCT %v, want 105.75", r.AvgJCT)
	}
}

package server

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"stargate/examples"
)

// Every site, hall and row has one draw series and one limit series, each
// labelled with its own domain and holding its own value: the labels are
// made once for the fleet, and the series made outside the registry pass
// the checks it makes.
func TestMetricsEveryDomain(t *testing.T) {
	f, err := examples.Fleet("sovereign")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(c *Config) { c.Fleet = f })
	want := map[string]float64{} // level/domain: limit
	for i := range f.Sites {
		st := &f.Sites[i]
		want["site/"+st.Name] = float64(st.LimitW) / st.PUE
		for hi := st.First; hi < st.End; hi++ {
			hn := st.Name + "/" + f.Halls[hi].Name
			want["hall/"+hn] = float64(f.Halls[hi].LimitW)
			for ri := f.Halls[hi].First; ri < f.Halls[hi].End; ri++ {
				want["row/"+hn+"/"+f.Rows[ri].Name] = float64(f.Rows[ri].LimitW)
			}
		}
	}
	if len(want) < 10 {
		t.Fatalf("the fleet has %d domains: too few to tell them apart", len(want))
	}
	// One node draws: its row, hall and site say so, and no other domain.
	node := f.NodeName(0)
	parts := strings.Split(node, "/")
	drawing := map[string]bool{"site/" + parts[0]: true, "hall/" + strings.Join(parts[:2], "/"): true, "row/" + strings.Join(parts[:3], "/"): true}
	h.registerAs(node, f.NodeModel(0).Name, f.NodeModel(0).Accelerators)
	if r := h.do(node, "POST", NodePath(node)+"/heartbeat", `{"draw_w":5000}`); r.status != 200 {
		t.Fatalf("heartbeat: %d %s", r.status, r.body)
	}
	for round := range 2 { // the labels made once serve every scrape
		// the checks a registry makes of every metric it gathers
		if _, err := (prometheus.Gatherers{h.srv.Metrics()}).Gather(); err != nil {
			t.Fatalf("scrape %d: %v", round, err)
		}
		mfs, err := h.srv.Metrics().Gather()
		if err != nil {
			t.Fatalf("scrape %d: %v", round, err)
		}
		got := map[string]map[string]float64{}
		for _, mf := range mfs {
			name := mf.GetName()
			if name != "stargate_power_limit_watts" && name != "stargate_power_draw_watts" {
				continue
			}
			got[name] = map[string]float64{}
			for _, m := range mf.GetMetric() {
				l := map[string]string{}
				for _, p := range m.GetLabel() {
					l[p.GetName()] = p.GetValue()
				}
				key := l["level"] + "/" + l["domain"]
				if _, dup := got[name][key]; dup {
					t.Errorf("scrape %d: %s twice for %s", round, name, key)
				}
				got[name][key] = m.GetGauge().GetValue()
			}
		}
		for name, series := range got {
			if len(series) != len(want) {
				t.Errorf("scrape %d: %d %s series, want one for each of %d domains", round, len(series), name, len(want))
			}
			for key, limit := range want {
				v, ok := series[key]
				switch {
				case !ok:
					t.Errorf("scrape %d: no %s for %s", round, name, key)
				case name == "stargate_power_limit_watts" && v != limit:
					t.Errorf("scrape %d: %s %s = %v, want %v", round, name, key, v, limit)
				case name == "stargate_power_draw_watts" && drawing[key] && v != 5000:
					t.Errorf("scrape %d: %s %s = %v, want the 5000 W of its node", round, name, key, v)
				case name == "stargate_power_draw_watts" && !drawing[key] && v != 0:
					t.Errorf("scrape %d: %s %s = %v with no node drawing below it", round, name, key, v)
				}
			}
		}
		if len(got) != 2 {
			t.Fatalf("scrape %d: %d families of power series, want 2", round, len(got))
		}
	}
}

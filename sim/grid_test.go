package sim

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"stargate/engine"
	"stargate/fleet"
	"stargate/internal/chart"
	"stargate/trace"
)

// gridFleet is two sites of one region, each of racks of four DGX H100
// (32 GPUs), with breakers that never bind; ramp is each site's ramp
// limit in MW a minute (0: none).
func gridFleet(t interface{ Fatal(...any) }, racks int, ramp float64) *fleet.Fleet {
	site := func(name string) string {
		return fmt.Sprintf(`
      - name: %s
        substation_mw: 50
        pue: 1.2
        ramp_mw_per_min: %g
        energy: [{source: grid, share: 1, price_usd_mwh: 80, carbon_g_kwh: 400}]
        halls:
          - name: h
            limit_kw: 40000
            rows:
              - name: row
                limit_kw: 40000
                racks:
                  - name: rack
                    count: %d
                    limit_kw: 100
                    nodes: [{model: dgx-h100, count: 4}]`, name, ramp, racks)
	}
	f, err := fleet.Parse(strings.NewReader("oversubscription: 1.0\nregions:\n  - name: r\n    sites:" + site("a") + site("b") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func busyJobs(t interface{ Fatal(...any) }, accelerators int, span time.Duration, load float64, seed uint64) []trace.Job {
	syn := trace.DefaultSynthetic()
	syn.Span, syn.Seed = span.Seconds(), seed
	syn.Sizes = []trace.Size{{Accelerators: 1, Weight: 30}, {Accelerators: 8, Weight: 40}, {Accelerators: 16, Weight: 10}, {Accelerators: 64, Weight: 5}}
	syn.Jobs = JobsForLoad(&syn, accelerators, load)
	g, err := trace.NewGenerator(syn)
	if err != nil {
		t.Fatal(err)
	}
	return g.All()
}

func TestParseGridEvent(t *testing.T) {
	ev, err := ParseGridEvent("site=abilene,start=14h,duration=3h,target=75%,notice=10m,kind=mandatory")
	if err != nil {
		t.Fatal(err)
	}
	want := GridEventSpec{ScopeKind: "site", Scope: "abilene", Start: 14 * time.Hour, Duration: 3 * time.Hour,
		Notice: 10 * time.Minute, TargetFraction: 0.75, Kind: engine.Mandatory}
	if ev != want {
		t.Errorf("got %+v, want %+v", ev, want)
	}
	if back, err := ParseGridEvent(ev.String()); err != nil || back != ev {
		t.Errorf("%q read back as %+v, %v", ev.String(), back, err)
	}
	ev, err = ParseGridEvent("id=dr,region=texas,start=1h,duration=30m,target=120MW,kind=voluntary,price=900")
	if err != nil || ev.ScopeKind != "region" || ev.TargetMW != 120 || ev.Kind != engine.Voluntary || ev.PriceUSDPerMWh != 900 || ev.ID != "dr" {
		t.Errorf("got %+v, %v", ev, err)
	}
	for spec, msg := range map[string]string{
		"start=1h,duration=1h,target=50%":                        "site or region is required",
		"site=a,region=b,start=1h,duration=1h,target=50%":        "not both",
		"site=a,duration=1h,target=50%":                          "start is required",
		"site=a,start=1h,duration=0s,target=50%":                 "duration must be > 0",
		"site=a,start=1h,duration=1h,target=150%":                "percentage in [0, 100]",
		"site=a,start=1h,duration=1h,target=lots":                "want 75% or 120MW",
		"site=a,start=1h,duration=1h,target=50%,kind=maybe":      "mandatory or voluntary",
		"site=a,start=1h,duration=1h,target=50%,colour=red":      `unknown key "colour"`,
		"site=a,start=soon,duration=1h,target=50%":               "start: want a duration",
		"site=a,start=1h,duration=1h,target=50%,price=-1":        "price",
		"site=a,start=1h,duration=1h,target=50%,site=b":          "given twice",
		"site a,start=1h,duration=1h,target=50%":                 "not key=value",
		"site=a,start=1h,duration=1h,target=50%,notice=-5m":      "notice: want a duration >= 0",
		"site=a,start=1h,duration=1h,target=50%,kind=mandatory,": "not key=value",
	} {
		if _, err := ParseGridEvent(spec); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: got %v, want an error with %q", spec, err, msg)
		}
	}
}

func TestReadGridEvents(t *testing.T) {
	y := `events:
  - {site: a, start: 2h, duration: 1h, target: 75%, notice: 10m}
  - {region: r, start: 5h, duration: 30m, target: 3.5MW, kind: voluntary, price: 1200, id: dr}
`
	c := "id,site,region,start,duration,target,notice,kind,price\n,a,,2h,1h,75%,10m,,\ndr,,r,5h,30m,3.5MW,,voluntary,1200\n"
	a, err := ReadGridEvents(strings.NewReader(y), "events.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b, err := ReadGridEvents(strings.NewReader(c), "events.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 2 || fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("YAML %v and CSV %v differ", a, b)
	}
	if a[1].TargetMW != 3.5 || a[1].Kind != engine.Voluntary || a[0].TargetFraction != 0.75 {
		t.Errorf("read %+v", a)
	}
	// a plain list, and every bad event reported
	_, err = ReadGridEvents(strings.NewReader("- {site: a, start: 1h}\n- {site: b, duration: 1h, start: 1h, target: 50%, x: 1}\n"), "bad.yaml")
	if err == nil || !strings.Contains(err.Error(), "event 1") || !strings.Contains(err.Error(), "event 2") {
		t.Errorf("got %v, want both events' problems", err)
	}
}

// gridRunOn runs a busy workload with inference services on f with the
// events given, planned or naive.
func gridRunOn(t testing.TB, f *fleet.Fleet, jobs []trace.Job, evs []GridEventSpec, naive bool, share float64) *Result {
	t.Helper()
	cfg := Default()
	cfg.GridEvents = evs
	cfg.Engine.Grid.Naive = naive
	if share > 0 {
		cfg.Services = &Services{Count: int(share * float64(f.Accelerators) / 8), Accelerators: 8, Load: 0.6, Span: 12 * time.Hour}
	}
	s, err := New(f, jobs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s.Run()
}

// TestGridEventHeld: a 25% cut at one site of a busy fleet is met within
// the response window and held, inference served in full, with far less
// work lost than a naive shed; every key the issue names is in the JSON.
func TestGridEventHeld(t *testing.T) {
	f := gridFleet(t, 16, 0)
	jobs := busyJobs(t, f.Accelerators, 6*time.Hour, 1.3, 1)
	ev, err := ParseGridEvent("site=a,start=3h,duration=2h,target=75%,notice=10m,kind=mandatory")
	if err != nil {
		t.Fatal(err)
	}
	plan := gridRunOn(t, f, jobs, []GridEventSpec{ev}, false, 0.15).GridEvents[0]
	naive := gridRunOn(t, f, jobs, []GridEventSpec{ev}, true, 0.15).GridEvents[0]
	t.Logf("planned %+v", plan)
	t.Logf("naive   %+v", naive)
	if plan.SecondsOverTarget != 0 || plan.OnlyProtectedLeft {
		t.Errorf("planned shed: %g s over target", plan.SecondsOverTarget)
	}
	if plan.TimeToComplyS < 0 || plan.TimeToComplyS > DefaultResponseWindow.Seconds() {
		t.Errorf("planned shed complied after %g s", plan.TimeToComplyS)
	}
	if plan.InferenceServed != 1 {
		t.Errorf("inference served %g", plan.InferenceServed)
	}
	if plan.TargetMW != 0.75*plan.BaselineMW || plan.BaselineMW <= 0 {
		t.Errorf("target %g MW of a baseline of %g MW", plan.TargetMW, plan.BaselineMW)
	}
	if !(naive.AcceleratorHoursLost > 2*plan.AcceleratorHoursLost) {
		t.Errorf("accelerator-hours lost: planned %g, naive %g", plan.AcceleratorHoursLost, naive.AcceleratorHoursLost)
	}
	if plan.EnergyShedMWh <= 0 || plan.CostAvoidedUSD <= 0 || plan.EmissionsAvoidedT <= 0 || plan.AcceleratorHoursSlowed <= 0 {
		t.Errorf("nothing shed? %+v", plan)
	}
	b, _ := json.Marshal(plan)
	var keys map[string]any
	json.Unmarshal(b, &keys)
	for _, k := range []string{"scope", "baseline_mw", "target_mw", "peak_mw_after_response", "seconds_over_target", "time_to_comply_s",
		"energy_shed_mwh", "accelerator_hours_slowed", "accelerator_hours_lost", "jobs_preempted", "jobs_moved", "inference_served",
		"cost_avoided_usd", "emissions_avoided_t"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("no %q in %s", k, b)
		}
	}
}

// TestGridMovesWork: with room at the other site, work leaves the scope
// rather than stop.
func TestGridMovesWork(t *testing.T) {
	f := gridFleet(t, 16, 0)
	jobs := busyJobs(t, f.Accelerators/2, 6*time.Hour, 1.0, 2)
	ev, _ := ParseGridEvent("site=a,start=2h,duration=2h,target=70%")
	g := gridRunOn(t, f, jobs, []GridEventSpec{ev}, false, 0).GridEvents[0]
	if g.JobsMoved == 0 || g.SecondsOverTarget != 0 {
		t.Errorf("moved %d jobs, %g s over target", g.JobsMoved, g.SecondsOverTarget)
	}
}

// TestGridProperties: on random busy runs with random events, every
// mandatory event's scope is at or under its target after the response
// window (unless only protected work is left, and then the report says
// so), and after each event the sites' draw rises no faster than their
// ramp.
func TestGridProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		// a ramp at least one 64-GPU job's nameplate rise (73 kW at the
		// facility), which may always start alone
		ramp := rapid.SampledFrom([]float64{0, 0.08, 0.1, 0.2}).Draw(t, "ramp")
		f := gridFleet(t, rapid.IntRange(2, 12).Draw(t, "racks"), ramp)
		jobs := busyJobs(t, f.Accelerators, time.Duration(rapid.IntRange(2, 6).Draw(t, "span"))*time.Hour,
			float64(rapid.IntRange(5, 15).Draw(t, "load"))/10, rapid.Uint64().Draw(t, "seed"))
		var evs []GridEventSpec
		for k := range rapid.IntRange(1, 3).Draw(t, "events") {
			ev := GridEventSpec{ID: fmt.Sprint("e", k), ScopeKind: "site", Scope: rapid.SampledFrom([]string{"a", "b"}).Draw(t, "site"),
				Start:          time.Duration(rapid.IntRange(10, 300).Draw(t, "start")) * time.Minute,
				Duration:       time.Duration(rapid.IntRange(10, 180).Draw(t, "duration")) * time.Minute,
				Notice:         time.Duration(rapid.IntRange(0, 30).Draw(t, "notice")) * time.Minute,
				TargetFraction: float64(rapid.IntRange(50, 95).Draw(t, "target")) / 100}
			if rapid.IntRange(0, 3).Draw(t, "region") == 0 {
				ev.ScopeKind, ev.Scope = "region", "r"
			}
			evs = append(evs, ev)
		}
		cfg := Default()
		cfg.GridEvents = evs
		if share := float64(rapid.IntRange(0, 2).Draw(t, "share")) / 10; share > 0 {
			cfg.Services = &Services{Count: int(share * float64(f.Accelerators) / 8), Accelerators: 8, Load: 0.6, Span: 8 * time.Hour}
		}
		s, err := New(f, jobs, cfg)
		if err != nil {
			t.Fatal(err)
		}
		var draws [][]drawAt
		if ramp > 0 {
			draws = make([][]drawAt, len(f.Sites))
			s.onSiteDraw = func(si int, w float64) {
				draws[si] = append(draws[si], drawAt{s.now, w})
			}
		}
		r := s.Run()
		for _, g := range r.GridEvents {
			if g.SecondsOverTarget > 0 && !g.OnlyProtectedLeft {
				t.Fatalf("event %s: %g s over target %g MW (peak %g MW) with flexible work left", g.ID, g.SecondsOverTarget, g.TargetMW, g.PeakMWAfterResponse)
			}
			if !g.OnlyProtectedLeft && (g.TimeToComplyS < 0 || g.TimeToComplyS > cfg.ResponseWindow.Seconds()) {
				t.Fatalf("event %s complied after %g s", g.ID, g.TimeToComplyS)
			}
		}
		for si, ds := range draws {
			checkRamp(t, f, si, ds, evs)
		}
	})
}

type drawAt struct {
	at time.Duration
	w  float64 // facility W
}

// checkRamp: once every event over site si has ended, its draw rises by
// at most its ramp in any minute. The draw is taken as it stands after
// each instant (within one, the simulator changes it node by node): the
// rise over the instants j..m of a minute is v[m] − v[j−1].
func checkRamp(t *rapid.T, f *fleet.Fleet, si int, ds []drawAt, evs []GridEventSpec) {
	limit := f.Sites[si].RampMWPerMin * 1e6
	var last time.Duration
	for _, ev := range evs {
		last = max(last, ev.Start+ev.Duration)
	}
	var at []time.Duration
	var v []float64
	for _, d := range ds {
		if n := len(at); n > 0 && at[n-1] == d.at {
			v[n-1] = d.w
			continue
		}
		at, v = append(at, d.at), append(v, d.w)
	}
	for m := range at {
		for j := m; j >= 1 && at[m]-at[j] < time.Minute; j-- {
			if at[j] >= last && v[m]-v[j-1] > limit*(1+1e-9) {
				t.Fatalf("%s rose %.0f kW from before %s to %s after the events: more than its ramp of %.0f kW a minute",
					f.Sites[si].Name, (v[m]-v[j-1])/1e3, at[j], at[m], limit/1e3)
			}
		}
	}
}

// TestGridReport: the report marks each event on its sites' draw charts,
// with the target of a site's own event, and draws each event's scope
// against its target in a section of its own.
func TestGridReport(t *testing.T) {
	f := gridFleet(t, 4, 0)
	jobs := busyJobs(t, f.Accelerators, 3*time.Hour, 1.2, 3)
	a, _ := ParseGridEvent("id=cut,site=a,start=1h,duration=1h,target=75%")
	b, _ := ParseGridEvent("id=wide,region=r,start=2h,duration=30m,target=90%")
	r := gridRunOn(t, f, jobs, []GridEventSpec{a, b}, false, 0)
	p := buildPage("t", nil, []*Result{r})
	var site, grid *chart.Line
	for i := range p.Charts {
		switch p.Charts[i].ID {
		case "c-site-0":
			site = &p.Charts[i]
		case "c-grid-0-1":
			grid = &p.Charts[i]
		}
	}
	if site == nil || grid == nil {
		t.Fatalf("no site or grid chart among %d", len(p.Charts))
	}
	if len(site.Spans) != 2 || site.Spans[0].Label != "cut" || site.Spans[0].X0 != 1 || site.Spans[0].X1 != 2 {
		t.Errorf("site a's spans: %+v", site.Spans)
	}
	targets := 0
	for _, s := range site.Series {
		if s.Cls == "target" {
			targets++
			if want := chart.Num(r.GridEvents[0].TargetMW / 1.2); s.Values[0] != want {
				t.Errorf("target drawn at %v MW of IT draw, want %v", s.Values[0], want)
			}
		}
	}
	if targets != 1 {
		t.Errorf("%d target lines on site a's chart, want 1 (the region's target is not a site's)", targets)
	}
	if grid.Series[1].Cls != "target" || float64(grid.Series[1].Values[0]) != r.GridEvents[1].TargetMW || len(grid.Spans) != 1 {
		t.Errorf("region event's chart: %+v", grid)
	}
}

// TestGridOnlyProtectedLeft: a cut below what the inference services and
// the idle nodes draw cannot be met: the time over target is counted and
// the report says that only protected work was left.
func TestGridOnlyProtectedLeft(t *testing.T) {
	f := gridFleet(t, 4, 0)
	jobs := busyJobs(t, f.Accelerators, 3*time.Hour, 1.2, 4)
	ev, _ := ParseGridEvent("site=a,start=1h,duration=1h,target=20%")
	g := gridRunOn(t, f, jobs, []GridEventSpec{ev}, false, 0.2).GridEvents[0]
	if !g.OnlyProtectedLeft || g.SecondsOverTarget < 3500 || g.TimeToComplyS != -1 || g.PeakMWAfterResponse <= g.TargetMW {
		t.Errorf("an impossible cut: %+v", g)
	}
	if g.InferenceServed >= 1 || g.InferenceServed <= 0 {
		t.Errorf("inference served %g: the services should be capped, not stopped", g.InferenceServed)
	}
}

package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

func TestSimCompareJSONAndOut(t *testing.T) {
	dir := t.TempDir()
	out, err := run(t, "sim", "--example", "small", "--jobs", "200", "--span", "2h", "--sizes", "1:3,8:2,32:1",
		"--compare", "fifo,backfill,fair", "-o", "json", "--out", dir, "-q")
	if err != nil {
		t.Fatal(err, out)
	}
	var got struct {
		Results []map[string]any `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err, out)
	}
	if len(got.Results) != 3 {
		t.Fatalf("%d results", len(got.Results))
	}
	for i, p := range []string{"fifo", "backfill", "fair"} {
		r := got.Results[i]
		if r["policy"] != p || r["jobs_submitted"] != 200.0 || r["jobs_completed"] != 200.0 {
			t.Errorf("result %d: %v %v %v", i, r["policy"], r["jobs_submitted"], r["jobs_completed"])
		}
		for _, k := range []string{"gpu_hours", "avg_jct_s", "p50_jct_s", "p95_jct_s", "p99_jct_s", "avg_wait_s", "utilization", "energy_mwh", "wall_s", "events"} {
			if _, ok := r[k]; !ok {
				t.Errorf("%s: no %q", p, k)
			}
		}
	}
	for _, name := range []string{"summary.json", "jobs-fifo.csv", "series-fair.csv", "report.html"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || len(b) == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	page, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	for _, want := range []string{"function sgLineChart", `<script type="application/json" id="sg-data">`, `<table class="sortable">`,
		"<dt>fleet</dt><dd>example small: 128 accelerators in 1 site</dd>", "<dt>seed</dt><dd>1</dd>",
		"200 jobs arriving over 2 h", "1:3,8:2,32:1", "fifo, backfill, fair"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
}

// TestSimGridEvents: events from a flag and a file, the naive shed beside
// the planned one, each event in the JSON with the keys scripts rely on.
func TestSimGridEvents(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "events.csv")
	if err := os.WriteFile(file, []byte("id,site,start,duration,target,notice\nlate,lab,90m,20m,85%,5m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "sim", "--example", "small", "--jobs", "300", "--span", "2h", "--sizes", "1:3,8:2", "-q", "-o", "json",
		"--grid-event", "id=cut,site=lab,start=40m,duration=30m,target=75%,notice=10m", "--grid-events", file,
		"--naive-shed", "--inference-share", "0.1", "--inference-size", "4", "--ramp", "0.2")
	if err != nil {
		t.Fatal(err, out)
	}
	var got struct {
		Results []struct {
			Policy     string           `json:"policy"`
			GridEvents []map[string]any `json:"grid_events"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err, out)
	}
	if len(got.Results) != 2 || got.Results[0].Policy != "backfill" || got.Results[1].Policy != "backfill+naive-shed" {
		t.Fatalf("results: %+v", got.Results)
	}
	for _, r := range got.Results {
		if len(r.GridEvents) != 2 || r.GridEvents[0]["id"] != "late" || r.GridEvents[1]["id"] != "cut" { // the file's, then the flags'
			t.Fatalf("%s: events %v", r.Policy, r.GridEvents)
		}
		for _, k := range []string{"scope", "baseline_mw", "target_mw", "peak_mw_after_response", "seconds_over_target", "time_to_comply_s",
			"energy_shed_mwh", "accelerator_hours_slowed", "accelerator_hours_lost", "jobs_preempted", "jobs_moved", "inference_served",
			"cost_avoided_usd", "emissions_avoided_t"} {
			if _, ok := r.GridEvents[0][k]; !ok {
				t.Errorf("%s: no %q", r.Policy, k)
			}
		}
	}
	table, err := run(t, "sim", "--example", "small", "--jobs", "100", "--span", "1h", "-q",
		"--grid-event", "site=lab,start=30m,duration=10m,target=80%")
	if err != nil || !strings.Contains(table, "grid events") || !strings.Contains(table, "site/lab") {
		t.Errorf("table: %v\n%s", err, table)
	}
}

func TestSimTraceBadRows(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "c.csv")
	os.WriteFile(csv, []byte("job_id,submission_time,duration,num_gpu\na,0,60,1\nb,x,60,1\nc,5,60,2\n"), 0o644)
	out, err := run(t, "sim", "--example", "small", "--trace", "itp:"+csv, "-q")
	if err != nil {
		t.Fatal(err, out)
	}
	if !strings.Contains(out, "1 bad rows skipped (lines 3") || !strings.Contains(out, "2 jobs") {
		t.Errorf("output:\n%s", out)
	}
	if _, err := run(t, "sim", "--example", "small", "--trace", "itp:"+csv, "--strict", "-q"); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("--strict: err = %v", err)
	}
}

func TestSimErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"sim", "--policy", "lottery"}, "lottery"},
		{[]string{"sim", "--compare", "fifo,nope"}, "nope"},
		{[]string{"sim", "--trace", "itp"}, "want KIND:PATH"},
		{[]string{"sim", "--trace", "parquet:x"}, `unknown kind "parquet"`},
		{[]string{"sim", "--trace", "itp:/nonexistent.csv"}, "no such file"},
		{[]string{"sim", "--trace", "csv:/dev/null"}, "needs --columns"},
		{[]string{"sim", "--trace", "itp:/dev/null", "--jobs", "5"}, "add --synthetic"},
		{[]string{"sim", "--sizes", "8"}, "accelerators:weight"},
		{[]string{"sim", "--utilization", "2"}, "utilization must be"},
		{[]string{"sim", "--scale", "0"}, "--scale must be"},
		{[]string{"sim", "-o", "yaml"}, "--output must be"},
		{[]string{"sim", "--load", "-1"}, "--load must be"},
		{[]string{"sim", "--naive-shed"}, "give --grid-event"},
		{[]string{"sim", "--grid-event", "site=lab,start=1h"}, "duration is required"},
		{[]string{"sim", "--grid-event", "site=nowhere,start=1h,duration=1h,target=50%"}, `no site "nowhere"`},
		{[]string{"sim", "--grid-events", "/nonexistent.yaml"}, "no such file"},
		{[]string{"sim", "--inference-share", "2"}, "--inference-share must be"},
		{[]string{"sim", "--ramp", "-1"}, "--ramp must be"},
	}
	for _, c := range cases {
		out, err := run(t, append(c.args, "-q", "--example", "small")...)
		if err == nil {
			t.Errorf("%v: no error\n%s", c.args, out)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %q lacks %q", c.args, err, c.want)
		}
	}
}

// The same seed gives the same JSON, byte for byte but for the two wall-time
// fields, and the same CSV files.
func TestSimSameSeedSameOutput(t *testing.T) {
	runOnce := func() (string, string, string) {
		dir := t.TempDir()
		out, err := run(t, "sim", "--example", "small", "--jobs", "300", "--span", "6h", "--sizes", "1:3,8:2,32:1",
			"--failures", "--mtbf", "300h", "--seed", "7", "-o", "json", "--out", dir, "-q")
		if err != nil {
			t.Fatal(err, out)
		}
		var kept []string
		for _, line := range strings.Split(out, "\n") {
			if !strings.Contains(line, `"wall_s"`) && !strings.Contains(line, `"events_per_s"`) {
				kept = append(kept, line)
			}
		}
		jobs, _ := os.ReadFile(filepath.Join(dir, "jobs.csv"))
		series, _ := os.ReadFile(filepath.Join(dir, "series.csv"))
		return strings.Join(kept, "\n"), string(jobs), string(series)
	}
	a1, a2, a3 := runOnce()
	b1, b2, b3 := runOnce()
	if a1 != b1 || a2 != b2 || a3 != b3 {
		t.Fatal("same seed, different output")
	}
	if !strings.Contains(a1, `"failures"`) || len(a2) < 1000 {
		t.Fatalf("nothing to compare:\n%s", a1)
	}
}

// Settings without a flag keep the simulator's defaults: passes at most
// every 10 s, so of three jobs arriving at 1, 2 and 3 s on an idle fleet
// the first starts at once and the others at the next pass, at 11 s.
func TestSimKeepsDefaults(t *testing.T) {
	csv := filepath.Join(t.TempDir(), "three.csv")
	os.WriteFile(csv, []byte("job_id,submission_time,duration,num_gpu\na,1,60,1\nb,2,60,1\nc,3,60,1\n"), 0o644)
	out, err := run(t, "sim", "--example", "small", "--trace", "itp:"+csv, "-o", "json", "-q")
	if err != nil {
		t.Fatal(err, out)
	}
	var r struct {
		AvgWait float64 `json:"avg_wait_s"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if want := (0 + 9 + 8) / 3.0; r.AvgWait < want-1e-9 || r.AvgWait > want+1e-9 {
		t.Errorf("avg wait %v s, want %v", r.AvgWait, want)
	}
}

// The sim report drawn by a real browser from a file, offline: every
// figure gets its chart, the completion-time CDF is labelled in round,
// positive hours, every tick is a round number, the tables sort, and the
// page passes the accessibility audit the console passes.
func TestSimReportInBrowser(t *testing.T) {
	exe := chromium(t)
	dir := t.TempDir()
	out, err := run(t, "sim", "--example", "small", "--jobs", "300", "--span", "2h", "--sizes", "1:3,8:2,32:1",
		"--compare", "fifo,fair", "--failures", "--mtbf", "300h", "--out", dir, "-q")
	if err != nil {
		t.Fatal(err, out)
	}
	checkReportInBrowser(t, exe, filepath.Join(dir, "report.html"), "sim-report")
	ctx := browser(t, exe)
	do(t, ctx, chromedp.Navigate("file://"+filepath.Join(dir, "report.html")))
	waitJS(t, ctx, "the charts", "document.body.dataset.drawn", 10*time.Second)
	ticks := js[[]string](t, ctx, `Array.from(document.querySelectorAll("#c-jct-cdf svg text.tick")).map(e => e.textContent)`)
	hours := 0
	for _, tk := range ticks {
		if v, ok := strings.CutSuffix(tk, " h"); ok {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil || !(x > 0) {
				t.Errorf("JCT CDF tick %q: not a positive number of hours", tk)
			}
			if m := x / math.Pow(10, math.Floor(math.Log10(x)+1e-9)); math.Abs(m-1) > 1e-9 && math.Abs(m-2) > 1e-9 && math.Abs(m-5) > 1e-9 {
				t.Errorf("JCT CDF tick %q: not 1, 2 or 5 times a power of ten", tk)
			}
			hours++
		}
	}
	if hours < 2 {
		t.Errorf("JCT CDF ticks %q: want at least two in hours", ticks)
	}
	// Sorting by the average wait puts the rows in its order.
	do(t, ctx, chromedp.Click(chromedp.CSS(`section[aria-labelledby="queue"] table th:nth-child(6) button`)))
	waits := js[[]float64](t, ctx, `Array.from(document.querySelectorAll('section[aria-labelledby="queue"] table tbody tr')).map(r => Number(r.cells[5].dataset.v))`)
	if len(waits) != 2 || waits[0] > waits[1] {
		t.Errorf("after sorting by the average wait: %v", waits)
	}
}

// checkReportInBrowser opens a report file in a fresh browser and checks
// what every report must do: draw a chart in every figure, with round
// ticks, and pass the accessibility audit.
func checkReportInBrowser(t *testing.T, exe, path, name string) {
	t.Helper()
	ctx := browser(t, exe)
	do(t, ctx, chromedp.Navigate("file://"+path))
	waitJS(t, ctx, "the charts", "document.body.dataset.drawn", 10*time.Second)
	figures := js[int](t, ctx, `document.querySelectorAll("figure").length`)
	charts := js[int](t, ctx, `document.querySelectorAll("figure > svg.chart").length`)
	if figures == 0 || charts != figures {
		t.Errorf("%d charts in %d figures", charts, figures)
	}
	// Every tick is a round number: at most two significant digits.
	ticks := js[[]string](t, ctx, `Array.from(document.querySelectorAll("svg.chart text.tick")).map(e => e.textContent)`)
	for _, tk := range ticks {
		v := strings.ReplaceAll(strings.Fields(tk + " x")[0], ",", "")
		v = strings.TrimLeft(strings.TrimPrefix(v, "−"), "0.")
		v = strings.TrimRight(strings.ReplaceAll(v, ".", ""), "0")
		if len(v) > 2 {
			t.Errorf("tick %q is not a round number", tk)
		}
	}
	if len(ticks) < 4*figures {
		t.Errorf("%d ticks for %d charts", len(ticks), figures)
	}
	shoot(t, ctx, name)
	audit(t, ctx, name)
}

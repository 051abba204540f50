package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// benchEngineJSON runs bench engine on the small example with a short
// steady state and decodes its report.
func benchEngineJSON(t *testing.T, extra ...string) benchReport {
	t.Helper()
	args := append([]string{"bench", "engine", "--example", "small", "-o", "json", "--runs", "1",
		"--pending", "300", "--shapes", "1,8", "--steady-passes", "300"}, extra...)
	var out, errb bytes.Buffer
	if err := Run(context.Background(), args, &out, &errb); err != nil {
		t.Fatalf("bench engine: %v (%s)", err, errb.String())
	}
	var rep benchReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("bad json: %v\n%s", err, out.String())
	}
	return rep
}

// Every figure says which fleet it was measured on; the steady state is
// busy, power-bound, and interleaves ends with placements.
func TestBenchEngineFleetStates(t *testing.T) {
	rep := benchEngineJSON(t)
	for _, r := range rep.Results {
		if r.FleetState != "empty" {
			t.Errorf("shape %s: fleet_state %q, want empty", r.Shape, r.FleetState)
		}
	}
	if rep.PassFleetState != "empty" || !strings.HasPrefix(rep.SecondPassFleetState, "full ") {
		t.Errorf("pass fleet states %q, %q", rep.PassFleetState, rep.SecondPassFleetState)
	}
	if len(rep.SteadyState) != 2 {
		t.Fatalf("steady state: %d runs, want 2 (1 and 8)", len(rep.SteadyState))
	}
	steady := regexp.MustCompile(`^steady \d+% busy$`)
	for _, st := range rep.SteadyState {
		if !steady.MatchString(st.FleetState) {
			t.Errorf("shape %s: fleet_state %q", st.Shape, st.FleetState)
		}
		if st.BusyPct < 70 || st.BusyPct > 90 {
			t.Errorf("shape %s: %.1f%% busy, want 70-90%%", st.Shape, st.BusyPct)
		}
		if st.Passes != 300 || st.Ends == 0 || st.Placed == 0 || st.VirtualS <= 0 {
			t.Errorf("shape %s: %d passes, %d ends, %d placed over %g s", st.Shape, st.Passes, st.Ends, st.Placed, st.VirtualS)
		}
		if st.PowerRefused == 0 || st.PowerRefusedByLevel["site"] == 0 {
			t.Errorf("shape %s: no job refused for power at a site under a %.2f budget: %+v", st.Shape, st.PowerBudget, st)
		}
		if st.PassMedianUS <= 0 || st.PassP99US < st.PassMedianUS || st.PlacementsPerS <= 0 {
			t.Errorf("shape %s: pass median %g µs, p99 %g µs, %g/s", st.Shape, st.PassMedianUS, st.PassP99US, st.PlacementsPerS)
		}
	}
}

// The same seed gives the same workload and decisions; another seed
// another workload.
func TestBenchEngineSteadyDeterministic(t *testing.T) {
	key := func(rep benchReport) []benchSteady {
		var out []benchSteady
		for _, st := range rep.SteadyState {
			st.PlacementsPerS, st.PassMedianUS, st.PassP99US, st.PassMeanUS = 0, 0, 0, 0
			out = append(out, st)
		}
		return out
	}
	a, _ := json.Marshal(key(benchEngineJSON(t, "--steady-shapes", "1,mix")))
	b, _ := json.Marshal(key(benchEngineJSON(t, "--steady-shapes", "1,mix")))
	c, _ := json.Marshal(key(benchEngineJSON(t, "--steady-shapes", "1,mix", "--seed", "2")))
	if !bytes.Equal(a, b) {
		t.Errorf("two runs with one seed differ:\n%s\n%s", a, b)
	}
	if bytes.Equal(a, c) {
		t.Errorf("seeds 1 and 2 gave the same steady state: %s", a)
	}
}

// Power binds only because of the budget: with the whole full-load draw
// allowed, the small fleet (whose breakers hold it) refuses nothing for
// power and fills up.
func TestBenchEngineSteadyWithoutBudget(t *testing.T) {
	rep := benchEngineJSON(t, "--steady-shapes", "8", "--steady-power", "1")
	if len(rep.SteadyState) != 1 {
		t.Fatalf("steady state: %+v", rep.SteadyState)
	}
	st := rep.SteadyState[0]
	if st.PowerRefused != 0 || st.BusyPct < 90 {
		t.Errorf("no budget: %d refused for power, %.1f%% busy; want 0 and a full fleet", st.PowerRefused, st.BusyPct)
	}
}

func TestBenchEngineTable(t *testing.T) {
	var out, errb bytes.Buffer
	err := Run(context.Background(), []string{"bench", "engine", "--example", "small", "--runs", "1",
		"--pending", "300", "--shapes", "1,8,256", "--steady-passes", "200"}, &out, &errb)
	if err != nil {
		t.Fatalf("bench engine: %v (%s)", err, errb.String())
	}
	text := out.String()
	// every line after the header names the fleet state it measured
	state := regexp.MustCompile(`(^|[\s(])(FLEET|empty|full \d+% busy|steady( \d+% busy)?|saturated)[\s:)]`)
	lines := strings.Split(strings.TrimSpace(text), "\n")
	for _, l := range lines[2:] {
		if strings.TrimSpace(l) != "" && !state.MatchString(l) {
			t.Errorf("line says no fleet state: %q", l)
		}
	}
	for _, want := range []string{"PASS MEDIAN", "PASS P99", "POWER-REFUSED", "(site)"} {
		if !strings.Contains(text, want) {
			t.Errorf("table lacks %q:\n%s", want, text)
		}
	}
	if n := len(regexp.MustCompile(`(?m)^\s*steady \d+% busy\s`).FindAllString(text, -1)); n != 2 {
		t.Errorf("%d steady rows, want 2:\n%s", n, text)
	}
}

func TestBenchEngineFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if err := Run(context.Background(), []string{"bench", "engine", "--help"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--steady-shapes", "--steady-passes", "--steady-power", "steady 81% busy", "p99"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	for _, bad := range [][]string{{"--steady-power", "0"}, {"--steady-power", "1.5"}, {"--steady-shapes", "x"}, {"--steady-passes", "0"}} {
		args := append([]string{"bench", "engine", "--example", "small", "--pending", "0", "--shapes", "1"}, bad...)
		if err := Run(context.Background(), args, &out, &errb); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
	rep := benchEngineJSON(t, "--steady-shapes", "")
	if len(rep.SteadyState) != 0 {
		t.Errorf(`--steady-shapes "": %d steady runs`, len(rep.SteadyState))
	}
}

// The saturated runs: one per policy, on a full fleet with exactly
// --pending jobs waiting, each with the three kinds of pass and their
// targets; the table prints a row for each.
func TestBenchEngineSaturated(t *testing.T) {
	rep := benchEngineJSON(t, "--steady-shapes", "", "--saturated", "fifo,backfill", "--saturated-passes", "20")
	if len(rep.Saturated) != 2 {
		t.Fatalf("saturated: %d runs, want 2", len(rep.Saturated))
	}
	full := regexp.MustCompile(`^full \d+% busy$`)
	for _, sr := range rep.Saturated {
		if !full.MatchString(sr.FleetState) || sr.Waiting != 300 || sr.Running == 0 {
			t.Errorf("%s: fleet %q, %d waiting, %d running", sr.Policy, sr.FleetState, sr.Waiting, sr.Running)
		}
		want := map[string]float64{"nothing changed": 100, "one job ended": 1000, "one job arrived": 1000}
		for _, p := range sr.Passes {
			if want[p.Kind] != p.TargetUS || p.Passes != 20 || p.MedianUS <= 0 || p.P99US < p.MedianUS {
				t.Errorf("%s: %+v", sr.Policy, p)
			}
			delete(want, p.Kind)
		}
		if len(want) > 0 {
			t.Errorf("%s: no pass of kinds %v", sr.Policy, want)
		}
	}
	var out, errb bytes.Buffer
	if err := Run(context.Background(), []string{"bench", "engine", "--example", "small", "--runs", "1", "--pending", "300",
		"--shapes", "1", "--steady-shapes", "", "--saturated", "las", "--saturated-passes", "5"}, &out, &errb); err != nil {
		t.Fatalf("bench engine: %v (%s)", err, errb.String())
	}
	if n := len(regexp.MustCompile(`(?m)^\s*full \d+% busy\s+las\s+300\s`).FindAllString(out.String(), -1)); n != 3 {
		t.Errorf("%d saturated rows for las, want 3:\n%s", n, out.String())
	}
	if err := Run(context.Background(), []string{"bench", "engine", "--example", "small", "--saturated", "nope"}, &out, &errb); err == nil {
		t.Error("--saturated nope: no error")
	}
}

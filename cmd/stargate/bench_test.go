package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
)

func TestBenchEngineJSON(t *testing.T) {
	var out, errb bytes.Buffer
	err := Run(context.Background(), []string{"bench", "engine", "--example", "small", "-o", "json",
		"--runs", "1", "--pending", "500", "--shapes", "1,8,32,256"}, &out, &errb)
	if err != nil {
		t.Fatalf("bench engine: %v (%s)", err, errb.String())
	}
	var rep benchReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("bad json: %v\n%s", err, out.String())
	}
	if rep.Accelerators != 128 || len(rep.Results) != 4 {
		t.Fatalf("report: %+v", rep)
	}
	if r := rep.Results[3]; r.Placed != 0 || r.Note == "" {
		t.Errorf("256 on 128 GPUs: %+v, want a note and no figures", r)
	}
	for _, r := range rep.Results[:3] {
		if r.Placed == 0 || r.PlacementsPerS <= 0 {
			t.Errorf("shape %s: placed %d at %g/s", r.Shape, r.Placed, r.PlacementsPerS)
		}
	}
	if rep.PendingJobs != 500 || rep.PassPlaced == 0 || rep.Pass100kPendingS <= 0 {
		t.Errorf("pass: %+v", rep)
	}
	if len(rep.SteadyState) != 2 || rep.SteadyState[0].PlacementsPerS <= 0 {
		t.Errorf("steady state: %+v", rep.SteadyState)
	}
	// flags do not leak into the next run of the shared command
	out.Reset()
	if err := Run(context.Background(), []string{"bench", "engine", "--example", "small", "-o", "json", "--pending", "0", "--shapes", "8"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	var again benchReport
	if err := json.Unmarshal(out.Bytes(), &again); err != nil {
		t.Fatal(err)
	}
	if again.Runs != 3 {
		t.Errorf("second run: --runs is %d, want the default 3", again.Runs)
	}
	// the parent is shared: a second Run sees the same subcommand once
	if n := len(benchCmd().Commands()); n < 1 {
		t.Fatalf("bench has %d subcommands", n)
	}
}

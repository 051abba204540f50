package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"stargate/internal/bench"
)

func TestBenchAPIShort(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), []string{"bench", "api", "--store", "sqlite", "--clients", "4", "--duration", "200ms", "--warmup", "0",
		"--pass-nodes", "2000", "--pass-queued", "100", "--pass-arrivals", "10", "-o", "json"}, &stdout, &stderr)
	out := stdout.String()
	if err != nil {
		t.Fatal(err, out, stderr.String())
	}
	var rep bench.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(rep.Results) != 2 || rep.Results[0].Submits == 0 || rep.Results[0].Errors != 0 ||
		rep.Results[1].Op != "heartbeat" || rep.Results[1].Submits == 0 || rep.Results[1].Errors != 0 {
		t.Errorf("results: %+v", rep.Results)
	}
	if len(rep.Passes) != 1 || rep.Passes[0].Running != 100 || rep.Passes[0].PlacedAfter != 10 ||
		rep.Passes[0].HighPlacedIn != 1 || rep.Passes[0].SpecB == 0 || rep.Passes[0].RSSB == 0 {
		t.Errorf("passes: %+v", rep.Passes)
	}
	// The flags go back to their defaults for the next run of the shared
	// command.
	cmd, _, err := newRoot(&stdout, &stderr).Find([]string{"bench", "api"})
	if err != nil {
		t.Fatal(err)
	}
	if v := cmd.Flags().Lookup("clients").Value.String(); v != "64" {
		t.Errorf("--clients after a run: %s", v)
	}
	if v := cmd.Flags().Lookup("store").Value.String(); v != "sqlite,postgres" {
		t.Errorf("--store after a run: %s", v)
	}
}

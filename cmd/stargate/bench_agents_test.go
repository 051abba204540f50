package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"stargate/client"
	"stargate/server"
	"stargate/store"
)

// A short agents benchmark runs a server process and 50 simulated nodes,
// and prints every figure and both verdicts.
func TestBenchAgentsShort(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process and runs for several seconds")
	}
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), []string{"bench", "agents", "--nodes", "50", "--duration", "3s", "--heartbeat", "500ms",
		"--jobs", "20", "--job-duration", "1s", "--example", "small"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "fewer than --nodes 50") {
		t.Fatalf("50 nodes of the 16-node small fleet: %v", err)
	}
	stdout.Reset()
	err = Run(context.Background(), []string{"bench", "agents", "--nodes", "50", "--duration", "3s", "--heartbeat", "500ms",
		"--jobs", "20", "--job-duration", "1s"}, &stdout, &stderr)
	out := stdout.String()
	if err != nil {
		t.Fatal(err, out, stderr.String())
	}
	t.Log(out)
	for _, re := range []string{
		`registered: +50 of 50 nodes`,
		`heartbeats: +[\d,]+ answered in 3\.\d s: [\d,]+/s \(100/s expected\), 0 errors`,
		`latency: +p50 [\d.]+ ms, p99 [\d.]+ ms`,
		`server: +[\d.]+ cores \([\d.]+ s of CPU\), RSS [1-9]\d* MiB`,
		`jobs: +20 submitted, 20 started, \d+ succeeded; placement to start on the node: p50 [\d.]+ s, p99 [\d.]+ s`,
		`target: 10,000 nodes at a 10s heartbeat .*\(this run is smaller: 50 nodes at 500ms\).*: (met|NOT met)\n`,
		`target: a placed job starts on its node within 2 heartbeats \(1s\): p99 [\d.]+ s, 20 of 20 started: met\n`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("no %q in:\n%s", re, out)
		}
	}
	// About 100 heartbeats a second (50 nodes every 500 ms).
	m := regexp.MustCompile(`answered in [\d.]+ s: (\d+)/s`).FindStringSubmatch(out)
	if rate, err := strconv.Atoi(m[1]); m == nil || err != nil || rate < 80 || rate > 125 {
		t.Errorf("heartbeats per second: %v, want about 100", m)
	}
}

// `stargate agent --simulate N` registers the first N nodes of the fleet
// and keeps them beating.
func TestAgentSimulate(t *testing.T) {
	url, admin, _ := testServer(t)
	c := client.New(url, admin)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	join, err := c.CreateToken(ctx, server.TokenRequest{Role: store.RoleAgent})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "join")
	os.WriteFile(file, []byte(join.Secret+"\n"), 0o600)
	var stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"agent", "--server", url, "--token-file", file, "--simulate", "3", "--heartbeat", "100ms"}, &bytes.Buffer{}, &stderr)
	}()
	waitFor(t, "three simulated nodes beating", 20*time.Second, func() bool {
		l, err := c.Nodes(ctx)
		if err != nil || len(l.Nodes) != 3 {
			return false
		}
		for _, n := range l.Nodes {
			if n.DrawW <= 0 || n.Labels["simulated"] != "true" {
				return false
			}
		}
		return true
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}

	// Too many nodes, or a real node's flags as well: refused before
	// anything starts.
	for _, args := range [][]string{{"--simulate", "17"}, {"--simulate", "x"}, {"--simulate", "2", "--node", "a/b/c/d/n1"}} {
		err := Run(context.Background(), append([]string{"agent", "--server", url, "--token-file", file}, args...), &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil {
			t.Errorf("agent %v: no error", args)
		}
	}
}

package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"stargate/api"
	"stargate/client"
	"stargate/engine"
	"stargate/fleet"
	"stargate/sim"
	"stargate/trace"
)

const gridFleet = "testdata/grid.yaml"

// drawSample is the site's facility draw (IT draw × PUE) at a time.
type drawSample struct {
	at time.Time
	w  float64
}

// TestGridEventLiveAndTwin runs a grid event through a real server and
// simulated agents on fake devices, then replays the same event in the
// simulator on the same fleet with the same jobs.
//
// Live, the site's measured draw must come under the target within 30 s of
// the start and stay there to the end; outside the event, the measured draw
// never rises faster than the site's ramp limit in any minute, the start
// of the six jobs and their return after the event included (the ramp
// binds at the start: the six starts are counted at 57 kW against 30 kW a
// minute). The twin must shed the same jobs the same way: the same jobs
// capped, the same jobs stopped.
func TestGridEventLiveAndTwin(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a server and agents for about two minutes")
	}
	ctx := context.Background()
	f, err := fleet.Load(gridFleet)
	if err != nil {
		t.Fatal(err)
	}
	site := &f.Sites[0]
	rampW := site.RampMWPerMin * 1e6

	data := t.TempDir()
	srv := startServer(t, "-f", gridFleet, "--data", data, "--reconcile-every", "500ms", "--cap-settle", "5s")
	admin := readToken(t, data)
	join := mint(t, srv.url, admin, "--role", "agent")
	agents := exec.Command(os.Args[0], "agent", "--simulate", "all", "-f", gridFleet, "--heartbeat", "1s", "--server", srv.url)
	agents.Env = append(os.Environ(), "STARGATE_RUN_MAIN=1", "STARGATE_TOKEN="+join)
	var agentLog syncBuffer
	agents.Stdout, agents.Stderr = &agentLog, &agentLog
	if err := agents.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agents.Process.Kill(); agents.Wait() })
	c := client.New(srv.url, admin)
	waitFor(t, "6 nodes to register", 30*time.Second, func() bool {
		nl, err := c.Nodes(ctx)
		return err == nil && len(nl.Nodes) == len(f.Nodes)
	})

	// the site's facility draw, sampled every 250 ms from now on
	var samples []drawSample
	sample := func() drawSample {
		p, err := c.Power(ctx, "site", site.Name)
		if err != nil || len(p.Sites) != 1 {
			t.Fatalf("power: %v %+v", err, p)
		}
		s := drawSample{time.Now(), p.Sites[0].DrawW * site.PUE}
		samples = append(samples, s)
		return s
	}
	watch := func(what string, limit time.Duration, cond func(drawSample) bool) time.Time {
		t.Helper()
		for end := time.Now().Add(limit); ; time.Sleep(250 * time.Millisecond) {
			s := sample()
			if cond(s) {
				return s.at
			}
			if time.Now().After(end) {
				t.Fatalf("timed out after %s waiting for %s (draw %.1f kW)\nagents: %s", limit, what, s.w/1e3, agentLog.String())
			}
		}
	}
	idle := sample().w

	// six training jobs, one a node, priorities 1 to 6 in an order other
	// than their IDs', so that the shed's order is the priorities'
	var ids []string
	prio := map[string]int{}
	for _, p := range []int{4, 1, 6, 2, 5, 3} {
		j, err := c.SubmitSpec(ctx, api.JobSpec{Name: fmt.Sprintf("train-%d", p), Tenant: "lab", Priority: p, Accelerators: 8, PerNode: 8,
			DurationS: 3600, CheckpointS: 600, Power: 0.8, Preemptible: true}, "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
		prio[j.ID] = p
	}
	var first time.Time
	allRunning := func() bool {
		jl, err := c.Jobs(ctx, client.JobQuery{States: []string{"running"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(jl.Jobs) > 0 && first.IsZero() {
			first = time.Now()
		}
		return len(jl.Jobs) == len(ids)
	}
	// the ramp lets three start a minute: the six take two minutes' room
	watch("the six jobs to start", 150*time.Second, func(drawSample) bool { return allRunning() })
	// and the draw to settle: every node reporting its job's load
	var steady float64
	watch("the draw to settle", 20*time.Second, func(s drawSample) bool {
		ok := len(samples) > 8 && math.Abs(s.w-samples[len(samples)-5].w) < 1 && s.w > idle+40e3
		steady = s.w
		return ok
	})

	// the event: a cut to 70% of the site's draw, now, for 40 s
	posted := time.Now()
	ev, err := c.CreateGridEvent(ctx, api.GridEventRequest{Scope: site.Name, DurationS: 40, TargetFraction: 0.7})
	if err != nil {
		t.Fatal(err)
	}
	eventAt := ev.Start.Sub(first)
	var active api.GridEvent
	waitFor(t, "the event to become active", 10*time.Second, func() bool {
		evs, err := c.GridEvents(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.ID == ev.ID && e.State != api.GridScheduled {
				active = e
				return true
			}
		}
		return false
	})
	targetW := active.TargetFraction * active.BaselineMW * 1e6
	if math.Abs(active.BaselineMW*1e6-steady) > 0.02*steady {
		t.Errorf("baseline %.1f kW, the draw before the event %.1f kW", active.BaselineMW*1e3, steady/1e3)
	}
	complied := watch("the draw to come under the target", 30*time.Second, func(s drawSample) bool { return s.w <= targetW })
	t.Logf("baseline %.1f kW, target %.1f kW; under it %.1f s after the event was posted", active.BaselineMW*1e3, targetW/1e3, complied.Sub(posted).Seconds())
	end := ev.Start.Add(time.Duration(ev.DurationS) * time.Second)
	// held from the end of the response window to the end of the event
	for time.Now().Before(end.Add(-time.Second)) {
		if s := sample(); s.at.After(ev.Start.Add(30*time.Second)) && s.w > targetW {
			t.Errorf("%.1f s into the event the site draws %.1f kW, over its target of %.1f kW", s.at.Sub(ev.Start).Seconds(), s.w/1e3, targetW/1e3)
		}
		time.Sleep(250 * time.Millisecond)
	}

	// who was shed, by the server's journal
	capped, stopped := map[string]bool{}, map[string]bool{}
	for _, id := range ids {
		evs, err := c.JobEvents(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if !strings.Contains(e.Message, "grid") {
				continue
			}
			switch e.Kind {
			case "cap":
				capped[id] = true
			case "preempted":
				stopped[id] = true
			}
		}
	}
	if len(stopped) == 0 || len(capped) == 0 {
		t.Errorf("the cut was sized to need both caps and stops: capped %v, stopped %v", capped, stopped)
	}

	// after the event: every job back, uncapped, and the draw near where it was
	watch("the load to return", 120*time.Second, func(s drawSample) bool {
		jl, err := c.Jobs(ctx, client.JobQuery{States: []string{"running"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(jl.Jobs) != len(ids) {
			return false
		}
		for _, j := range jl.Jobs {
			if j.CapW > 0 {
				return false
			}
		}
		return s.w > 0.98*steady
	})
	time.Sleep(2 * time.Second) // the last heartbeats
	sample()

	// no minute's rise faster than the ramp, outside the event
	worst := 0.0
	for i, s := range samples {
		if !s.at.Before(ev.Start) && s.at.Before(end) {
			continue
		}
		for _, r := range samples[:i] {
			if s.at.Sub(r.at) <= time.Minute && (r.at.Before(ev.Start) == s.at.Before(ev.Start)) {
				worst = max(worst, s.w-r.w)
			}
		}
	}
	// 1 kW for the heartbeats' timing: the ramp counts starts at nameplate,
	// so the measured rise stays well under it
	if worst > rampW+1e3 {
		t.Errorf("the draw rose %.1f kW within a minute, over the ramp limit of %.1f kW", worst/1e3, rampW/1e3)
	}
	t.Logf("largest rise within a minute: %.1f kW (ramp %.1f kW); live: capped %d, stopped %d", worst/1e3, rampW/1e3, len(capped), len(stopped))

	// the twin: the same fleet, the same jobs, the same event at the same
	// time from the first start; it must shed the same jobs the same way
	jobs := make([]trace.Job, len(ids))
	for i, id := range ids {
		jobs[i] = trace.Job{ID: id, Tenant: "lab", Duration: 3600, Accelerators: 8, Priority: prio[id]}
	}
	cfg := sim.Default()
	cfg.Engine = engine.Config{Queue: "priority", Sites: "pack", Backoff: time.Minute}
	cfg.Utilization, cfg.Swing, cfg.Checkpoint = 0.8, 0, 10*time.Minute
	cfg.PassInterval, cfg.ReactionDelay = time.Second, time.Second
	cfg.Horizon = eventAt + 5*time.Minute
	cfg.GridEvents = []sim.GridEventSpec{{ID: "cut", ScopeKind: "site", Scope: site.Name, Start: eventAt.Round(time.Second),
		Duration: 40 * time.Second, TargetFraction: 0.7, Kind: engine.Mandatory}}
	s, err := sim.New(f, jobs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	res := s.Run()
	twinCapped, twinStopped := map[string]bool{}, map[string]bool{}
	for _, j := range res.Jobs {
		if j.Caps > 0 {
			twinCapped[j.ID] = true
		}
		if j.Preemptions > 0 {
			twinStopped[j.ID] = true
		}
	}
	g := res.GridEvents[0]
	t.Logf("twin: baseline %.1f kW, target %.1f kW, peak after the response window %.1f kW, capped %d, stopped %d",
		g.BaselineMW*1e3, g.TargetMW*1e3, g.PeakMWAfterResponse*1e3, len(twinCapped), len(twinStopped))
	named := func(m map[string]bool) []string {
		var out []string
		for id := range m {
			out = append(out, fmt.Sprintf("train-%d", prio[id]))
		}
		slices.Sort(out)
		return out
	}
	if !slices.Equal(named(capped), named(twinCapped)) || !slices.Equal(named(stopped), named(twinStopped)) {
		t.Errorf("live capped %v and stopped %v; the twin capped %v and stopped %v",
			named(capped), named(stopped), named(twinCapped), named(twinStopped))
	}
	if math.Abs(g.BaselineMW-active.BaselineMW) > 0.02*active.BaselineMW {
		t.Errorf("the twin's baseline %.1f kW, live %.1f kW", g.BaselineMW*1e3, active.BaselineMW*1e3)
	}
}

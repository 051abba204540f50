package server

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"stargate/api"
	"stargate/store"
	"stargate/store/sqlite"
)

// gridWatch is a scheduler that records the grid events each pass gives it.
type gridWatch struct {
	placeFirst
	seen [][]api.GridEvent
}

func (g *gridWatch) Schedule(ctx context.Context, in ScheduleInput) ([]Decision, error) {
	g.seen = append(g.seen, in.GridEvents)
	return g.placeFirst.Schedule(ctx, in)
}

func TestGridEventLifecycle(t *testing.T) {
	sched := &gridWatch{}
	h := newHarness(t, func(c *Config) { c.Scheduler = sched })
	ctx := context.Background()
	grid, _, err := h.srv.MintToken(ctx, store.RoleGrid, "", "utility")
	if err != nil {
		t.Fatal(err)
	}
	h.tokens["grid"] = grid
	h.register(node1)
	if r := h.do(node1, "POST", NodePath(node1)+"/heartbeat", `{"draw_w":6000}`); r.status != 200 {
		t.Fatal(r.status)
	}
	// a utility's token posts and reads events, nothing else
	r := h.do("grid", "POST", "/v1/grid-events", `{"scope":"lab","target_fraction":0.75,"duration_s":600,"notice_s":10}`)
	var e api.GridEvent
	r.decode(t, &e)
	if r.status != 201 || e.State != store.GridScheduled || e.ScopeKind != "site" || !e.Start.Equal(h.clock.Now().Add(10*time.Second)) ||
		e.Kind != store.GridMandatory || !strings.Contains(e.CreatedBy, "grid token") {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	for _, path := range []string{"/v1/jobs", "/v1/nodes", "/v1/power"} {
		if r := h.do("grid", "GET", path, ""); r.status != 403 {
			t.Errorf("a grid token reads %s: %d", path, r.status)
		}
	}
	if r := h.do("grid", "POST", "/v1/jobs", `{"accelerators":1,"tenant":"acme"}`); r.status != 403 {
		t.Errorf("a grid token submits: %d", r.status)
	}
	if r := h.do("acme", "GET", "/v1/grid-events", ""); r.status != 403 {
		t.Errorf("a user reads grid events: %d", r.status)
	}
	// scheduled: announced to the scheduler, not yet in force
	if err := h.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if last := sched.seen[len(sched.seen)-1]; len(last) != 1 || last[0].State != store.GridScheduled {
		t.Fatalf("the scheduler was given %+v", last)
	}
	// active from its start, with the scope's draw then as its baseline
	h.clock.Advance(10 * time.Second)
	if err := h.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := h.st.GridEvents(ctx, store.GridActive)
	baseline := 6000 * 1.3 / 1e6 // small.yaml: PUE 1.3
	if len(got) != 1 || math.Abs(got[0].BaselineMW-baseline) > 1e-12 || math.Abs(GridTargetMW(got[0])-0.75*baseline) > 1e-12 {
		t.Fatalf("active: %+v", got)
	}
	if last := sched.seen[len(sched.seen)-1]; len(last) != 1 || last[0].State != store.GridActive || last[0].BaselineMW != got[0].BaselineMW {
		t.Errorf("the scheduler was given %+v", last)
	}
	if r := h.do("admin", "GET", "/metrics", ""); !strings.Contains(string(r.body), `stargate_grid_event_target_mw{event="`+e.ID+`",kind="mandatory",scope="site/lab",state="active"} 0.0058`) {
		i := strings.Index(string(r.body), "stargate_grid")
		t.Errorf("metrics lack the active event: %.300s", r.body[max(i, 0):])
	}
	// ended after its duration: no longer given to the scheduler
	h.clock.Advance(600 * time.Second)
	if err := h.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if last := sched.seen[len(sched.seen)-1]; len(last) != 0 {
		t.Errorf("an ended event was given to the scheduler: %+v", last)
	}
	var evs EventList
	h.do("admin", "GET", "/v1/events", "").decode(t, &evs)
	var kinds []string
	for _, ev := range evs.Events {
		if strings.HasPrefix(ev.Kind, "grid-event") {
			kinds = append(kinds, ev.Kind)
		}
	}
	if got := strings.Join(kinds, ","); got != "grid-event,grid-event-active,grid-event-ended" {
		t.Errorf("journal: %s", got)
	}
	// cancelling an ended event changes nothing; a scheduled one is cancelled
	if r := h.do("grid", "DELETE", "/v1/grid-events/"+e.ID, ""); r.status != 200 || !strings.Contains(string(r.body), `"ended"`) {
		t.Errorf("cancel an ended event: %d %s", r.status, r.body)
	}
	var e2 api.GridEvent
	h.do("operator", "POST", "/v1/grid-events", `{"scope":"demo","target_mw":1,"duration_s":60,"notice_s":3600,"kind":"voluntary","price_usd_mwh":300}`).decode(t, &e2)
	if e2.ScopeKind != "region" || e2.Kind != store.GridVoluntary {
		t.Errorf("a region's voluntary event: %+v", e2)
	}
	if r := h.do("operator", "DELETE", "/v1/grid-events/"+e2.ID, ""); r.status != 200 || !strings.Contains(string(r.body), `"cancelled"`) {
		t.Errorf("cancel: %d %s", r.status, r.body)
	}
}

func TestGridEventRefused(t *testing.T) {
	h := newHarness(t, nil)
	for _, bad := range []string{
		`{"scope":"moon","target_mw":1,"duration_s":60}`,
		`{"scope":"lab","duration_s":60}`,
		`{"scope":"lab","target_mw":1,"target_fraction":0.5,"duration_s":60}`,
		`{"scope":"lab","target_fraction":1.5,"duration_s":60}`,
		`{"scope":"lab","target_mw":-1,"duration_s":60}`,
		`{"scope":"lab","target_mw":1,"duration_s":0}`,
		`{"scope":"lab","target_mw":1,"duration_s":9999999}`,
		`{"scope":"lab","target_mw":1,"duration_s":60,"kind":"maybe"}`,
		`{"scope":"lab","target_mw":1,"duration_s":60,"scope_kind":"region"}`,
		`{"scope":"lab","target_mw":1,"duration_s":60,"start":"2020-01-01T00:00:00Z"}`,
		`{"scope":"lab","target_mw":1,"duration_s":60,"notice_s":-5}`,
	} {
		if r := h.do("admin", "POST", "/v1/grid-events", bad); r.status != 400 {
			t.Errorf("%s: %d %s", bad, r.status, r.body)
		}
	}
}

// A grid event outlives its server: a new server on the same store (a
// restart, or the next leader) gives its scheduler the event in force,
// with the baseline recorded before, and ends it on time.
func TestGridEventKeptAcrossRestart(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	clock := &fakeClock{t: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
	h1, kill := startOn(t, st, clock, func(c *Config) { c.ID, c.Scheduler, c.LeaderTTL = "first", &gridWatch{}, 3*time.Second })
	h1.register(node1)
	if r := h1.do(node1, "POST", NodePath(node1)+"/heartbeat", `{"draw_w":6000}`); r.status != 200 {
		t.Fatal(r.status)
	}
	var e api.GridEvent
	h1.do("operator", "POST", "/v1/grid-events", `{"scope":"lab","target_fraction":0.75,"duration_s":600}`).decode(t, &e)
	if err := h1.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	kill()
	clock.Advance(5 * time.Second) // past the first's lease
	sched := &gridWatch{}
	h2, _ := startOn(t, st, clock, func(c *Config) { c.ID, c.Scheduler = "second", sched })
	h2.tokens[node1] = h1.tokens[node1]
	// the draw has changed since: the baseline is the one recorded at the start
	if r := h2.do(node1, "POST", NodePath(node1)+"/heartbeat", `{"draw_w":3000}`); r.status != 200 {
		t.Fatal(r.status)
	}
	if err := h2.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	baseline := 6000 * 1.3 / 1e6
	if last := sched.seen[len(sched.seen)-1]; len(last) != 1 || last[0].ID != e.ID || last[0].State != store.GridActive || math.Abs(last[0].BaselineMW-baseline) > 1e-12 {
		t.Fatalf("after the restart the scheduler was given %+v, want %s active with a baseline of %g MW", last, e.ID, baseline)
	}
	clock.Advance(600 * time.Second)
	if err := h2.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.GridEvents(ctx, store.GridEnded); len(got) != 1 || got[0].ID != e.ID {
		t.Errorf("the event did not end on time after the restart: %+v", got)
	}
}

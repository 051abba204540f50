package engine

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"stargate/fleet"
)

// Grid events: a grid operator's call to cut the draw of some sites for a
// while. They are engine inputs like the queue and the snapshot: the
// driver sets them (SetGridEvents), the engine plans the shed (Schedule
// stops admitting flexible work in the scope, Control caps and stops
// running work) and the driver carries it out. Everything here is in
// facility watts (IT draw × the site's PUE), the figure a utility meters.

// GridKind says whether an event must be met.
type GridKind uint8

// The kinds of grid event.
const (
	// Mandatory events are met whatever the work shed costs (an
	// emergency curtailment, Texas SB 6's remote disconnection).
	Mandatory GridKind = iota
	// Voluntary events (demand response) are met as far as the price
	// offered pays for the work shed (see GridConfig).
	Voluntary
)

var gridKindNames = [...]string{"mandatory", "voluntary"}

// String returns the kind's name.
func (k GridKind) String() string {
	if int(k) < len(gridKindNames) {
		return gridKindNames[k]
	}
	return "grid-kind?"
}

// ParseGridKind returns the GridKind named s.
func ParseGridKind(s string) (GridKind, error) {
	for i, n := range gridKindNames {
		if n == s {
			return GridKind(i), nil
		}
	}
	return 0, fmt.Errorf("engine: unknown grid event kind %q (mandatory, voluntary)", s)
}

// GridEvent asks the sites of its scope to draw at most TargetW, all
// together and at the facility, from Start to End. It is announced Notice
// before Start: from then on the engine starts no flexible work in the
// scope that would still run at Start and take it over the target.
type GridEvent struct {
	ID string
	// Sites are the scope: indexes in fleet.Sites (one site, or a
	// region's).
	Sites      []int
	Start, End time.Time
	Notice     time.Duration
	// TargetW is the most the scope may draw at the facility, in watts:
	// the sum over its sites of IT draw × PUE.
	TargetW float64
	Kind    GridKind
	// PriceUSDPerMWh is what the grid pays for energy not drawn (what a
	// voluntary event's shed is weighed against).
	PriceUSDPerMWh float64
}

// Announced is when the event was signalled: Start − Notice.
func (ev *GridEvent) Announced() time.Time { return ev.Start.Add(-ev.Notice) }

// GridConfig says how the engine sheds for grid events.
//
// The value model, for voluntary events: an accelerator-hour of a
// flexible job's work is worth ValueUSDPerAcceleratorHour × (1 +
// priority) (priority below 0 counts as 0). A step of the shed is taken
// when what the grid pays for the facility watts it saves, an hour,
// covers the value of the work it costs an hour: a cap costs the job's
// slowdown, 1 − (cap / expected draw)^(1/3) of its accelerator-hours (the
// cube-root law of DVFS); a preemption costs all of them, plus the work
// lost since the job's last checkpoint spread over the rest of the event;
// keeping a job out of the scope costs its accelerator-hours. Mandatory
// events take every step they need.
type GridConfig struct {
	// CapFraction is the cap, as a fraction of TDP, put on each
	// accelerator of a job capped for a grid event (default: the
	// controller's Capping.MinCapFraction).
	CapFraction float64
	// Margin is how far under its target the engine aims a scope, as a
	// fraction of the target (default 0.03): the drivers' draw is
	// measured, the engine's expected, and the gap is the margin's
	// to cover. Control sheds once the scope is estimated over the target
	// less half the margin, down to the aim; caps are lifted during an
	// event only while the scope stays twice the margin under its target,
	// so that they do not flap.
	Margin float64
	// ValueUSDPerAcceleratorHour is the value of an accelerator-hour of
	// priority-0 work (default 2, about what an hour of a data-center GPU
	// rents for in 2025).
	ValueUSDPerAcceleratorHour float64
	// Naive sheds as a plain controller would, for comparison: running
	// jobs in the scope are stopped lowest priority first (then by ID)
	// until the target is met, with no caps, no moves and no regard for
	// flexibility or lost work. Admission is the same.
	Naive bool
}

func (c GridConfig) withDefaults(minCap float64) GridConfig {
	if c.CapFraction == 0 {
		c.CapFraction = minCap
	}
	if c.Margin == 0 {
		c.Margin = 0.03
	}
	if c.ValueUSDPerAcceleratorHour == 0 {
		c.ValueUSDPerAcceleratorHour = 2
	}
	return c
}

func (c GridConfig) validate() error {
	var errs []error
	if !(c.CapFraction > 0 && c.CapFraction <= 1) {
		errs = append(errs, fmt.Errorf("engine: grid cap fraction must be in (0, 1], got %g", c.CapFraction))
	}
	if !(c.Margin >= 0 && c.Margin < 0.5) {
		errs = append(errs, fmt.Errorf("engine: grid margin must be in [0, 0.5), got %g", c.Margin))
	}
	if !(c.ValueUSDPerAcceleratorHour >= 0) || math.IsInf(c.ValueUSDPerAcceleratorHour, 0) {
		errs = append(errs, fmt.Errorf("engine: value of an accelerator-hour must be >= 0 and finite, got %g", c.ValueUSDPerAcceleratorHour))
	}
	return errors.Join(errs...)
}

// ErrInvalidGridEvent is wrapped by errors about a grid event that cannot
// be accepted.
var ErrInvalidGridEvent = errors.New("invalid grid event")

// SetGridEvents replaces the grid events the engine plans for with evs
// (copied), on the fleet of snapshot s. An event takes effect when it is
// announced and lapses at its End: a driver may keep past and future
// events in the list, or set only those in force; one whose target is
// known only at its start (a fraction of the scope's draw then) is set
// again with it. Removing an event (cancelled) lifts its shed, within
// the ramp limits. It reports every problem at once, wrapping
// ErrInvalidGridEvent, and then changes nothing.
func (e *Engine) SetGridEvents(s *Snapshot, evs []GridEvent) error {
	var errs []error
	ids := make(map[string]bool, len(evs))
	for i := range evs {
		ev := &evs[i]
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("engine: grid event %q: %s: %w", ev.ID, fmt.Sprintf(format, args...), ErrInvalidGridEvent))
		}
		if ids[ev.ID] {
			bad("its ID is given twice")
		}
		ids[ev.ID] = true
		if len(ev.Sites) == 0 {
			bad("no site in its scope")
		}
		for _, si := range ev.Sites {
			if si < 0 || si >= len(s.f.Sites) {
				bad("no site %d in the fleet", si)
			}
		}
		if !ev.End.After(ev.Start) {
			bad("must end after it starts")
		}
		if ev.Notice < 0 {
			bad("notice must be >= 0")
		}
		if !(ev.TargetW >= 0) || math.IsInf(ev.TargetW, 0) {
			bad("target must be >= 0 W and finite, got %g", ev.TargetW)
		}
		if int(ev.Kind) >= len(gridKindNames) {
			bad("unknown kind %d", ev.Kind)
		}
		if !(ev.PriceUSDPerMWh >= 0) || math.IsInf(ev.PriceUSDPerMWh, 0) {
			bad("price must be >= 0 and finite, got %g", ev.PriceUSDPerMWh)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	g := e.gridOf(s)
	s.trackSites()
	g.events = make([]GridEvent, len(evs))
	for i, ev := range evs {
		ev.Sites = slices.Clone(ev.Sites)
		slices.Sort(ev.Sites)
		ev.Sites = slices.Compact(ev.Sites)
		g.events[i] = ev
	}
	sort.SliceStable(g.events, func(a, b int) bool { return g.events[a].Start.Before(g.events[b].Start) })
	g.stale = true
	return nil
}

// SetGridTarget changes the target of the event with this ID, as a
// driver does when a fractional target becomes known at the event's
// start; it is SetGridEvents with one target changed, without copying the
// others. It fails for an unknown ID or a target that is not >= 0 and
// finite.
func (e *Engine) SetGridTarget(id string, targetW float64) error {
	if !(targetW >= 0) || math.IsInf(targetW, 0) {
		return fmt.Errorf("engine: grid event %q: target must be >= 0 W and finite, got %g: %w", id, targetW, ErrInvalidGridEvent)
	}
	if e.grid != nil {
		for i := range e.grid.events {
			if e.grid.events[i].ID == id {
				e.grid.events[i].TargetW = targetW
				return nil
			}
		}
	}
	return fmt.Errorf("engine: no grid event %q: %w", id, ErrInvalidGridEvent)
}

// GridEvents returns the events the engine plans for, by start.
func (e *Engine) GridEvents() []GridEvent {
	if e.grid == nil {
		return nil
	}
	return slices.Clone(e.grid.events)
}

// gridState is the engine's grid bookkeeping for one snapshot's fleet.
type gridState struct {
	s      *Snapshot
	events []GridEvent // by start
	// the events in force (announced, not ended) as of at, valid until
	// next; stale forces a recount
	at, next time.Time
	stale    bool
	inForce  []int32   // indexes in events
	siteEv   [][]int32 // per site: positions in inForce of the events covering it
	// k calibrates, per site, the jobs' expected draw to the measured one
	// (see calibrate); 1 until a draw is measured.
	k []float64
	// the sites' ramp limits (facility watts a minute, 0 = none) and the
	// rises of the last minute
	rampW []float64
	rises []rampLog
	ramps bool // some site has a ramp limit
	// margin is GridConfig.Margin
	margin float64
	// weighed is when each voluntary event's shed was last weighed
	weighed map[string]time.Time
}

// gridOf returns the grid bookkeeping for s, building it anew for a new
// snapshot (events are kept).
func (e *Engine) gridOf(s *Snapshot) *gridState {
	if e.grid != nil && e.grid.s == s {
		return e.grid
	}
	n := len(s.f.Sites)
	g := &gridState{s: s, margin: e.cfg.Grid.Margin, weighed: map[string]time.Time{}, k: make([]float64, n), rampW: make([]float64, n), rises: make([]rampLog, n), siteEv: make([][]int32, n), stale: true}
	for i := range g.k {
		g.k[i] = 1
	}
	for i := range s.f.Sites {
		if r := s.f.Sites[i].RampMWPerMin; r > 0 {
			g.rampW[i] = r * 1e6
			g.ramps = true
		}
	}
	if e.grid != nil {
		g.events = e.grid.events
	}
	e.grid = g
	return g
}

// update recounts the events in force at now when now left the span the
// last count holds for.
func (g *gridState) update(now time.Time) {
	if !g.stale && !now.Before(g.at) && now.Before(g.next) {
		return
	}
	g.stale, g.at = false, now
	g.next = time.Unix(1<<62, 0)
	g.inForce = g.inForce[:0]
	for i := range g.siteEv {
		g.siteEv[i] = g.siteEv[i][:0]
	}
	for i := range g.events {
		ev := &g.events[i]
		if ann := ev.Announced(); now.Before(ann) {
			if ann.Before(g.next) {
				g.next = ann
			}
			continue
		}
		if !now.Before(ev.End) {
			continue
		}
		if ev.End.Before(g.next) {
			g.next = ev.End
		}
		if now.Before(ev.Start) && ev.Start.Before(g.next) {
			g.next = ev.Start
		}
		pos := int32(len(g.inForce))
		g.inForce = append(g.inForce, int32(i))
		for _, si := range ev.Sites {
			g.siteEv[si] = append(g.siteEv[si], pos)
		}
	}
}

// active reports whether the event is past its start (and in force).
func (ev *GridEvent) active(now time.Time) bool { return !now.Before(ev.Start) && now.Before(ev.End) }

// dyn is site si's expected draw above idle: its jobs' admitted draw,
// less what their caps save.
func (s *Snapshot) dyn(si int) float64 {
	return float64(s.draw[fleet.LevelSite][si]-s.idleAll[si]) - s.saveW[si]
}

// siteEst is site si's estimated facility draw: the idle draw of its
// nodes that are not down and its jobs' expected draw above idle,
// calibrated, times its PUE.
func (g *gridState) siteEst(si int) float64 {
	s := g.s
	return s.f.Sites[si].PUE * (float64(s.idleUp[si]) + g.k[si]*s.dyn(si))
}

// scopeEst is the estimated facility draw of an event's scope.
func (g *gridState) scopeEst(ev *GridEvent) float64 {
	w := 0.0
	for _, si := range ev.Sites {
		w += g.siteEst(si)
	}
	return w
}

// facility is what w watts of a job's expected draw above idle at site si
// come to at the facility, calibrated.
func (g *gridState) facility(si int32, w float64) float64 {
	return g.s.f.Sites[si].PUE * g.k[si] * w
}

// calibrate sets the k of each site measured since the last call from
// its measured draw: k scales the jobs' expected draw above idle to what
// the site measures above its idle draw, within [1/4, 4], so that the
// engine's estimate of a site equals its measured draw when it is taken.
// Other sites keep their k: a measurement is only good for the jobs that
// ran when it was taken.
func (g *gridState) calibrate() {
	s := g.s
	for si := range g.k {
		if !s.fresh[si] {
			continue
		}
		s.fresh[si] = false
		m := float64(s.measured[fleet.LevelSite][si])
		d := s.dyn(si)
		if m <= 0 || d <= 0 {
			continue
		}
		g.k[si] = min(max((m-float64(s.idleUp[si]))/d, 0.25), 4)
	}
}

// enforcing reports whether placements must be checked against events or
// ramps at all.
func (g *gridState) enforcing() bool { return g != nil && (len(g.inForce) > 0 || g.ramps) }

// aim is the draw the engine steers an event's scope to.
func (g *gridState) aim(ev *GridEvent) float64 { return ev.TargetW * (1 - g.margin) }

// gridNow returns the grid bookkeeping of s brought to now, or nil when
// nothing is to be enforced (no event in force, no ramp limit).
func (e *Engine) gridNow(s *Snapshot, now time.Time) *gridState {
	if e.grid == nil && !anyRamp(s.f) {
		return nil
	}
	g := e.gridOf(s)
	g.update(now)
	if !g.enforcing() {
		return nil
	}
	return g
}

func anyRamp(f *fleet.Fleet) bool {
	for i := range f.Sites {
		if f.Sites[i].RampMWPerMin > 0 {
			return true
		}
	}
	return false
}

// mayUseScope reports whether job j may run at a site in the scope of an
// event of mask.
func (e *Engine) mayUseScope(j *Job, mask uint64) bool {
	for _, pi := range e.eligible(j) {
		if e.grid.inScope(e.snap.pools[pi].site, mask) {
			return true
		}
	}
	return false
}

// gateMask returns the events in force that keep job j out of their
// scope beyond its target, as bits of their positions in inForce (from
// 63 on, bit 63): none for work that is not flexible; during an
// announced event's notice, none for a job expected to end before it
// starts; for a voluntary event, none when the price does not pay for
// keeping the job out.
func (e *Engine) gateMask(j *Job, now time.Time) uint64 {
	g := e.grid
	if g == nil || len(g.inForce) == 0 || !j.IsFlexible() {
		return 0
	}
	var m uint64
	for pos, i := range g.inForce {
		ev := &g.events[i]
		if now.Before(ev.Start) && j.Duration > 0 && !now.Add(j.Duration).After(ev.Start) {
			continue
		}
		if ev.Kind == Voluntary && !e.worthGate(j, ev) {
			continue
		}
		m |= 1 << min(pos, 63)
	}
	return m
}

// admit checks a start at site si that may raise its facility draw by
// rise watts at most (its nameplate) against the events in force there
// that gate the job (mask) and against the site's ramp. A job's draw is
// only expected: counting its nameplate keeps the admitted work under
// the aim whatever it draws.
func (g *gridState) admit(si int32, rise float64, mask uint64, now time.Time) (outcome, bool) {
	if mask != 0 {
		for _, pos := range g.siteEv[si] {
			if mask&(1<<min(pos, 63)) == 0 {
				continue
			}
			ev := &g.events[g.inForce[pos]]
			if g.scopeEst(ev)+rise > g.aim(ev) {
				return outcome{code: Grid, level: fleet.LevelSite, dom: si}, false
			}
		}
	}
	if !g.rampOK(si, rise, now) {
		return outcome{code: Ramp, level: fleet.LevelSite, dom: si}, false
	}
	return outcome{}, true
}

// inScope reports whether site si is in the scope of an event of mask.
func (g *gridState) inScope(si int32, mask uint64) bool {
	for _, pos := range g.siteEv[si] {
		if mask&(1<<min(pos, 63)) != 0 {
			return true
		}
	}
	return false
}

// GridScope is how a grid event in force stands, as the engine sees it.
type GridScope struct {
	ID string
	// Active: past its start; else announced.
	Active bool
	// EstimatedW is the scope's estimated facility draw (calibrated to
	// the last measured draw, see Control) and TargetW the event's.
	EstimatedW, TargetW float64
	// OnlyProtected: no flexible job runs in the scope, so nothing the
	// engine may still shed is left (protected jobs are capped at most).
	OnlyProtected bool
}

// GridScopes returns the events in force at now, by start, with their
// scopes' estimated draw: what a driver shows or reports.
func (e *Engine) GridScopes(s *Snapshot, now time.Time) []GridScope {
	if e.grid == nil {
		return nil
	}
	g := e.gridOf(s)
	g.update(now)
	out := make([]GridScope, 0, len(g.inForce))
	for _, i := range g.inForce {
		ev := &g.events[i]
		gs := GridScope{ID: ev.ID, Active: ev.active(now), EstimatedW: g.scopeEst(ev), TargetW: ev.TargetW, OnlyProtected: true}
		for _, si := range ev.Sites {
			for _, a := range s.siteAllocs[si] {
				if a.Job.IsFlexible() {
					gs.OnlyProtected = false
				}
			}
		}
		out = append(out, gs)
	}
	return out
}

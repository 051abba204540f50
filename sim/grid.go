package sim

// Grid events in a run: the simulator hands them to the engine, carries
// out its shed (caps, stops, moves), and measures each event at the
// scope's facility meter: the draw against the target after the response
// window, the energy not drawn and what it saved, the work it slowed and
// lost, and the share of inference demand still served.

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"time"

	"stargate/energy"
	"stargate/engine"
)

// DefaultResponseWindow is how long a scope has, from an event's start,
// to come under its target before time over it counts (the 30 s,
// what a live deployment must meet).
const DefaultResponseWindow = 30 * time.Second

// GridEventResult is what one grid event did, for the JSON (grid_events)
// and the table. Draws are at the facility: IT draw × PUE, summed over the
// scope's sites, peak of the compute/communication swing.
type GridEventResult struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	Scope string `json:"scope"` // "site/NAME" or "region/NAME"
	// StartS and DurationS place the event in the run.
	StartS    float64 `json:"start_s"`
	DurationS float64 `json:"duration_s"`
	// BaselineMW is the scope's draw at the start; TargetMW the most it
	// may draw.
	BaselineMW float64 `json:"baseline_mw"`
	TargetMW   float64 `json:"target_mw"`
	// PeakMWAfterResponse is the highest draw from the end of the response
	// window to the end of the event, and SecondsOverTarget the time over
	// the target then.
	PeakMWAfterResponse float64 `json:"peak_mw_after_response"`
	SecondsOverTarget   float64 `json:"seconds_over_target"`
	// TimeToComplyS is when, from the start, the draw first came to the
	// target or under (0 if it already was, -1 if never).
	TimeToComplyS float64 `json:"time_to_comply_s"`
	// EnergyShedMWh is the energy not drawn against the baseline (the
	// scope's mean draw at the start, held for the event).
	EnergyShedMWh float64 `json:"energy_shed_mwh"`
	// AcceleratorHoursSlowed are accelerator-hours run under a cap in the
	// scope during the event; AcceleratorHoursLost the work thrown away by
	// the jobs stopped for it (since their last checkpoints).
	AcceleratorHoursSlowed float64 `json:"accelerator_hours_slowed"`
	AcceleratorHoursLost   float64 `json:"accelerator_hours_lost"`
	// JobsPreempted counts jobs stopped for the event (moves included);
	// JobsMoved the jobs that started outside the scope because the event
	// kept them out of it (stopped to move, or pending).
	JobsPreempted int `json:"jobs_preempted"`
	JobsMoved     int `json:"jobs_moved"`
	// InferenceServed is the share of the demand of the inference services
	// running in the scope at the start that they served during the event
	// (a capped service serves at its cube-root speed, a stopped one not
	// at all); 1 when there were none.
	InferenceServed float64 `json:"inference_served"`
	// CostAvoidedUSD is the energy not bought at the sites' prices plus
	// what the grid paid for it at the event's price; EmissionsAvoidedT the
	// emissions of that energy at the sites' carbon intensity.
	CostAvoidedUSD    float64 `json:"cost_avoided_usd"`
	EmissionsAvoidedT float64 `json:"emissions_avoided_t"`
	// OnlyProtectedLeft: the scope was over its target after the response
	// window with no flexible job left to shed, only protected work.
	OnlyProtectedLeft bool `json:"only_protected_left"`

	// Trace is the scope's draw (MW) at times (s) around the event, for
	// the report's chart.
	Trace [][2]float64 `json:"-"`
	sites []int        // the scope
}

// gridRun is one event of a run as the simulator follows it.
type gridRun struct {
	spec                   GridEventSpec
	ev                     engine.GridEvent
	sites                  []int
	announce, start, after time.Duration
	end                    time.Duration
	active, past           bool // started (and not ended); past the response window
	targetW                float64
	baseMean               []float64 // facility mean W at the start, by scope site
	over                   bool
	overSince              time.Duration
	inference              []int // services running in the scope at the start
	moved                  map[int]bool
	res                    GridEventResult
	traceStep              time.Duration
	traceAt                time.Duration
	infDemand, infServed   float64 // accelerator-seconds of inference load
	lastAsk                time.Duration
}

// grid phases: the event heap's node field of an evGrid event. An event
// is watched (its scope's draw traced for the report) from half an hour
// before its announcement to half an hour after its end.
const (
	gridWatch int32 = iota
	gridAnnounce
	gridStart
	gridResponse
	gridEnd
	gridForget
)

// gridMargin is how long before its announcement and after its end an
// event's scope is traced.
const gridMargin = 30 * time.Minute

// initGrid resolves the events' scopes and gives them to the engine.
func (s *Sim) initGrid() error {
	if len(s.cfg.GridEvents) == 0 {
		return nil
	}
	s.gridTrigger = 1 - s.eng.Config().Grid.Margin/2
	s.gridBySite = make([][]int, len(s.f.Sites))
	s.siteCapped = make([]int, len(s.f.Sites))
	ids := map[string]bool{}
	for k, spec := range s.cfg.GridEvents {
		if spec.ID == "" {
			spec.ID = fmt.Sprintf("event-%d", k+1)
		}
		if ids[spec.ID] {
			return fmt.Errorf("sim: grid event %s is given twice", spec.ID)
		}
		ids[spec.ID] = true
		sites, err := gridSites(s.f, &spec)
		if err != nil {
			return err
		}
		g := gridRun{spec: spec, sites: sites, start: spec.Start, end: spec.Start + spec.Duration,
			announce: max(0, spec.Start-spec.Notice), moved: map[int]bool{}}
		g.after = g.start + s.cfg.ResponseWindow
		g.ev = engine.GridEvent{ID: spec.ID, Sites: sites, Start: s.cfg.Start.Add(g.start), End: s.cfg.Start.Add(g.end),
			Notice: spec.Notice, TargetW: spec.TargetMW * 1e6, Kind: spec.Kind, PriceUSDPerMWh: spec.PriceUSDPerMWh}
		g.res = GridEventResult{ID: spec.ID, Kind: spec.Kind.String(), Scope: spec.ScopeKind + "/" + spec.Scope,
			StartS: spec.Start.Seconds(), DurationS: spec.Duration.Seconds(), TimeToComplyS: -1, InferenceServed: 1, sites: sites}
		g.traceStep = max(time.Second, (spec.Duration+spec.Notice+time.Hour)/400)
		s.grid = append(s.grid, g)
	}
	return s.setGrid()
}

// setGrid gives the engine the events, a fractional target taken from
// the scope's draw now (the start of the run) until the event is
// announced (setTarget).
func (s *Sim) setGrid() error {
	evs := make([]engine.GridEvent, len(s.grid))
	for k := range s.grid {
		g := &s.grid[k]
		if g.spec.TargetMW == 0 {
			g.ev.TargetW = g.spec.TargetFraction * s.scopePeakW(g)
		}
		evs[k] = g.ev
	}
	if err := s.eng.SetGridEvents(s.snap, evs); err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	return nil
}

// setTarget gives the engine a fractional target as known now: from the
// scope's draw now until the event starts, then from its baseline.
func (s *Sim) setTarget(g *gridRun) {
	if g.spec.TargetMW != 0 {
		return
	}
	g.ev.TargetW = g.targetW
	if !g.active {
		g.ev.TargetW = g.spec.TargetFraction * s.scopePeakW(g)
	}
	if err := s.eng.SetGridTarget(g.ev.ID, g.ev.TargetW); err != nil {
		panic(err) // the events were given to the engine when the run was made
	}
}

// pushGrid puts the events' phases on the event heap.
func (s *Sim) pushGrid() {
	for k := range s.grid {
		g := &s.grid[k]
		for _, ph := range []struct {
			at    time.Duration
			phase int32
		}{{max(0, g.announce-gridMargin), gridWatch}, {g.announce, gridAnnounce}, {g.start, gridStart}, {g.after, gridResponse},
			{g.end, gridEnd}, {g.end + gridMargin, gridForget}} {
			s.ev.push(event{at: ph.at, kind: evGrid, job: int32(k), node: ph.phase})
		}
	}
}

// scopePeakW is the scope's facility draw now: each site's peak (mean and
// swing) times its PUE.
func (s *Sim) scopePeakW(g *gridRun) float64 {
	w := 0.0
	for _, si := range g.sites {
		w += (s.dom[0][si].mean + s.dom[0][si].amp) * s.f.Sites[si].PUE
	}
	return w
}

// gridPhase moves event k to a phase.
func (s *Sim) gridPhase(k int, phase int32) {
	g := &s.grid[k]
	switch phase {
	case gridWatch:
		for _, si := range g.sites {
			s.gridBySite[si] = append(s.gridBySite[si], k)
		}
		s.gridTrace(g, s.scopePeakW(g), true)
	case gridForget:
		for _, si := range g.sites {
			s.gridBySite[si] = slices.DeleteFunc(s.gridBySite[si], func(x int) bool { return x == k })
		}
	case gridAnnounce:
		if !g.active {
			s.setTarget(g)
		}
		s.wantPass()
	case gridStart:
		base := s.scopePeakW(g)
		g.res.BaselineMW = base / 1e6
		g.targetW = g.spec.TargetMW * 1e6
		if g.spec.TargetMW == 0 {
			g.targetW = g.spec.TargetFraction * base
		}
		g.res.TargetMW = g.targetW / 1e6
		g.baseMean = make([]float64, len(g.sites))
		for i, si := range g.sites {
			g.baseMean[i] = s.dom[0][si].mean * s.f.Sites[si].PUE
		}
		for i := s.nTrace; i < len(s.jobs); i++ {
			if r := &s.runs[i]; r.state == running && g.holds(s.f.SiteOfNode(int(s.slots[i][0].Node))) {
				g.inference = append(g.inference, i)
			}
		}
		g.active = true
		s.gridActive = append(s.gridActive, k)
		s.setTarget(g)
		s.gridTouch(g)
		s.wantControl(s.now + s.cfg.ReactionDelay)
	case gridResponse:
		g.past = true
		s.gridTouch(g)
	case gridEnd:
		if g.over {
			g.res.SecondsOverTarget += (s.now - g.overSince).Seconds()
			g.over = false
		}
		g.active, g.past = false, false
		s.gridActive = slices.DeleteFunc(s.gridActive, func(x int) bool { return x == k })
		s.gridTrace(g, s.scopePeakW(g), true)
		s.wantControl(s.now)
		s.wantPass()
	}
}

func (g *gridRun) holds(si int) bool {
	for _, x := range g.sites {
		if x == si {
			return true
		}
	}
	return false
}

// gridSite notes a change of site si's draw for the events watched over
// it.
func (s *Sim) gridSite(si int32) {
	for _, k := range s.gridBySite[si] {
		s.gridTouch(&s.grid[k])
	}
}

// gridTouch measures an event's scope now: compliance, the peak after
// the response window and time over the target; and asks the controller
// to act when the scope is over the engine's aim.
func (s *Sim) gridTouch(g *gridRun) {
	w := s.scopePeakW(g)
	s.gridTrace(g, w, false)
	if !g.active {
		return
	}
	if g.res.TimeToComplyS < 0 && w <= g.targetW*(1+1e-9) {
		g.res.TimeToComplyS = (s.now - g.start).Seconds()
	}
	if w > g.targetW*s.gridTrigger {
		// once nothing flexible was left over the target, or for a
		// voluntary event (met as far as its price pays), ask again only
		// each minute
		at := s.now + s.cfg.ReactionDelay
		if g.res.OnlyProtectedLeft || g.spec.Kind == engine.Voluntary {
			at = max(at, g.lastAsk+time.Minute)
		}
		g.lastAsk = at
		s.wantControl(at)
	}
	if !g.past {
		return
	}
	g.res.PeakMWAfterResponse = max(g.res.PeakMWAfterResponse, w/1e6)
	isOver := w > g.targetW*(1+1e-9)
	if isOver != g.over {
		if isOver {
			g.overSince = s.now
		} else {
			g.res.SecondsOverTarget += (s.now - g.overSince).Seconds()
		}
		g.over = isOver
	}
	if isOver && !g.res.OnlyProtectedLeft {
		for _, sc := range s.eng.GridScopes(s.snap, s.cfg.Start.Add(s.now)) {
			if sc.ID == g.ev.ID && sc.OnlyProtected {
				g.res.OnlyProtectedLeft = true
			}
		}
	}
}

// gridTrace records the scope's draw for the report, at most one point a
// traceStep, and the point before a change so that steps show.
func (s *Sim) gridTrace(g *gridRun, w float64, force bool) {
	if s.now < g.announce-gridMargin || s.now > g.end+gridMargin {
		return
	}
	if !force && len(g.res.Trace) > 0 && s.now-g.traceAt < g.traceStep {
		return
	}
	g.traceAt = s.now
	g.res.Trace = append(g.res.Trace, [2]float64{s.now.Seconds(), w / 1e6})
}

// gridAdvance integrates the active events over [a, b): energy shed and
// what it saved, accelerator-hours under caps, inference served.
func (s *Sim) gridAdvance(a, b time.Duration) {
	dt := (b - a).Seconds()
	for _, k := range s.gridActive {
		g := &s.grid[k]
		abs := s.cfg.Start.Add(a)
		h := energy.HourOfYear(abs)
		for i, si := range g.sites {
			site := &s.f.Sites[si]
			shedMWh := (g.baseMean[i] - s.dom[0][si].mean*site.PUE) / 1e6 * dt / 3600
			price, carbon := energy.Blend(site.Energy, s.dom[0][si].mean*site.PUE/1e6, h)
			g.res.EnergyShedMWh += shedMWh
			g.res.CostAvoidedUSD += shedMWh * (price + g.spec.PriceUSDPerMWh)
			g.res.EmissionsAvoidedT += shedMWh * carbon / 1e3
			g.res.AcceleratorHoursSlowed += float64(s.siteCapped[si]) * dt / 3600
		}
		for _, i := range g.inference {
			r := &s.runs[i]
			demand := r.util * float64(s.jobs[i].Accelerators) * dt
			g.infDemand += demand
			if r.state == running {
				g.infServed += demand * s.capSpeed(i)
			}
		}
	}
}

// capSpeed is the share of full speed job i runs at under its cap, by the
// cube-root law (1 uncapped).
func (s *Sim) capSpeed(i int) float64 {
	r := &s.runs[i]
	if r.capW <= 0 || len(s.slots[i]) == 0 {
		return 1
	}
	n := int(s.slots[i][0].Node)
	m := s.f.Nodes[n].Model
	demand := s.f.NodeAccelerator(n).IdleW + s.swingW[m]*(r.util+min(s.cfg.Swing, 1-r.util))
	if r.capW >= demand {
		return 1
	}
	return math.Cbrt(r.capW / demand)
}

// gridStopped books a job stopped by a grid decision at site si: lost
// accelerator-seconds of work.
func (s *Sim) gridStopped(si int32, lost float64) {
	for _, k := range s.gridBySite[si] {
		if g := &s.grid[k]; g.active {
			g.res.JobsPreempted++
			g.res.AcceleratorHoursLost += lost / 3600
		}
	}
}

// gridMoved books a job placed at site si because an event kept it out of
// its scope.
func (s *Sim) gridMoved(i int, si int32) {
	for _, k := range s.gridActive {
		if g := &s.grid[k]; !g.holds(int(si)) && !g.moved[i] {
			g.moved[i] = true
			g.res.JobsMoved++
		}
	}
}

// gridCapCount keeps the capped accelerators of each site.
func (s *Sim) gridCapCount(i int, sign int) {
	if s.siteCapped == nil {
		return
	}
	for _, sl := range s.slots[i] {
		s.siteCapped[s.f.SiteOfNode(int(sl.Node))] += sign * bits.OnesCount64(sl.Mask)
	}
}

// gridResults closes the events for the result.
func (s *Sim) gridResults() []GridEventResult {
	if len(s.grid) == 0 {
		return nil
	}
	out := make([]GridEventResult, len(s.grid))
	for k := range s.grid {
		g := &s.grid[k]
		if g.over {
			g.res.SecondsOverTarget += (s.now - g.overSince).Seconds()
			g.over = false
		}
		if g.infDemand > 0 {
			g.res.InferenceServed = g.infServed / g.infDemand
		}
		out[k] = g.res
	}
	return out
}

// pinServices spreads the inference services over the sites in
// proportion to their accelerators (see Services).
func (s *Sim) pinServices() {
	sv := s.cfg.Services
	if sv == nil || sv.Count == 0 {
		return
	}
	held := make([]int, len(s.f.Sites))
	s.serviceSite = make([]int, sv.Count)
	for k := range s.serviceSite {
		best, share := 0, math.Inf(1)
		for si := range s.f.Sites {
			acc := float64(s.f.Sites[si].Accelerators)
			if acc == 0 {
				continue
			}
			if x := float64(held[si]+sv.Accelerators) / acc; x < share {
				best, share = si, x
			}
		}
		held[best] += sv.Accelerators
		s.serviceSite[k] = best
	}
}

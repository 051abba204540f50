package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"stargate/engine"
	"stargate/fleet"
	"stargate/plan"
	"stargate/trace"
)

// Job states.
const (
	waiting uint8 = iota
	running
	done
)

// jobRun is the simulator's record of one job.
type jobRun struct {
	state      uint8
	started    bool
	firstStart time.Duration
	finish     time.Duration
	// Progress, in seconds of work at full speed: work done as of segStart,
	// and the rate since.
	work     float64
	segStart time.Duration
	rate     float64
	ver      uint32 // bumped when the pending finish event is stale
	slots    []engine.Slot
	capW     float64
	util     float64 // load between idle (0) and TDP (1)
	lostFail float64 // accelerator-seconds of work lost to failures
	lostPre  float64 // ... and to preemption
	restarts int32
	preempts int32
}

// levels are the power-tree levels the simulator meters.
var levels = [...]fleet.Level{fleet.LevelSite, fleet.LevelHall, fleet.LevelRow, fleet.LevelRack}

// Sim is one simulation run. Build it with New, run it with Run.
type Sim struct {
	cfg  Config
	f    *fleet.Fleet
	eng  *engine.Engine
	snap *engine.Snapshot
	jobs []trace.Job
	// nTrace is the number of workload jobs; an inference service, if
	// any, is the job after them.
	nTrace int
	runs   []jobRun
	ev     eventHeap
	rng    *rand.Rand
	now    time.Duration

	// Power, per level and domain, in watts of IT draw: mean and swing
	// amplitude (peak = mean + amp), and the rated limit.
	mean, amp, rated [len(levels)][]float64
	over             [len(levels)][]bool
	nOver            [len(levels)]int
	peak             [len(levels)]peakRec
	overSince        [len(levels)]time.Duration
	overSecs         [len(levels)]float64
	overLongest      [len(levels)]float64
	ctrlAt           time.Duration // pending control event time, -1 if none
	capped           int           // jobs capped now
	cappedAccels     int
	cappedSecs       float64
	cappedAccelSecs  float64
	capEvents        int

	// node-level power factors: per accelerator above idle at full load
	// (accelerator + its share of node overhead), and TDP − idle
	busyW, swingW []float64

	passAt   time.Duration // pending pass time, -1 if none
	lastPass time.Duration
	passes   int

	// energy and accounting
	lastT      time.Duration
	siteEnergy []siteEnergy
	allocated  int // accelerators allocated now
	arrived    int // jobs arrived so far
	lastFinish time.Duration
	// the allocated accelerator-seconds and the time at the last arrival,
	// for the utilization while the workload arrives
	arrivalEnd        time.Duration
	accelSecsArrivals float64
	rejected          int     // jobs the engine refused
	repairs           int     // nodes in repair
	wakes             int     // backoff wake-ups pending
	accelSecs         float64 // allocated accelerator-seconds
	completed         int
	failures          int
	events            int
	series            []Sample
	sampleEvery       time.Duration
	parts             []float64
}

type peakRec struct {
	ratio  float64
	domain int32
	at     time.Duration
	w      float64
}

type siteEnergy struct {
	mwh, usd, tco2 float64
	peakW          float64
}

// New prepares a run of jobs (sorted by submission) on f.
func New(f *fleet.Fleet, jobs []trace.Job, cfg Config) (*Sim, error) {
	cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	eng, err := engine.New(cfg.Engine)
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	snap, err := engine.NewSnapshot(f)
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	for i := 1; i < len(jobs); i++ {
		if jobs[i].Submit < jobs[i-1].Submit {
			return nil, fmt.Errorf("sim: jobs must be sorted by submission time (job %d)", i)
		}
	}
	nTrace := len(jobs)
	if in := cfg.Inference; in != nil {
		span := time.Duration(len(in.Load)) * in.Bucket
		jobs = append(jobs[:len(jobs):len(jobs)], trace.Job{ID: "inference", Tenant: "inference",
			Duration: span.Seconds(), Accelerators: in.Accelerators})
	}
	s := &Sim{
		cfg: cfg, f: f, eng: eng, snap: snap, jobs: jobs, nTrace: nTrace,
		runs:   make([]jobRun, len(jobs)),
		rng:    rand.New(rand.NewPCG(cfg.Seed, 0xfa11)),
		ctrlAt: -1, passAt: -1, lastPass: -cfg.PassInterval - 1,
	}
	s.initPower()
	s.siteEnergy = make([]siteEnergy, len(f.Sites))
	s.parts = make([]float64, 16)
	s.sampleEvery = cfg.SampleInterval
	if s.sampleEvery == 0 {
		span := time.Hour
		if len(jobs) > 0 {
			span = max(span, seconds(jobs[len(jobs)-1].Submit))
		}
		s.sampleEvery = max(time.Minute, (span / 2000).Round(time.Minute))
	}
	return s, nil
}

func seconds(x float64) time.Duration { return time.Duration(math.Round(x * 1e9)) }

func (s *Sim) initPower() {
	f := s.f
	for li, l := range levels {
		var n int
		switch l {
		case fleet.LevelSite:
			n = len(f.Sites)
		case fleet.LevelHall:
			n = len(f.Halls)
		case fleet.LevelRow:
			n = len(f.Rows)
		case fleet.LevelRack:
			n = len(f.Racks)
		}
		s.mean[li] = make([]float64, n)
		s.amp[li] = make([]float64, n)
		s.rated[li] = make([]float64, n)
		s.over[li] = make([]bool, n)
	}
	for i := range f.Sites {
		s.rated[0][i] = float64(f.Sites[i].LimitW) / f.Sites[i].PUE
	}
	for i := range f.Halls {
		s.rated[1][i] = float64(f.Halls[i].LimitW)
	}
	for i := range f.Rows {
		s.rated[2][i] = float64(f.Rows[i].LimitW)
	}
	for i := range f.Racks {
		s.rated[3][i] = float64(f.Racks[i].LimitW)
	}
	cat := f.Catalog
	s.busyW = make([]float64, len(cat.Nodes))
	s.swingW = make([]float64, len(cat.Nodes))
	for m := range cat.Nodes {
		nm := &cat.Nodes[m]
		a := cat.Accelerator(nm.Accelerator)
		if a < 0 {
			continue
		}
		acc := &cat.Accelerators[a]
		s.swingW[m] = acc.TDPW - acc.IdleW
		s.busyW[m] = s.swingW[m] + (nm.OverheadW-nm.OverheadIdleW)/float64(nm.Accelerators)
	}
	// Idle draw of every node is the base of every domain.
	for n := range f.Nodes {
		nm := f.NodeModel(n)
		idle := nm.IdleW(f.NodeAccelerator(n))
		s.addNode(int32(n), idle, 0)
	}
	for li := range levels {
		for d := range s.mean[li] {
			s.check(li, int32(d))
		}
	}
}

// addNode adds dMean and dAmp watts at node n and every domain above it.
func (s *Sim) addNode(n int32, dMean, dAmp float64) {
	f := s.f
	rack := f.Nodes[n].Rack
	row := f.Racks[rack].Parent
	hall := f.Rows[row].Parent
	site := f.Halls[hall].Parent
	for li, d := range [...]int32{site, hall, row, rack} {
		s.mean[li][d] += dMean
		s.amp[li][d] += dAmp
	}
}

// touch re-checks the domains above node n after a change.
func (s *Sim) touch(n int32) {
	f := s.f
	rack := f.Nodes[n].Rack
	row := f.Racks[rack].Parent
	hall := f.Rows[row].Parent
	site := f.Halls[hall].Parent
	for li, d := range [...]int32{site, hall, row, rack} {
		s.check(li, d)
	}
}

// check updates the over-limit accounting of one domain and asks the
// controller to act when its peak passes the cap threshold.
func (s *Sim) check(li int, d int32) {
	limit := s.rated[li][d]
	if limit <= 0 {
		return
	}
	peak := s.mean[li][d] + s.amp[li][d]
	if r := peak / limit; r > s.peak[li].ratio {
		s.peak[li] = peakRec{ratio: r, domain: d, at: s.now, w: peak}
	}
	isOver := peak > limit*(1+1e-9)
	if isOver != s.over[li][d] {
		s.over[li][d] = isOver
		if isOver {
			if s.nOver[li] == 0 {
				s.overSince[li] = s.now
			}
			s.nOver[li]++
		} else {
			s.nOver[li]--
			if s.nOver[li] == 0 {
				s.endOver(li)
			}
		}
	}
	if peak > s.cfg.Engine.Capping.Controller.CapAbove*limit && s.cfg.Engine.Capping.Controller.CapAbove > 0 {
		s.wantControl(s.now + s.cfg.ReactionDelay)
	}
}

func (s *Sim) wantControl(at time.Duration) {
	if s.ctrlAt >= 0 && s.ctrlAt <= at {
		return
	}
	s.ctrlAt = at
	s.ev.push(event{at: at, kind: evControl})
}

func (s *Sim) wantPass() {
	at := max(s.now, s.lastPass+s.cfg.PassInterval)
	if s.passAt >= 0 && s.passAt <= at {
		return
	}
	s.passAt = at
	s.ev.push(event{at: at, kind: evPass})
}

// Run plays the workload to the end (or the horizon) and reports.
func (s *Sim) Run() *Result {
	wall := time.Now()
	s.cfg.Engine = s.eng.Config()
	if s.nTrace > 0 {
		s.ev.push(event{at: seconds(s.jobs[0].Submit), kind: evArrival, job: 0})
	}
	if s.cfg.Inference != nil {
		s.ev.push(event{at: 0, kind: evArrival, job: int32(s.nTrace)})
		for k := 1; k < len(s.cfg.Inference.Load); k++ {
			s.ev.push(event{at: time.Duration(k) * s.cfg.Inference.Bucket, kind: evLoad, job: int32(k)})
		}
	}
	if s.cfg.Failures && s.f.Accelerators > 0 {
		s.scheduleFailure()
	}
	s.ev.push(event{at: 0, kind: evSample})
	for s.ev.Len() > 0 {
		e := s.ev.pop()
		if s.cfg.Horizon > 0 && e.at > s.cfg.Horizon {
			s.advance(s.cfg.Horizon)
			break
		}
		s.advance(e.at)
		s.events++
		switch e.kind {
		case evArrival:
			s.arrive(int(e.job))
		case evLoad:
			s.setLoad(int(e.job))
		case evFinish:
			if s.runs[e.job].ver == e.ver && s.runs[e.job].state == running {
				s.finishJob(int(e.job))
			}
		case evFail:
			s.fail()
		case evRepair:
			s.repairs--
			s.snap.SetNodeState(int(e.node), engine.Up)
			s.wantPass()
		case evControl:
			if s.ctrlAt == e.at {
				s.ctrlAt = -1
				s.control()
			}
		case evWake:
			s.wakes--
			s.wantPass()
		case evPass:
			if s.passAt == e.at {
				s.passAt = -1
				s.pass()
			}
		case evSample:
			s.sample()
			if s.busy() {
				s.ev.push(event{at: s.now + s.sampleEvery, kind: evSample})
			}
		}
		if s.cfg.Progress != nil && s.events%50_000 == 0 {
			s.cfg.Progress(s.now, s.completed, len(s.jobs))
		}
	}
	s.closeOut()
	return s.result(time.Since(wall))
}

// workLeft reports whether jobs remain to arrive, run or wait: failures
// only matter, and only go on arriving, while it holds.
func (s *Sim) workLeft() bool {
	return s.arrived < len(s.jobs) || s.allocated > 0 || s.eng.Queued() > 0
}

// busy reports whether the run goes on (and keeps sampling): jobs to
// arrive or running, or queued jobs that a repair or a pending decision may
// yet start. Jobs that wait with none of these can never start.
func (s *Sim) busy() bool {
	return s.arrived < len(s.jobs) || s.allocated > 0 ||
		(s.eng.Queued() > 0 && (s.repairs > 0 || s.passAt >= 0 || s.wakes > 0)) || s.ctrlAt >= 0
}

// advance moves the clock to t, integrating energy and utilization.
func (s *Sim) advance(t time.Duration) {
	if t <= s.lastT {
		s.now = max(s.now, t)
		return
	}
	dt := (t - s.lastT).Seconds()
	s.accelSecs += float64(s.allocated) * dt
	if s.capped > 0 {
		s.cappedSecs += dt
		s.cappedAccelSecs += float64(s.cappedAccels) * dt
	}
	for si := range s.f.Sites {
		s.integrate(si, s.lastT, t)
	}
	s.lastT, s.now = t, t
}

// integrate adds site si's energy from a to b, hour by hour of the year.
func (s *Sim) integrate(si int, a, b time.Duration) {
	site := &s.f.Sites[si]
	facilityMW := s.mean[0][si] * site.PUE / 1e6
	if len(s.parts) < len(site.Energy) {
		s.parts = make([]float64, len(site.Energy))
	}
	se := &s.siteEnergy[si]
	for a < b {
		abs := s.cfg.Start.Add(a)
		hourEnd := abs.Truncate(time.Hour).Add(time.Hour)
		end := min(b, a+hourEnd.Sub(abs))
		h := hourOfYear(abs)
		frac := (end - a).Hours()
		parts := s.parts[:len(site.Energy)]
		unserved := plan.DispatchHour(site.Energy, facilityMW, h, parts)
		for i := range site.Energy {
			mwh := parts[i] * frac
			se.mwh += mwh
			se.usd += mwh * plan.Price(&site.Energy[i], h)
			se.tco2 += mwh * plan.Carbon(&site.Energy[i], h) / 1e3
		}
		se.mwh += unserved * frac
		a = end
	}
}

func hourOfYear(t time.Time) int {
	return ((t.YearDay()-1)*24 + t.Hour()) % fleet.HoursPerYear
}

func (s *Sim) arrive(i int) {
	s.arrived++
	if i == s.nTrace-1 {
		s.arrivalEnd, s.accelSecsArrivals = s.now, s.accelSecs
	}
	if i+1 < s.nTrace {
		s.ev.push(event{at: seconds(s.jobs[i+1].Submit), kind: evArrival, job: int32(i + 1)})
	}
	ej := s.engineJob(i)
	// A job larger than the whole fleet could never start: it is refused
	// at submission, as a batch system refuses an impossible request,
	// rather than left to block a strict FIFO queue for ever.
	if ej.Accelerators > s.f.Accelerators {
		s.runs[i].state, s.runs[i].finish = done, -1
		s.rejected++
		return
	}
	if err := s.eng.Submit(ej, s.cfg.Start.Add(s.now)); err != nil {
		// The trace readers refuse the rows that could cause this; count
		// the job as rejected rather than stop the run.
		s.runs[i].state = done
		s.runs[i].finish = -1
		s.rejected++
		return
	}
	s.wantPass()
}

func (s *Sim) engineJob(i int) engine.Job {
	j := &s.jobs[i]
	if i == s.nTrace { // the inference service, sized for its peak load
		peak := 0.0
		for _, x := range s.cfg.Inference.Load {
			peak = max(peak, x)
		}
		return engine.Job{ID: engine.JobID(i + 1), Tenant: j.Tenant, Kind: engine.Inference, Priority: 100,
			Accelerators: j.Accelerators, Duration: seconds(j.Duration), PowerFraction: max(peak, 0.01)}
	}
	return engine.Job{
		ID:              engine.JobID(i + 1),
		Tenant:          j.Tenant,
		Kind:            engine.Training,
		Accelerators:    j.Accelerators,
		Duration:        seconds(j.Duration),
		CheckpointEvery: s.cfg.Checkpoint,
		PowerFraction:   s.cfg.Utilization,
		Preemptible:     true,
	}
}

func (s *Sim) pass() {
	s.lastPass = s.now
	s.passes++
	res := s.eng.Schedule(s.snap, s.cfg.Start.Add(s.now))
	for _, d := range res.Decisions {
		i := int(d.Job) - 1
		switch d.Action {
		case engine.Place:
			s.start(i, d.Slots)
		case engine.Preempt:
			s.stop(i, false)
			s.runs[i].preempts++
			s.wakeAfterBackoff(d.Job)
		}
	}
	if res.Preempted > 0 {
		s.wantPass()
	}
}

// start runs job i on slots from now.
func (s *Sim) start(i int, slots []engine.Slot) {
	r := &s.runs[i]
	if !r.started {
		r.started, r.firstStart = true, s.now
	}
	r.state, r.slots, r.capW, r.rate, r.segStart = running, slots, 0, 1, s.now
	r.util = s.cfg.Utilization
	if i == s.nTrace {
		r.util = s.cfg.Inference.Load[min(len(s.cfg.Inference.Load)-1, int(s.now/s.cfg.Inference.Bucket))]
	}
	s.power(i, +1)
	s.allocated += s.jobs[i].Accelerators
	s.scheduleFinish(i)
}

// power adds (sign +1) or removes (−1) job i's draw above idle.
func (s *Sim) power(i int, sign float64) {
	r := &s.runs[i]
	for _, sl := range r.slots {
		k := float64(popcount(sl.Mask))
		m := s.f.Nodes[sl.Node].Model
		mean, amp := s.drawPerAccel(m, r.util, r.capW, int(sl.Node))
		s.addNode(sl.Node, sign*k*mean, sign*k*amp)
	}
	for _, sl := range r.slots {
		s.touch(sl.Node)
	}
}

// drawPerAccel returns the mean and swing, in watts above idle, of one
// accelerator of node model m running a job at load u under cap capW
// (0 = none).
func (s *Sim) drawPerAccel(m uint16, u, capW float64, node int) (mean, amp float64) {
	a := s.cfg.Swing
	mean = s.busyW[m] * u
	amp = s.swingW[m] * min(a, 1-u)
	if capW > 0 {
		acc := s.f.NodeAccelerator(node)
		peakAcc := acc.IdleW + s.swingW[m]*u + amp
		meanAcc := acc.IdleW + s.swingW[m]*u
		if capW < peakAcc {
			capMean := min(meanAcc, capW)
			mean -= meanAcc - capMean
			amp = max(0, capW-capMean)
		}
	}
	return mean, amp
}

// rateUnder is the progress rate of job i under its cap: (C/demand)^(1/3).
func (s *Sim) rateUnder(i int) float64 {
	r := &s.runs[i]
	if r.capW <= 0 || len(r.slots) == 0 || i == s.nTrace {
		return 1
	}
	n := int(r.slots[0].Node)
	m := s.f.Nodes[n].Model
	acc := s.f.NodeAccelerator(n)
	demand := acc.IdleW + s.swingW[m]*(r.util+min(s.cfg.Swing, 1-r.util))
	if r.capW >= demand {
		return 1
	}
	return math.Cbrt(r.capW / demand)
}

func (s *Sim) progress(i int) {
	r := &s.runs[i]
	r.work += (s.now - r.segStart).Seconds() * r.rate
	r.segStart = s.now
}

func (s *Sim) scheduleFinish(i int) {
	r := &s.runs[i]
	r.ver++
	left := max(0, s.jobs[i].Duration-r.work)
	s.ev.push(event{at: s.now + seconds(left/r.rate), kind: evFinish, job: int32(i), ver: r.ver})
}

func (s *Sim) finishJob(i int) {
	r := &s.runs[i]
	s.progress(i)
	if _, ok := s.snap.Release(engine.JobID(i+1), s.cfg.Start.Add(s.now)); !ok {
		panic(fmt.Sprintf("sim: job %d finished but the engine has no allocation", i+1)) // programmer error
	}
	s.release(i)
	r.state, r.finish = done, s.now
	s.completed++
	s.lastFinish = s.now
	s.wantPass()
	if s.capped > 0 {
		s.wantControl(s.now + s.cfg.ReactionDelay)
	}
}

// release removes a running job's draw and accelerators.
func (s *Sim) release(i int) {
	r := &s.runs[i]
	s.power(i, -1)
	if r.capW > 0 {
		s.uncapCount(i)
		r.capW = 0
	}
	s.allocated -= s.jobs[i].Accelerators
	r.slots = nil
	r.ver++
}

// stop ends a run that did not finish (failure or preemption): work since
// the last checkpoint is lost. The engine has already released and
// requeued the job.
func (s *Sim) stop(i int, failure bool) {
	r := &s.runs[i]
	s.progress(i)
	kept := 0.0
	if ck := s.cfg.Checkpoint.Seconds(); ck > 0 {
		kept = math.Floor(r.work/ck) * ck
	}
	lost := (r.work - kept) * float64(s.jobs[i].Accelerators)
	if failure {
		r.lostFail += lost
		r.restarts++
	} else {
		r.lostPre += lost
	}
	r.work = kept
	s.release(i)
	r.state = waiting
}

func (s *Sim) scheduleFailure() {
	rate := float64(s.f.Accelerators) / s.cfg.MTBF.Seconds() // failures per second
	s.ev.push(event{at: s.now + seconds(s.rng.ExpFloat64()/rate), kind: evFail})
}

func (s *Sim) fail() {
	a := int32(s.rng.IntN(s.f.Accelerators))
	nodes := s.f.Nodes
	n := sort.Search(len(nodes), func(k int) bool { return nodes[k].FirstAccel > a }) - 1
	if s.workLeft() {
		s.scheduleFailure()
	}
	if s.snap.NodeState(n) == engine.Down {
		return
	}
	s.failures++
	ids := s.eng.FailNode(s.snap, n, s.cfg.Start.Add(s.now))
	for _, id := range ids {
		s.stop(int(id)-1, true)
		s.wakeAfterBackoff(id)
	}
	s.repairs++
	s.ev.push(event{at: s.now + s.cfg.RepairTime, kind: evRepair, node: int32(n)})
	s.wantPass()
}

// wakeAfterBackoff asks for a pass when a requeued job's backoff ends, so
// that it restarts then rather than at the next unrelated event.
func (s *Sim) wakeAfterBackoff(id engine.JobID) {
	if p, ok := s.eng.Pending(id); ok {
		at := max(s.now, p.NotBefore.Sub(s.cfg.Start))
		s.wakes++
		s.ev.push(event{at: at, kind: evWake})
	}
}

// control measures every domain and applies the engine's caps and uncaps.
func (s *Sim) control() {
	for li, l := range levels {
		for d := range s.mean[li] {
			s.snap.SetMeasured(l, d, int64(s.mean[li][d]+s.amp[li][d]))
		}
	}
	for _, d := range s.eng.Control(s.snap, s.cfg.Start.Add(s.now)) {
		i := int(d.Job) - 1
		r := &s.runs[i]
		if r.state != running {
			continue
		}
		switch d.Action {
		case engine.Cap:
			s.setCap(i, d.CapW)
		case engine.Uncap:
			s.setCap(i, 0)
		}
	}
	if s.capped > 0 {
		// Check again later: for uncaps once headroom returns, and for
		// domains still over.
		s.wantControl(s.now + max(s.cfg.ReactionDelay, time.Minute))
	}
}

func (s *Sim) setCap(i int, capW float64) {
	r := &s.runs[i]
	if (r.capW > 0) == (capW > 0) && r.capW == capW {
		return
	}
	s.progress(i)
	s.power(i, -1)
	was := r.capW > 0
	r.capW = capW
	s.power(i, +1)
	switch {
	case !was && capW > 0:
		s.capped++
		s.cappedAccels += s.jobs[i].Accelerators
		s.capEvents++
	case was && capW == 0:
		s.uncapCount(i)
	}
	r.rate = s.rateUnder(i)
	s.scheduleFinish(i)
}

// setLoad moves the inference service to load bucket k.
func (s *Sim) setLoad(k int) {
	i := s.nTrace
	r := &s.runs[i]
	if r.state != running {
		return
	}
	s.power(i, -1)
	r.util = s.cfg.Inference.Load[k]
	s.power(i, +1)
}

func (s *Sim) uncapCount(i int) {
	s.capped--
	s.cappedAccels -= s.jobs[i].Accelerators
}

// endOver closes an excursion above the limit at level li.
func (s *Sim) endOver(li int) {
	d := (s.now - s.overSince[li]).Seconds()
	s.overSecs[li] += d
	s.overLongest[li] = max(s.overLongest[li], d)
}

func (s *Sim) closeOut() {
	for li := range levels {
		if s.nOver[li] > 0 {
			s.endOver(li)
			s.nOver[li] = 0
		}
	}
}

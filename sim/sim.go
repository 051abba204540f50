package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"stargate/engine"
	"stargate/fleet"
	"stargate/trace"
)

// Job states.
const (
	waiting uint8 = iota
	running
	done
)

// jobRun is the simulator's record of one job. Its fields fit in two
// cache lines, and what a job's end reads of it is in it: the job's size
// and tenant group are copied in at its start. It holds no pointer (its
// slots are in Sim.slots), so that the collector need not scan the runs
// of millions of jobs.
type jobRun struct {
	state   uint8
	started bool
	group   uint8  // its tenant group, as Sim.group (set at a start)
	ver     uint32 // bumped when the pending finish event is stale
	accels  int32  // its accelerators, as its trace.Job (set at a start)
	// restarts, preemptions, and times a cap was put on it
	restarts, preempts, caps int32

	firstStart time.Duration
	finish     time.Duration
	// Progress, in seconds of work at full speed: work done as of segStart,
	// and the rate since.
	work     float64
	segStart time.Duration
	rate     float64
	capW     float64
	util     float64 // load between idle (0) and TDP (1)
	lostFail float64 // accelerator-seconds of work lost to failures
	lostPre  float64 // ... and to preemption
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
	// any, is the job after them (nInfer, else -1), then the services.
	nTrace, nInfer int
	runs           []jobRun
	slots          [][]engine.Slot // by job, while it runs
	ev             eventQueue
	rng            *rand.Rand
	now            time.Duration

	// Power, per level and domain (domainPower)
	dom             [len(levels)][]domainPower
	told            [len(levels)][]int64 // the draws last given the engine (SetMeasured)
	nOver           [len(levels)]int
	peak            [len(levels)]peakRec
	overSince       [len(levels)]time.Duration
	overSecs        [len(levels)]float64
	overLongest     [len(levels)]float64
	ctrlAt          time.Duration // pending control event time, -1 if none
	capped          int           // jobs capped now
	cappedAccels    int
	cappedSecs      float64
	cappedAccelSecs float64
	capEvents       int

	// node-level power factors: per accelerator above idle at full load
	// (accelerator + its share of node overhead), and TDP − idle
	busyW, swingW []float64

	passAt   time.Duration // pending pass time, -1 if none
	lastPass time.Duration
	passes   int

	// energy and accounting
	lastT      time.Duration
	siteEnergy []siteEnergy
	// the hour of the year the clock is in (energy.go): its span of run
	// time and its index
	hourFrom, hourTo time.Duration
	hour             int
	allocated        int // accelerators allocated now
	arrived          int // jobs arrived so far
	lastFinish       time.Duration
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
	preemptions       int
	series            []Sample
	sampleEvery       time.Duration

	// per site: accelerators, and those allocated now
	siteAccels, siteAlloc []int
	siteSecs              []float64 // allocated accelerator-seconds
	// tenant groups (see groupTenants): each job's group, and per group
	// the accelerators held now and the accelerator-seconds held so far
	group      []uint8
	groupNames []string
	groupAlloc []int
	// groupTenantsN is, per group, how many tenants it holds
	groupTenantsN []int
	groupSecs     []float64

	// grid events (grid.go): each event's run, the events over each site,
	// and each site's capped accelerators
	grid       []gridRun
	gridBySite [][]int
	siteCapped []int
	gridActive []int // the events past their start, not ended
	// gridTrigger is the share of a target over which the controller is
	// asked to act (the engine's own threshold)
	gridTrigger float64
	// measureSites: grid events or ramps need the sites' draw at passes
	measureSites bool
	// serviceSite is the site each inference service is pinned to
	serviceSite []int
	// onSiteDraw, when set (by tests), sees every change of a site's
	// facility draw (peak of the swing)
	onSiteDraw func(si int, w float64)
}

// domainPower is one domain's power, in watts of IT draw: mean and swing
// amplitude (peak = mean + amp), the rated limit, and whether the peak is
// over it; together, for a change reads and writes them together.
type domainPower struct {
	mean, amp, rated float64
	over             bool
}

type peakRec struct {
	ratio  float64
	domain int32
	at     time.Duration
	w      float64
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
	nTrace, nInfer := len(jobs), -1
	if in := cfg.Inference; in != nil {
		span := time.Duration(len(in.Load)) * in.Bucket
		nInfer = len(jobs)
		jobs = append(jobs[:len(jobs):len(jobs)], trace.Job{ID: "inference", Tenant: "inference",
			Duration: span.Seconds(), Accelerators: in.Accelerators})
	}
	if sv := cfg.Services; sv != nil {
		jobs = jobs[:len(jobs):len(jobs)]
		for k := range sv.Count {
			jobs = append(jobs, trace.Job{ID: fmt.Sprintf("service-%d", k+1), Tenant: "inference",
				Duration: sv.Span.Seconds(), Accelerators: sv.Accelerators})
		}
	}
	s := &Sim{
		cfg: cfg, f: f, eng: eng, snap: snap, jobs: jobs, nTrace: nTrace, nInfer: nInfer,
		runs:   make([]jobRun, len(jobs)),
		slots:  make([][]engine.Slot, len(jobs)),
		rng:    rand.New(rand.NewPCG(cfg.Seed, 0xfa11)),
		ctrlAt: -1, passAt: -1, lastPass: -cfg.PassInterval - 1,
	}
	s.initPower()
	s.siteEnergy = make([]siteEnergy, len(f.Sites))
	for si := range s.siteEnergy {
		s.siteEnergy[si].h = -1
	}
	s.siteAccels = make([]int, len(f.Sites))
	s.siteAlloc = make([]int, len(f.Sites))
	s.siteSecs = make([]float64, len(f.Sites))
	for si := range f.Sites {
		s.siteAccels[si] = int(f.Sites[si].Accelerators)
	}
	s.groupTenants()
	s.pinServices()
	if err := s.initGrid(); err != nil {
		return nil, err
	}
	s.measureSites = len(s.grid) > 0
	for si := range f.Sites {
		s.measureSites = s.measureSites || f.Sites[si].RampMWPerMin > 0
	}
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

// wantPassAt asks for a pass at at (no earlier than passes may run).
func (s *Sim) wantPassAt(at time.Duration) {
	at = max(at, s.now, s.lastPass+s.cfg.PassInterval)
	if s.passAt >= 0 && s.passAt <= at {
		return
	}
	s.passAt = at
	s.ev.push(event{at: at, kind: evPass})
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
		s.ev.push(event{at: 0, kind: evArrival, job: int32(s.nInfer)})
		for k := 1; k < len(s.cfg.Inference.Load); k++ {
			s.ev.push(event{at: time.Duration(k) * s.cfg.Inference.Bucket, kind: evLoad, job: int32(k)})
		}
	}
	for i := max(s.nTrace, s.nInfer+1); i < len(s.jobs); i++ {
		s.ev.push(event{at: 0, kind: evArrival, job: int32(i)})
	}
	s.pushGrid()
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
		case evGrid:
			s.gridPhase(int(e.job), e.node)
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
	if s.grid != nil {
		s.gridAdvance(s.lastT, t)
	}
	s.accelSecs += float64(s.allocated) * dt
	for g, n := range s.groupAlloc {
		s.groupSecs[g] += float64(n) * dt
	}
	if s.capped > 0 {
		s.cappedSecs += dt
		s.cappedAccelSecs += float64(s.cappedAccels) * dt
	}
	s.integrateSites(s.lastT, t)
	for si := range s.f.Sites {
		s.siteSecs[si] += float64(s.siteAlloc[si]) * dt
	}
	s.lastT, s.now = t, t
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
	if i >= s.nTrace && i != s.nInfer { // an inference service of Config.Services
		return engine.Job{ID: engine.JobID(i + 1), Tenant: j.Tenant, Kind: engine.Inference, Priority: 100,
			Accelerators: j.Accelerators, Duration: seconds(j.Duration), PowerFraction: max(s.cfg.Services.Load, 0.01),
			Site: s.f.Sites[s.serviceSite[i-max(s.nTrace, s.nInfer+1)]].Name}
	}
	if i == s.nInfer { // the inference service, sized for its peak load
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
		Priority:        j.Priority,
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
	if s.measureSites {
		// what the sites' meters read, for the engine's grid and ramp
		// estimates
		for si := range s.f.Sites {
			s.snap.SetMeasured(fleet.LevelSite, si, int64(s.dom[0][si].mean+s.dom[0][si].amp))
		}
	}
	res := s.eng.Schedule(s.snap, s.cfg.Start.Add(s.now))
	ramp := false
	for _, w := range res.Waiting {
		ramp = ramp || w.Reason.Code == engine.Ramp
	}
	if ramp {
		s.wantPassAt(s.eng.RampNext().Sub(s.cfg.Start))
	}
	for _, d := range res.Decisions {
		i := int(d.Job) - 1
		switch d.Action {
		case engine.Dispatch:
			if d.Reason.Code == engine.Grid && s.grid != nil {
				s.gridMoved(i, d.Site)
			}
		case engine.Place:
			s.start(i, d.Slots)
		case engine.Preempt:
			s.stop(i, false)
			s.runs[i].preempts++
			s.preemptions++
			s.wakeAfterBackoff(d.Job)
		}
	}
	if res.Preempted > 0 {
		s.wantPass()
	}
}

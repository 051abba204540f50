package sim

import (
	"math"
	"time"

	"stargate/energy"
)

// Sample is one point of the time series.
type Sample struct {
	T           float64 // seconds from the start
	Utilization float64 // allocated / all accelerators
	Queued      int
	Running     int
	// Per site, in MW of IT draw: the draw at this instant (mean with the
	// swing's phase at T) and the envelope's peak (mean + swing).
	SiteMW     []float64
	SitePeakMW []float64
	// SiteUtilization is, per site, its allocated accelerators over all.
	SiteUtilization []float64
	// SiteCarbon and SitePrice are, per site, the intensity (gCO2/kWh)
	// and price (USD/MWh) of the energy that covers its facility draw at
	// T, blended by energy.Blend; EmissionsTPerH is the fleet's rate of
	// emissions at that draw and intensity, in tCO2 an hour.
	SiteCarbon     []float64
	SitePrice      []float64
	EmissionsTPerH float64
	// Hottest is, per level of Result.Levels (site, hall, row, rack), the
	// domain with the least headroom at T.
	Hottest []Hot
	// CappedJobs and CappedAccelerators run under a power cap at T.
	CappedJobs         int
	CappedAccelerators int
	// Failures and Preemptions count those so far.
	Failures    int
	Preemptions int
	// TenantAccelerators is, per entry of Result.Tenants, the
	// accelerators that its running jobs hold.
	TenantAccelerators []int
}

// Hot is the domain of one level of the power tree whose peak draw (mean
// + swing) is the highest fraction of its rating at one instant. The
// domain that peaks hottest over a run is only known at its end, and the
// series of every domain would cost the fleet's size at every sample; the
// hottest at each instant is the level's least headroom, what decides
// whether the next placement or cap happens.
type Hot struct {
	Domain  int32   // index in its level, -1 if the level has no rated domain
	Name    string  // its path, as LevelPower.PeakDomain
	Ratio   float64 // peak draw / rating
	KW      float64 // peak draw
	LimitKW float64 // rating
}

// LevelPower is the peak draw of one level of the power tree.
type LevelPower struct {
	Level string `json:"level"`
	// PeakRatio is the highest peak draw over rated limit of any domain of
	// the level, at PeakDomain.
	PeakRatio  float64 `json:"peak_ratio"`
	PeakDomain string  `json:"peak_domain"`
	PeakKW     float64 `json:"peak_kw"`
	LimitKW    float64 `json:"limit_kw"`
	// SecondsAbove is the time during which at least one domain of the
	// level drew more than its rating.
	SecondsAbove float64 `json:"seconds_above"`
	// LongestAbove is the longest single excursion above a rating.
	LongestAbove float64 `json:"longest_above_s"`
}

// SiteResult is one site's power and energy.
type SiteResult struct {
	Name          string  `json:"name"`
	LimitMW       float64 `json:"limit_mw"` // IT share of the substation
	PeakMW        float64 `json:"peak_mw"`
	EnergyMWh     float64 `json:"energy_mwh"` // facility energy, PUE included
	EmissionsTCO2 float64 `json:"emissions_tco2"`
	CostUSD       float64 `json:"cost_usd"`
	Accelerators  int     `json:"accelerators"`
	// Utilization is its allocated accelerator-seconds over the run (from
	// the start to the last finish), as Result.Utilization.
	Utilization float64 `json:"utilization"`
}

// JobRecord is one job's outcome, for the per-job CSV.
type JobRecord struct {
	ID           string
	Tenant       string
	Accelerators int
	Submit       float64
	Start        float64 // first start, -1 if never
	Finish       float64 // -1 if unfinished
	Duration     float64 // work at full speed
	Restarts     int
	Preemptions  int
	Caps         int // times a cap was put on it (by a breaker or a grid event)
	LostGPUh     float64
}

// Result is what a run measured. Its JSON form is the summary of
// `stargate sim -o json`.
type Result struct {
	Policy        string `json:"policy"`
	Seed          uint64 `json:"seed"`
	Accelerators  int    `json:"accelerators"`
	JobsSubmitted int    `json:"jobs_submitted"`
	JobsCompleted int    `json:"jobs_completed"`
	// JobsRejected asked for more accelerators than the fleet has (or
	// were otherwise refused by the engine).
	JobsRejected int `json:"jobs_rejected"`
	// JobsUnfinished were still queued or running at the end.
	JobsUnfinished int     `json:"jobs_unfinished"`
	GPUHours       float64 `json:"gpu_hours"` // work of completed jobs
	AvgJCT         float64 `json:"avg_jct_s"`
	P50JCT         float64 `json:"p50_jct_s"`
	P95JCT         float64 `json:"p95_jct_s"`
	P99JCT         float64 `json:"p99_jct_s"`
	AvgWait        float64 `json:"avg_wait_s"`
	P50Wait        float64 `json:"p50_wait_s"`
	P95Wait        float64 `json:"p95_wait_s"`
	P99Wait        float64 `json:"p99_wait_s"`
	// Utilization is allocated accelerator-seconds over the whole run;
	// UtilizationArrivals over the span from the first to the last arrival.
	Utilization         float64 `json:"utilization"`
	UtilizationArrivals float64 `json:"utilization_arrivals"`
	// AllocatedGPUHours is what the accelerators actually held, restarts
	// and slowdowns included.
	AllocatedGPUHours float64 `json:"allocated_gpu_hours"`
	Makespan          float64 `json:"makespan_s"`
	Failures          int     `json:"failures"`
	Preemptions       int     `json:"preemptions"`
	// LostGPUHoursFailures and ...Preemption: work redone after restarts.
	LostGPUHoursFailures   float64      `json:"lost_gpu_hours_failures"`
	LostGPUHoursPreemption float64      `json:"lost_gpu_hours_preemption"`
	EnergyMWh              float64      `json:"energy_mwh"`
	EmissionsTCO2          float64      `json:"emissions_tco2"`
	CostUSD                float64      `json:"cost_usd"`
	CapEvents              int          `json:"cap_events"`
	CappedSeconds          float64      `json:"capped_s"`
	CappedGPUHours         float64      `json:"capped_gpu_hours"`
	Levels                 []LevelPower `json:"levels"`
	Sites                  []SiteResult `json:"sites"`
	Passes                 int          `json:"scheduling_passes"`
	Events                 int          `json:"events"`
	WallS                  float64      `json:"wall_s"`
	EventsPerS             float64      `json:"events_per_s"`

	// MaxQueued is the longest the queue was at a sample.
	MaxQueued int `json:"max_queued"`
	// Tenants are the tenants that asked for the most, and the others
	// (see MaxTenantGroups).
	Tenants []TenantResult `json:"tenants"`
	// GridEvents is what each grid event of the run did.
	GridEvents []GridEventResult `json:"grid_events,omitempty"`

	Jobs   []JobRecord `json:"-"`
	Series []Sample    `json:"-"`
	// SiteNames and SiteLimitMW label the series; SitePUE converts a
	// site's facility draw to its IT draw.
	SiteNames   []string  `json:"-"`
	SiteLimitMW []float64 `json:"-"`
	SitePUE     []float64 `json:"-"`
	// Config is the run's configuration, its engine's defaults filled in.
	Config Config `json:"-"`
}

// sample records one point of the time series.
func (s *Sim) sample() {
	p := Sample{T: s.now.Seconds(), Queued: s.eng.Queued(), Running: s.snap.Jobs()}
	if s.f.Accelerators > 0 {
		p.Utilization = float64(s.allocated) / float64(s.f.Accelerators)
	}
	phase := 1.0 // compute phase in the first half of each swing period
	if (s.now % s.cfg.SwingPeriod) >= s.cfg.SwingPeriod/2 {
		phase = -1
	}
	h := energy.HourOfYear(s.cfg.Start.Add(s.now))
	n := len(s.f.Sites)
	p.SiteMW, p.SitePeakMW = make([]float64, n), make([]float64, n)
	p.SiteUtilization, p.SiteCarbon, p.SitePrice = make([]float64, n), make([]float64, n), make([]float64, n)
	for si := range s.f.Sites {
		site := &s.f.Sites[si]
		m, a := s.dom[0][si].mean, s.dom[0][si].amp
		p.SiteMW[si] = (m + phase*a) / 1e6
		p.SitePeakMW[si] = (m + a) / 1e6
		s.siteEnergy[si].peakW = max(s.siteEnergy[si].peakW, m+a)
		if s.siteAccels[si] > 0 {
			p.SiteUtilization[si] = float64(s.siteAlloc[si]) / float64(s.siteAccels[si])
		}
		facilityMW := m * site.PUE / 1e6
		p.SitePrice[si], p.SiteCarbon[si] = energy.Blend(site.Energy, facilityMW, h)
		p.EmissionsTPerH += facilityMW * p.SiteCarbon[si] / 1e3 // MW × g/kWh = kg/h
	}
	p.Hottest = make([]Hot, len(levels))
	for li := range levels {
		p.Hottest[li] = s.hottest(li)
	}
	p.CappedJobs, p.CappedAccelerators = s.capped, s.cappedAccels
	p.Failures, p.Preemptions = s.failures, s.preemptions
	p.TenantAccelerators = append([]int(nil), s.groupAlloc...)
	s.series = append(s.series, p)
}

func (s *Sim) result(wall time.Duration) *Result {
	r := &Result{
		Policy: s.cfg.Engine.Queue, Seed: s.cfg.Seed, Accelerators: s.f.Accelerators,
		JobsSubmitted: len(s.jobs), JobsCompleted: s.completed,
		Failures: s.failures, Passes: s.passes, Events: s.events,
		Makespan: s.lastFinish.Seconds(), WallS: wall.Seconds(), Series: s.series,
		CapEvents: s.capEvents, CappedSeconds: s.cappedSecs, CappedGPUHours: s.cappedAccelSecs / 3600,
	}
	r.JobsRejected = s.rejected
	r.Config = s.cfg
	for i := range s.series {
		r.MaxQueued = max(r.MaxQueued, s.series[i].Queued)
	}
	r.AllocatedGPUHours = s.accelSecs / 3600
	if s.nTrace > 0 && s.f.Accelerators > 0 {
		if span := (s.arrivalEnd - seconds(s.jobs[0].Submit)).Seconds(); span > 0 {
			r.UtilizationArrivals = s.accelSecsArrivals / (span * float64(s.f.Accelerators))
		}
	}
	if r.WallS > 0 {
		r.EventsPerS = float64(s.events) / r.WallS
	}
	if s.lastFinish > 0 && s.f.Accelerators > 0 {
		// Allocated accelerator-seconds from the start to the last finish.
		r.Utilization = s.accelSecs / (s.lastFinish.Seconds() * float64(s.f.Accelerators))
	}
	jct, wait := make([]float64, 0, s.completed), make([]float64, 0, s.nTrace)
	r.Jobs = make([]JobRecord, len(s.jobs))
	completedTrace := 0
	for i := range s.jobs {
		j, run := &s.jobs[i], &s.runs[i]
		rec := JobRecord{ID: j.ID, Tenant: j.Tenant, Accelerators: j.Accelerators, Submit: j.Submit,
			Start: -1, Finish: -1, Duration: j.Duration, Restarts: int(run.restarts), Preemptions: int(run.preempts),
			Caps:     int(run.caps),
			LostGPUh: (run.lostFail + run.lostPre) / 3600}
		if run.started {
			rec.Start = run.firstStart.Seconds()
		}
		if run.state == done && run.finish >= 0 {
			rec.Finish = run.finish.Seconds()
		}
		r.Jobs[i] = rec
		r.Preemptions += int(run.preempts)
		r.LostGPUHoursFailures += run.lostFail / 3600
		r.LostGPUHoursPreemption += run.lostPre / 3600
		if i >= s.nTrace {
			// The inference service runs for its trace's span: it is not
			// counted with the jobs' completion and waiting times.
			continue
		}
		if rec.Start >= 0 {
			wait = append(wait, max(0, rec.Start-j.Submit)) // the clock rounds arrivals to the nanosecond
		}
		if rec.Finish >= 0 {
			jct = append(jct, max(0, rec.Finish-j.Submit))
			r.GPUHours += j.GPUSeconds() / 3600
			completedTrace++
		}
	}
	r.JobsSubmitted, r.JobsCompleted = s.nTrace, completedTrace
	r.JobsUnfinished = r.JobsSubmitted - r.JobsCompleted - r.JobsRejected
	sortFloats(jct)
	sortFloats(wait)
	r.AvgJCT, r.P50JCT, r.P95JCT, r.P99JCT = mean(jct), percentile(jct, 50), percentile(jct, 95), percentile(jct, 99)
	r.AvgWait, r.P50Wait, r.P95Wait, r.P99Wait = mean(wait), percentile(wait, 50), percentile(wait, 95), percentile(wait, 99)
	r.Tenants = s.tenantResults(r.Jobs)
	r.GridEvents = s.gridResults()
	s.nameHottest()
	for li, l := range levels {
		pk := s.peak[li]
		lp := LevelPower{Level: l.String(), PeakRatio: round(pk.ratio, 6), SecondsAbove: s.overSecs[li], LongestAbove: s.overLongest[li]}
		if len(s.dom[li]) > 0 {
			lp.PeakDomain = s.snap.DomainName(l, pk.domain)
			lp.PeakKW = pk.w / 1e3
			lp.LimitKW = s.dom[li][pk.domain].rated / 1e3
		}
		r.Levels = append(r.Levels, lp)
	}
	for si := range s.f.Sites {
		se := &s.siteEnergy[si]
		site := &s.f.Sites[si]
		sr := SiteResult{Name: site.Name, LimitMW: s.dom[0][si].rated / 1e6, PeakMW: se.peakW / 1e6,
			EnergyMWh: se.mwh, EmissionsTCO2: se.tco2, CostUSD: se.usd, Accelerators: s.siteAccels[si]}
		if s.lastFinish > 0 && s.siteAccels[si] > 0 {
			sr.Utilization = s.siteSecs[si] / (s.lastFinish.Seconds() * float64(s.siteAccels[si]))
		}
		r.Sites = append(r.Sites, sr)
		r.EnergyMWh += se.mwh
		r.EmissionsTCO2 += se.tco2
		r.CostUSD += se.usd
		r.SiteNames = append(r.SiteNames, site.Name)
		r.SiteLimitMW = append(r.SiteLimitMW, s.dom[0][si].rated/1e6)
		r.SitePUE = append(r.SitePUE, site.PUE)
	}
	return r
}

// nameHottest fills in the names of the hottest domains of the series.
func (s *Sim) nameHottest() {
	names := make([]map[int32]string, len(levels))
	for li := range names {
		names[li] = map[int32]string{}
	}
	for i := range s.series {
		for li, h := range s.series[i].Hottest {
			if h.Domain < 0 {
				continue
			}
			n, ok := names[li][h.Domain]
			if !ok {
				n = s.snap.DomainName(levels[li], h.Domain)
				names[li][h.Domain] = n
			}
			s.series[i].Hottest[li].Name = n
		}
	}
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

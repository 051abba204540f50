package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"

	"stargate/fleet"
	"stargate/internal/buildinfo"
	"stargate/store"
)

// metrics are the server's Prometheus metrics, in its own registry.
type metrics struct {
	reg           *prometheus.Registry
	apiLatency    *prometheus.HistogramVec
	commitLatency prometheus.Histogram
	batchSize     prometheus.Histogram
	submitted     prometheus.Counter
	passLatency   prometheus.Histogram
	decisions     *prometheus.CounterVec
}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		apiLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "stargate_api_request_duration_seconds", Help: "API request latency by route and status.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 14),
		}, []string{"route", "code"}),
		commitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "stargate_submit_commit_duration_seconds", Help: "Latency of one group commit of submitted jobs.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 14),
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "stargate_submit_batch_jobs", Help: "Jobs committed per group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}),
		submitted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stargate_jobs_submitted_total", Help: "Jobs accepted and committed.",
		}),
		passLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "stargate_schedule_pass_duration_seconds", Help: "Latency of one reconcile pass, decisions committed.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 14),
		}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stargate_decisions_total", Help: "Decisions committed by the reconcile loop, by action.",
		}, []string{"action"}),
	}
	bi := buildinfo.Read()
	build := prometheus.NewGauge(prometheus.GaugeOpts{Name: "stargate_build_info", Help: "1, labelled with the running build.",
		ConstLabels: prometheus.Labels{"version": bi.Version, "revision": bi.Revision, "go_version": bi.GoVersion}})
	build.Set(1)
	m.reg.MustRegister(build, m.apiLatency, m.commitLatency, m.batchSize, m.submitted, m.passLatency, m.decisions,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "stargate_leader", Help: "1 when this replica runs the scheduler."},
			func() float64 {
				if s.IsLeader() {
					return 1
				}
				return 0
			}),
		&stateCollector{s: s, domains: domainLabels(s.fleet)})
	return m
}

// stateCollector reads the store and the power tree at scrape time.
type stateCollector struct {
	s *Server
	// domains are the label pairs of the power domains' series, by
	// level (site, hall, row) and index in the fleet, made once: a
	// million-GPU fleet has thousands of domains, and making their labels
	// anew took most of a scrape.
	domains [fleet.LevelRow + 1][][]*dto.LabelPair
}

// domainGauge is one power domain's draw or limit, its labels made once
// (stateCollector.domains).
type domainGauge struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair
	value  float64
}

func (g domainGauge) Desc() *prometheus.Desc { return g.desc }

func (g domainGauge) Write(m *dto.Metric) error {
	v := g.value
	m.Label, m.Gauge = g.labels, &dto.Gauge{Value: &v}
	return nil
}

// domainLabels makes the label pairs of every site, hall and row.
func domainLabels(f *fleet.Fleet) [fleet.LevelRow + 1][][]*dto.LabelPair {
	var out [fleet.LevelRow + 1][][]*dto.LabelPair
	pairs := func(level, name string) []*dto.LabelPair {
		return prometheus.MakeLabelPairs(descDraw, []string{level, name}) // descLimit's labels are the same
	}
	out[fleet.LevelSite] = make([][]*dto.LabelPair, len(f.Sites))
	out[fleet.LevelHall] = make([][]*dto.LabelPair, len(f.Halls))
	out[fleet.LevelRow] = make([][]*dto.LabelPair, len(f.Rows))
	for i := range f.Sites {
		st := &f.Sites[i]
		out[fleet.LevelSite][i] = pairs("site", st.Name)
		for hi := st.First; hi < st.End; hi++ {
			h := &f.Halls[hi]
			hn := st.Name + "/" + h.Name
			out[fleet.LevelHall][hi] = pairs("hall", hn)
			for ri := h.First; ri < h.End; ri++ {
				out[fleet.LevelRow][ri] = pairs("row", hn+"/"+f.Rows[ri].Name)
			}
		}
	}
	return out
}

var (
	descJobs    = prometheus.NewDesc("stargate_jobs", "Jobs by tenant and state.", []string{"tenant", "state"}, nil)
	descQueue   = prometheus.NewDesc("stargate_queue_depth", "Pending jobs by tenant.", []string{"tenant"}, nil)
	descRunning = prometheus.NewDesc("stargate_running_jobs", "Running jobs.", nil, nil)
	descAlloc   = prometheus.NewDesc("stargate_accelerators_allocated", "Accelerators held by running jobs.", nil, nil)
	descDraw    = prometheus.NewDesc("stargate_power_draw_watts", "IT draw below a power domain (site, hall, row).", []string{"level", "domain"}, nil)
	descLimit   = prometheus.NewDesc("stargate_power_limit_watts", "Rated limit of a power domain; for sites the IT share of the substation.", []string{"level", "domain"}, nil)
	descNodes   = prometheus.NewDesc("stargate_nodes", "Registered nodes by state.", []string{"state"}, nil)
	descGrid    = prometheus.NewDesc("stargate_grid_event_target_mw", "The facility draw a grid event in force or announced allows its scope (0 for a share of a draw not yet measured).",
		[]string{"event", "scope", "kind", "state"}, nil)
)

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descJobs, descQueue, descRunning, descAlloc, descDraw, descLimit, descNodes, descGrid} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s := c.s
	if counts, err := s.jobCounts(ctx); err == nil {
		running, alloc := 0, 0
		queue := map[string]int{}
		for _, jc := range counts {
			ch <- prometheus.MustNewConstMetric(descJobs, prometheus.GaugeValue, float64(jc.Jobs), jc.Tenant, string(jc.State))
			switch jc.State {
			case store.JobPending:
				queue[jc.Tenant] += jc.Jobs
			case store.JobRunning:
				running += jc.Jobs
				alloc += jc.Accelerators
			}
		}
		for t, n := range queue {
			ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(n), t)
		}
		ch <- prometheus.MustNewConstMetric(descRunning, prometheus.GaugeValue, float64(running))
		ch <- prometheus.MustNewConstMetric(descAlloc, prometheus.GaugeValue, float64(alloc))
	} else {
		s.log.Warn("metrics: job counts", "err", err)
	}
	if evs, err := s.store.GridEvents(ctx, store.GridScheduled, store.GridActive); err == nil {
		for _, e := range evs {
			ch <- prometheus.MustNewConstMetric(descGrid, prometheus.GaugeValue, GridTargetMW(e), e.ID, e.ScopeKind+"/"+e.Scope, e.Kind, e.State)
		}
	} else {
		s.log.Warn("metrics: grid events", "err", err)
	}
	ps, err := s.powerNow(ctx)
	if err != nil {
		s.log.Warn("metrics: power", "err", err)
		return
	}
	for st, n := range ps.byState {
		ch <- prometheus.MustNewConstMetric(descNodes, prometheus.GaugeValue, float64(n), string(st))
	}
	f := s.fleet
	gauge := func(d *prometheus.Desc, l fleet.Level, i int32, v float64) {
		ch <- domainGauge{desc: d, labels: c.domains[l][i], value: v}
	}
	for i := range f.Sites {
		st := &f.Sites[i]
		gauge(descDraw, fleet.LevelSite, int32(i), ps.site[i])
		gauge(descLimit, fleet.LevelSite, int32(i), float64(st.LimitW)/st.PUE)
		for hi := st.First; hi < st.End; hi++ {
			h := &f.Halls[hi]
			gauge(descDraw, fleet.LevelHall, hi, ps.hall[hi])
			gauge(descLimit, fleet.LevelHall, hi, float64(h.LimitW))
			for ri := h.First; ri < h.End; ri++ {
				gauge(descDraw, fleet.LevelRow, ri, ps.row[ri])
				gauge(descLimit, fleet.LevelRow, ri, float64(f.Rows[ri].LimitW))
			}
		}
	}
}

package server

import (
	"context"
	"maps"
	"slices"
	"strings"
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
	state         *stateCollector
}

// gatherer is what GET /metrics serves.
func (m *metrics) gatherer() prometheus.Gatherer { return gatherer{reg: m.reg, c: m.state} }

func newMetrics(s *Server) *metrics {
	m := &metrics{
		reg:   prometheus.NewRegistry(),
		state: &stateCollector{s: s, domains: domainSeriesOf(s.fleet)},
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
		m.state)
	return m
}

// stateCollector reads the store at scrape time; the power view's
// families are the gatherer's.
type stateCollector struct {
	s *Server
	// domains are the power domains (site, hall, row) in the order of
	// their series' labels, each with its label pairs, made once: a
	// million-GPU fleet has thousands of domains, and making their labels
	// anew took most of a scrape.
	domains []domainSeries
}

// domainSeries is one power domain's labels, made once.
type domainSeries struct {
	level  fleet.Level
	index  int32
	labels []*dto.LabelPair
}

// domainSeriesOf lists the series of every site, hall and row, sorted as
// a registry sorts a family's metrics: by their label pairs.
func domainSeriesOf(f *fleet.Fleet) []domainSeries {
	var out []domainSeries
	add := func(l fleet.Level, i int32, level, name string) {
		out = append(out, domainSeries{level: l, index: i, labels: labelPairs("domain", name, "level", level)})
	}
	for i := range f.Sites {
		st := &f.Sites[i]
		add(fleet.LevelSite, int32(i), "site", st.Name)
		for hi := st.First; hi < st.End; hi++ {
			hn := st.Name + "/" + f.Halls[hi].Name
			add(fleet.LevelHall, hi, "hall", hn)
			for ri := f.Halls[hi].First; ri < f.Halls[hi].End; ri++ {
				add(fleet.LevelRow, ri, "row", hn+"/"+f.Rows[ri].Name)
			}
		}
	}
	slices.SortFunc(out, func(a, b domainSeries) int {
		for i := range a.labels {
			if c := strings.Compare(a.labels[i].GetValue(), b.labels[i].GetValue()); c != 0 {
				return c
			}
		}
		return 0
	})
	return out
}

// labelPairs makes a series' label pairs from names and values, given
// in the order of the names.
func labelPairs(nameValues ...string) []*dto.LabelPair {
	out := make([]*dto.LabelPair, 0, len(nameValues)/2)
	for i := 0; i+1 < len(nameValues); i += 2 {
		out = append(out, &dto.LabelPair{Name: &nameValues[i], Value: &nameValues[i+1]})
	}
	return out
}

// gatherer is what GET /metrics serves: the registry's metrics, and the
// families of the power view (the nodes by state, the power domains'
// draw and limit), made here from one read of it, the domains' labels
// made once and in their order. A registry checks and sorts each of a
// family's metrics on every scrape; over 100,000 nodes the domains' 3,400
// series took a third of one.
type gatherer struct {
	reg *prometheus.Registry
	c   *stateCollector
}

// Gather implements prometheus.Gatherer.
func (g gatherer) Gather() ([]*dto.MetricFamily, error) {
	mfs, err := g.reg.Gather()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ps, perr := g.c.s.powerNow(ctx)
	if perr != nil {
		g.c.s.log.Warn("metrics: power", "err", perr)
		return mfs, err
	}
	mfs = append(mfs, g.c.powerFamilies(ps)...)
	slices.SortFunc(mfs, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return mfs, err
}

// gaugeFamily is an empty family of gauges with room for n series.
func gaugeFamily(name, help string, n int) *dto.MetricFamily {
	return &dto.MetricFamily{Name: &name, Help: &help, Type: dto.MetricType_GAUGE.Enum(), Metric: make([]*dto.Metric, 0, n)}
}

// powerFamilies are the nodes by state, and the draw and the limit of
// every power domain.
func (c *stateCollector) powerFamilies(ps *powerState) []*dto.MetricFamily {
	nodes := gaugeFamily("stargate_nodes", "Registered nodes by state.", len(ps.byState))
	for _, st := range slices.Sorted(maps.Keys(ps.byState)) {
		v := float64(ps.byState[st])
		nodes.Metric = append(nodes.Metric, &dto.Metric{Label: labelPairs("state", string(st)), Gauge: &dto.Gauge{Value: &v}})
	}
	f := c.s.fleet
	n := len(c.domains)
	draw := gaugeFamily("stargate_power_draw_watts", "IT draw below a power domain (site, hall, row).", n)
	limit := gaugeFamily("stargate_power_limit_watts", "Rated limit of a power domain; for sites the IT share of the substation.", n)
	// one allocation each for all the values, gauges and metrics: the
	// draws in the first half, the limits in the second
	vals, gs, ms := make([]float64, 2*n), make([]dto.Gauge, 2*n), make([]dto.Metric, 2*n)
	for i, d := range c.domains {
		switch d.level {
		case fleet.LevelSite:
			vals[i], vals[n+i] = ps.site[d.index], float64(f.Sites[d.index].LimitW)/f.Sites[d.index].PUE
		case fleet.LevelHall:
			vals[i], vals[n+i] = ps.hall[d.index], float64(f.Halls[d.index].LimitW)
		default:
			vals[i], vals[n+i] = ps.row[d.index], float64(f.Rows[d.index].LimitW)
		}
	}
	for j := range ms {
		gs[j].Value = &vals[j]
		ms[j].Label, ms[j].Gauge = c.domains[j%n].labels, &gs[j]
	}
	for i := range n {
		draw.Metric = append(draw.Metric, &ms[i])
		limit.Metric = append(limit.Metric, &ms[n+i])
	}
	return []*dto.MetricFamily{nodes, draw, limit}
}

var (
	descJobs    = prometheus.NewDesc("stargate_jobs", "Jobs by tenant and state.", []string{"tenant", "state"}, nil)
	descQueue   = prometheus.NewDesc("stargate_queue_depth", "Pending jobs by tenant.", []string{"tenant"}, nil)
	descRunning = prometheus.NewDesc("stargate_running_jobs", "Running jobs.", nil, nil)
	descAlloc   = prometheus.NewDesc("stargate_accelerators_allocated", "Accelerators held by running jobs.", nil, nil)
	descGrid    = prometheus.NewDesc("stargate_grid_event_target_mw", "The facility draw a grid event in force or announced allows its scope (0 for a share of a draw not yet measured).",
		[]string{"event", "scope", "kind", "state"}, nil)
)

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descJobs, descQueue, descRunning, descAlloc, descGrid} {
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
}

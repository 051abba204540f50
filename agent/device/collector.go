package device

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// dcgmLabels are the labels dcgm-exporter puts on every device metric, so
// that Grafana boards written for it (the NVIDIA DCGM Exporter dashboard
// among them) select our series unchanged.
var dcgmLabels = []string{"gpu", "UUID", "device", "modelName", "Hostname"}

// dcgm is one dcgm-exporter metric: its name, help (dcgm-exporter's
// default-counters.csv wording, units included), type and value.
type dcgm struct {
	desc  *prometheus.Desc
	typ   prometheus.ValueType
	value func(r *Reading) (v float64, ok bool)
}

func newDCGM(name, help string, typ prometheus.ValueType, value func(r *Reading) (float64, bool)) dcgm {
	return dcgm{desc: prometheus.NewDesc(name, help, dcgmLabels, nil), typ: typ, value: value}
}

func always(f func(r *Reading) float64) func(r *Reading) (float64, bool) {
	return func(r *Reading) (float64, bool) { return f(r), true }
}

func ifKnown(f func(r *Reading) float64) func(r *Reading) (float64, bool) {
	return func(r *Reading) (float64, bool) { v := f(r); return v, v > 0 }
}

// dcgmMetrics are the exported metrics. A value the backend does not
// report (0 where 0 means unknown) is left out rather than exported as 0.
var dcgmMetrics = []dcgm{
	newDCGM("DCGM_FI_DEV_POWER_USAGE", "Power draw (in W).", prometheus.GaugeValue,
		always(func(r *Reading) float64 { return r.PowerW })),
	newDCGM("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "Total energy consumption since boot (in mJ).", prometheus.CounterValue,
		ifKnown(func(r *Reading) float64 { return r.EnergyJ * 1000 })),
	newDCGM("DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %).", prometheus.GaugeValue,
		always(func(r *Reading) float64 { return r.Util * 100 })),
	newDCGM("DCGM_FI_DEV_GPU_TEMP", "GPU temperature (in C).", prometheus.GaugeValue,
		always(func(r *Reading) float64 { return r.TempC })),
	newDCGM("DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB).", prometheus.GaugeValue,
		always(func(r *Reading) float64 { return r.MemUsedMiB })),
	newDCGM("DCGM_FI_DEV_FB_FREE", "Framebuffer memory free (in MiB).", prometheus.GaugeValue,
		func(r *Reading) (float64, bool) { return max(r.MemTotalMiB-r.MemUsedMiB, 0), r.MemTotalMiB > 0 }),
	newDCGM("DCGM_FI_DEV_SM_CLOCK", "SM clock frequency (in MHz).", prometheus.GaugeValue,
		ifKnown(func(r *Reading) float64 { return r.SMClockMHz })),
	newDCGM("DCGM_FI_DEV_POWER_MGMT_LIMIT", "Power management limit (in W).", prometheus.GaugeValue,
		ifKnown(func(r *Reading) float64 { return r.LimitW })),
}

// Stargate's own metrics, for what dcgm-exporter has no name for.
var (
	healthyDesc = prometheus.NewDesc("stargate_device_healthy",
		"1 if the device is usable, 0 if it is fatal (vanished, fatal XID, uncorrectable ECC); the agent's heartbeat says why.",
		dcgmLabels, nil)
	readUpDesc = prometheus.NewDesc("stargate_device_read_up",
		"1 if the last read of the node's devices succeeded, 0 if it failed.",
		[]string{"backend", "Hostname"}, nil)
)

// collector reads d once per scrape.
type collector struct {
	d        Devices
	hostname string
}

// NewCollector returns a Prometheus collector of d's readings under
// dcgm-exporter's metric names, units and labels (gpu, UUID, device as
// "nvidia<index>", modelName, Hostname), so that dashboards made for
// dcgm-exporter work on Stargate's agents, with NVML or fake devices. It
// reads d once per scrape. A fatal device exports only
// stargate_device_healthy 0; stargate_device_read_up says whether the read
// itself succeeded (a failed read exports no device metric rather than
// failing the whole scrape).
func NewCollector(d Devices, hostname string) prometheus.Collector {
	return &collector{d: d, hostname: hostname}
}

// Describe sends every metric's description.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range dcgmMetrics {
		ch <- m.desc
	}
	ch <- healthyDesc
	ch <- readUpDesc
}

// Collect reads the devices and sends their metrics.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	rs, err := c.d.Read()
	up := 1.0
	if err != nil {
		up = 0
	}
	ch <- prometheus.MustNewConstMetric(readUpDesc, prometheus.GaugeValue, up, c.d.Name(), c.hostname)
	if err != nil {
		return
	}
	for i := range rs {
		r := &rs[i]
		labels := []string{strconv.Itoa(r.Index), r.UUID, "nvidia" + strconv.Itoa(r.Index), r.Model, c.hostname}
		healthy := 1.0
		if r.Fatal != "" {
			healthy = 0
		}
		ch <- prometheus.MustNewConstMetric(healthyDesc, prometheus.GaugeValue, healthy, labels...)
		if r.Fatal != "" {
			continue
		}
		for _, m := range dcgmMetrics {
			if v, ok := m.value(r); ok {
				ch <- prometheus.MustNewConstMetric(m.desc, m.typ, v, labels...)
			}
		}
	}
}

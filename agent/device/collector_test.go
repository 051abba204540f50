package device_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"stargate/agent/device"
)

var dcgmNames = []string{
	"DCGM_FI_DEV_POWER_USAGE",
	"DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
	"DCGM_FI_DEV_GPU_UTIL",
	"DCGM_FI_DEV_GPU_TEMP",
	"DCGM_FI_DEV_FB_USED",
	"DCGM_FI_DEV_FB_FREE",
	"DCGM_FI_DEV_SM_CLOCK",
	"DCGM_FI_DEV_POWER_MGMT_LIMIT",
}

func registry(t *testing.T, d device.Devices) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(device.NewCollector(d, "node-a")); err != nil {
		t.Fatal(err)
	}
	return reg
}

func TestCollectorDCGMNames(t *testing.T) {
	clock := newClock()
	f := device.NewFake(h100(clock, 2))
	f.SetLoad(0, 1)
	f.SetCap(0, 400)
	clock.Advance(10 * time.Second)
	uuids := map[string]string{}
	for _, r := range read(t, f) {
		uuids[r.UUID] = string(rune('0' + r.Index))
	}

	mfs, err := registry(t, f).Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if strings.HasPrefix(mf.GetName(), "DCGM_") || mf.GetName() == "stargate_device_healthy" {
				gpu := uuids[labels["UUID"]]
				if gpu == "" || labels["gpu"] != gpu || labels["device"] != "nvidia"+gpu ||
					labels["modelName"] != "h100-sxm" || labels["Hostname"] != "node-a" {
					t.Errorf("%s has labels %v", mf.GetName(), labels)
				}
			}
			got[mf.GetName()]++
		}
	}
	for _, name := range append(dcgmNames, "stargate_device_healthy") {
		if got[name] != 2 {
			t.Errorf("%s: %d series, want one per device (2)", name, got[name])
		}
	}
}

// scrape gathers reg into series keyed "name{label=value,...}" (labels
// sorted by name), and each family's type.
func scrape(t *testing.T, reg *prometheus.Registry) (series map[string]float64, types map[string]string) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("scrape failed: %v", err)
	}
	series, types = map[string]float64{}, map[string]string{}
	for _, mf := range mfs {
		types[mf.GetName()] = mf.GetType().String()
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() { // Gather sorts them by name
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			series[mf.GetName()+"{"+strings.Join(ls, ",")+"}"] = v
		}
	}
	return series, types
}

func TestCollectorValues(t *testing.T) {
	clock := newClock()
	f := device.NewFake(h100(clock, 2))
	f.SetLoad(0, 1)
	f.SetCap(0, 400)
	clock.Advance(10 * time.Second)
	rs := read(t, f)
	key := func(name string, gpu int) string {
		return fmt.Sprintf("%s{Hostname=node-a,UUID=%s,device=nvidia%d,gpu=%d,modelName=h100-sxm}", name, rs[gpu].UUID, gpu, gpu)
	}
	series, types := scrape(t, registry(t, f))
	for _, c := range []struct {
		name   string
		typ    string
		v0, v1 float64
	}{
		{"DCGM_FI_DEV_POWER_USAGE", "GAUGE", 400, 70},
		{"DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "COUNTER", 4e6, 7e5}, // mJ: 10 s at 400 W and at 70 W
		{"DCGM_FI_DEV_GPU_UTIL", "GAUGE", 100, 0},
		{"DCGM_FI_DEV_FB_USED", "GAUGE", 73728, 0},
		{"DCGM_FI_DEV_FB_FREE", "GAUGE", 8192, 81920},
		{"DCGM_FI_DEV_SM_CLOCK", "GAUGE", 1980, 345},
		{"DCGM_FI_DEV_POWER_MGMT_LIMIT", "GAUGE", 400, 700},
		{"DCGM_FI_DEV_GPU_TEMP", "GAUGE", 30 + 50*400/700.0, 30 + 50*70/700.0},
		{"stargate_device_healthy", "GAUGE", 1, 1},
	} {
		if types[c.name] != c.typ {
			t.Errorf("%s is a %s, want %s", c.name, types[c.name], c.typ)
		}
		for gpu, want := range []float64{c.v0, c.v1} {
			k := key(c.name, gpu)
			if got, ok := series[k]; !ok || !near(got, want) {
				t.Errorf("%s = %g (present %v), want %g", k, got, ok, want)
			}
		}
	}
	if v, ok := series["stargate_device_read_up{Hostname=node-a,backend=fake}"]; !ok || v != 1 {
		t.Errorf("read_up = %g (present %v), want 1", v, ok)
	}
}

func TestCollectorFatal(t *testing.T) {
	clock := newClock()
	f := device.NewFake(h100(clock, 2))
	clock.Advance(time.Second)
	f.Fail(1, "vanished")
	rs := read(t, f)
	series, _ := scrape(t, registry(t, f))
	for k := range series {
		if strings.Contains(k, rs[1].UUID) && !strings.HasPrefix(k, "stargate_device_healthy{") {
			t.Errorf("fatal device exports %s", k)
		}
	}
	for gpu, want := range []float64{1, 0} {
		k := fmt.Sprintf("stargate_device_healthy{Hostname=node-a,UUID=%s,device=nvidia%d,gpu=%d,modelName=h100-sxm}", rs[gpu].UUID, gpu, gpu)
		if v, ok := series[k]; !ok || v != want {
			t.Errorf("%s = %g (present %v), want %g", k, v, ok, want)
		}
	}
	for _, name := range dcgmNames {
		k := fmt.Sprintf("%s{Hostname=node-a,UUID=%s,device=nvidia0,gpu=0,modelName=h100-sxm}", name, rs[0].UUID)
		if _, ok := series[k]; !ok {
			t.Errorf("healthy device 0 lacks %s", name)
		}
	}
}

// broken is a backend whose Read fails.
type broken struct{ device.None }

func (broken) Name() string                    { return "nvml" }
func (broken) Count() int                      { return 8 }
func (broken) Read() ([]device.Reading, error) { return nil, errors.New("driver gone") }

func TestCollectorReadError(t *testing.T) {
	series, _ := scrape(t, registry(t, broken{}))
	want := map[string]float64{"stargate_device_read_up{Hostname=node-a,backend=nvml}": 0}
	if !reflect.DeepEqual(series, want) {
		t.Errorf("a failed read exports %v, want only read_up 0 (and the scrape must not fail)", series)
	}
}

func TestCollectorNone(t *testing.T) {
	series, _ := scrape(t, registry(t, device.None{}))
	want := map[string]float64{"stargate_device_read_up{Hostname=node-a,backend=none}": 1}
	if !reflect.DeepEqual(series, want) {
		t.Errorf("a node without devices exports %v, want %v", series, want)
	}
}

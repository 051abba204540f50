//go:build nvml

package device

import (
	"errors"
	"strings"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
)

// These tests run the NVML backend against go-nvml's mocks: no driver, no
// GPU. Each simGPU is one GPU's state behind a mock.Device.

type simGPU struct {
	powerMW, util, tempC, smMHz  uint32
	energyMJ, usedB, totalB, ecc uint64
	limitMW, defaultMW, minMW    uint32
	maxMW                        uint32
	setRet                       nvml.Return // what SetPowerManagementLimit returns
	sets                         []uint32
	lost, remapFailed, noSupport bool
}

func h100GPU() *simGPU {
	return &simGPU{
		powerMW: 350_500, energyMJ: 5_000_000, util: 50, tempC: 61, smMHz: 1980,
		usedB: 40 << 30, totalB: 80 << 30,
		limitMW: 700_000, defaultMW: 700_000, minMW: 200_000, maxMW: 700_000,
	}
}

func (g *simGPU) ret() nvml.Return {
	if g.lost {
		return nvml.ERROR_GPU_IS_LOST
	}
	return nvml.SUCCESS
}

func (g *simGPU) device(uuid string) *mock.Device {
	return &mock.Device{
		GetUUIDFunc:                        func() (string, nvml.Return) { return uuid, g.ret() },
		GetNameFunc:                        func() (string, nvml.Return) { return "NVIDIA H100 80GB HBM3", g.ret() },
		GetPowerUsageFunc:                  func() (uint32, nvml.Return) { return g.powerMW, g.ret() },
		GetTotalEnergyConsumptionFunc:      func() (uint64, nvml.Return) { return g.energyMJ, g.ret() },
		GetUtilizationRatesFunc:            func() (nvml.Utilization, nvml.Return) { return nvml.Utilization{Gpu: g.util}, g.ret() },
		GetTemperatureFunc:                 func(nvml.TemperatureSensors) (uint32, nvml.Return) { return g.tempC, g.ret() },
		GetPowerManagementLimitFunc:        func() (uint32, nvml.Return) { return g.limitMW, g.ret() },
		GetPowerManagementDefaultLimitFunc: func() (uint32, nvml.Return) { return g.defaultMW, g.ret() },
		GetMemoryInfoFunc: func() (nvml.Memory, nvml.Return) {
			return nvml.Memory{Used: g.usedB, Total: g.totalB, Free: g.totalB - g.usedB}, g.ret()
		},
		GetClockInfoFunc: func(c nvml.ClockType) (uint32, nvml.Return) {
			if c != nvml.CLOCK_SM {
				return 0, nvml.ERROR_INVALID_ARGUMENT
			}
			return g.smMHz, g.ret()
		},
		GetTotalEccErrorsFunc: func(t nvml.MemoryErrorType, c nvml.EccCounterType) (uint64, nvml.Return) {
			if t != nvml.MEMORY_ERROR_TYPE_UNCORRECTED || c != nvml.VOLATILE_ECC {
				return 1 << 40, g.ret() // a wrong counter would read fatal
			}
			return g.ecc, g.ret()
		},
		GetRemappedRowsFunc: func() (int, int, bool, bool, nvml.Return) {
			if g.noSupport {
				return 0, 0, false, false, nvml.ERROR_NOT_SUPPORTED
			}
			return 0, 0, false, g.remapFailed, g.ret()
		},
		GetPowerManagementLimitConstraintsFunc: func() (uint32, uint32, nvml.Return) { return g.minMW, g.maxMW, g.ret() },
		SetPowerManagementLimitFunc: func(mw uint32) nvml.Return {
			if g.lost {
				return nvml.ERROR_GPU_IS_LOST
			}
			if g.setRet != nvml.SUCCESS {
				return g.setRet
			}
			g.sets = append(g.sets, mw)
			g.limitMW = mw
			return nvml.SUCCESS
		},
		GetSupportedEventTypesFunc: func() (uint64, nvml.Return) {
			return nvml.EventTypeXidCriticalError | nvml.EventTypeDoubleBitEccError | nvml.EventTypeSingleBitEccError, g.ret()
		},
		RegisterEventsFunc: func(uint64, nvml.EventSet) nvml.Return { return nvml.SUCCESS },
	}
}

// simNode is a mock NVML library over simGPUs, with a queue of events.
type simNode struct {
	gpus      []*simGPU
	devs      []*mock.Device
	events    []nvml.EventData
	initRet   nvml.Return
	countRet  nvml.Return
	shutdowns int
	freed     int
}

func newSimNode(n int) *simNode {
	s := &simNode{}
	for i := range n {
		g := h100GPU()
		s.gpus = append(s.gpus, g)
		s.devs = append(s.devs, g.device("GPU-"+string(rune('a'+i))))
	}
	return s
}

func (s *simNode) lib() *mock.Interface {
	return &mock.Interface{
		InitFunc:           func() nvml.Return { return s.initRet },
		ShutdownFunc:       func() nvml.Return { s.shutdowns++; return nvml.SUCCESS },
		DeviceGetCountFunc: func() (int, nvml.Return) { return len(s.gpus), s.countRet },
		DeviceGetHandleByIndexFunc: func(i int) (nvml.Device, nvml.Return) {
			if s.gpus[i].lost {
				return nil, nvml.ERROR_GPU_IS_LOST
			}
			return s.devs[i], nvml.SUCCESS
		},
		EventSetCreateFunc: func() (nvml.EventSet, nvml.Return) {
			return &mock.EventSet{
				WaitFunc: func(uint32) (nvml.EventData, nvml.Return) {
					if len(s.events) == 0 {
						return nvml.EventData{}, nvml.ERROR_TIMEOUT
					}
					e := s.events[0]
					s.events = s.events[1:]
					return e, nvml.SUCCESS
				},
				FreeFunc: func() nvml.Return { s.freed++; return nvml.SUCCESS },
			}, nvml.SUCCESS
		},
	}
}

func (s *simNode) open(t *testing.T) *nvmlDevices {
	t.Helper()
	v, err := openNVML(s.lib())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustRead(t *testing.T, d Devices) []Reading {
	t.Helper()
	rs, err := d.Read()
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestNVMLRead(t *testing.T) {
	s := newSimNode(2)
	v := s.open(t)
	defer v.Close()
	if v.Name() != "nvml" || v.Count() != 2 {
		t.Fatalf("%s with %d devices", v.Name(), v.Count())
	}
	r := mustRead(t, v)[1]
	want := Reading{
		Index: 1, UUID: "GPU-b", Model: "NVIDIA H100 80GB HBM3",
		PowerW: 350.5, EnergyJ: 5000, Util: 0.5, MemUsedMiB: 40 * 1024, MemTotalMiB: 80 * 1024,
		TempC: 61, SMClockMHz: 1980, LimitW: 700,
	}
	if r != want {
		t.Errorf("reading\n got %+v\nwant %+v", r, want)
	}
	// A limit set by another tool reads as a cap.
	s.gpus[0].limitMW = 500_000
	if r := mustRead(t, v)[0]; r.CapW != 500 || r.LimitW != 500 {
		t.Errorf("limit changed outside: cap %g limit %g, want 500 and 500", r.CapW, r.LimitW)
	}
	// Unsupported fields stay 0 and do not make the device fatal.
	s.gpus[1].noSupport = true
	if r := mustRead(t, v)[1]; r.Fatal != "" {
		t.Errorf("an unsupported query made the device fatal: %q", r.Fatal)
	}
}

func TestNVMLSetCap(t *testing.T) {
	s := newSimNode(3)
	v := s.open(t)

	applied, err := v.SetCap(0, 400)
	if err != nil || applied != 400 || s.gpus[0].limitMW != 400_000 {
		t.Fatalf("SetCap(0, 400) = %g, %v; limit %d mW", applied, err, s.gpus[0].limitMW)
	}
	if r := mustRead(t, v)[0]; r.CapW != 400 || r.LimitW != 400 {
		t.Errorf("after SetCap(0, 400): cap %g limit %g", r.CapW, r.LimitW)
	}

	// Out of NVML's range: refused, naming it, nothing set.
	_, err = v.SetCap(0, 150)
	var re *RangeError
	if !errors.As(err, &re) || !errors.Is(err, ErrOutOfRange) || re.MinW != 200 || re.MaxW != 700 {
		t.Errorf("SetCap(0, 150): %v; want a RangeError [200, 700]", err)
	}
	if _, err := v.SetCap(0, 700.5); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("SetCap(0, 700.5): %v", err)
	}
	if len(s.gpus[0].sets) != 1 {
		t.Errorf("refused caps reached NVML: %v", s.gpus[0].sets)
	}

	// No permission.
	s.gpus[2].setRet = nvml.ERROR_NO_PERMISSION
	if _, err := v.SetCap(2, 300); !errors.Is(err, ErrPermission) {
		t.Errorf("SetCap without permission: %v, want ErrPermission", err)
	}
	if s.gpus[2].limitMW != 700_000 {
		t.Errorf("limit changed despite no permission")
	}

	// Restore with 0, then cap device 1; Close restores only what is
	// still changed.
	if applied, err := v.SetCap(0, 0); err != nil || applied != 700 {
		t.Errorf("SetCap(0, 0) = %g, %v; want 700", applied, err)
	}
	if _, err := v.SetCap(1, 249.9996); err != nil { // rounds to the nearest mW
		t.Fatal(err)
	}
	if got := s.gpus[1].limitMW; got != 250_000 {
		t.Errorf("249.9996 W set as %d mW, want 250000", got)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if got := s.gpus[0].sets; len(got) != 2 {
		t.Errorf("device 0, restored before Close, was set %v; want [400000 700000]", got)
	}
	if got := s.gpus[1].sets; len(got) != 2 || got[1] != 700_000 {
		t.Errorf("device 1 sets %v; want its cap then the default", got)
	}
	if s.shutdowns != 1 || s.freed != 1 {
		t.Errorf("Close: %d shutdowns, %d event sets freed; want 1 and 1", s.shutdowns, s.freed)
	}
	if err := v.Close(); err != nil || s.shutdowns != 1 {
		t.Errorf("second Close: %v, %d shutdowns", err, s.shutdowns)
	}
	if _, err := v.Read(); !errors.Is(err, ErrClosed) {
		t.Errorf("Read after Close: %v", err)
	}
	if _, err := v.SetCap(0, 300); !errors.Is(err, ErrClosed) {
		t.Errorf("SetCap after Close: %v", err)
	}
}

func TestNVMLCloseReportsFailedRestore(t *testing.T) {
	s := newSimNode(1)
	v := s.open(t)
	if _, err := v.SetCap(0, 300); err != nil {
		t.Fatal(err)
	}
	s.gpus[0].setRet = nvml.ERROR_NO_PERMISSION
	if err := v.Close(); err == nil || !strings.Contains(err.Error(), "restore device 0") {
		t.Errorf("Close with a failing restore: %v", err)
	}
	if s.shutdowns != 1 {
		t.Errorf("NVML not shut down after a failed restore")
	}
}

func TestNVMLFatal(t *testing.T) {
	s := newSimNode(5)
	v := s.open(t)
	defer v.Close()

	s.gpus[0].lost = true
	s.gpus[1].ecc = 2
	s.gpus[2].remapFailed = true
	s.events = []nvml.EventData{
		{Device: s.devs[3], EventType: nvml.EventTypeXidCriticalError, EventData: 13}, // application: ignored
		{Device: s.devs[4], EventType: nvml.EventTypeXidCriticalError, EventData: 79},
		{Device: s.devs[3], EventType: nvml.EventTypeSingleBitEccError},
	}
	rs := mustRead(t, v)
	for i, want := range []string{"lost", "uncorrectable ECC", "row remapping", "", "XID 79"} {
		if (want == "") != (rs[i].Fatal == "") || !strings.Contains(rs[i].Fatal, want) {
			t.Errorf("device %d: fatal %q, want %q", i, rs[i].Fatal, want)
		}
		if rs[i].Fatal != "" && (rs[i].PowerW != 0 || rs[i].UUID == "") {
			t.Errorf("fatal reading %+v carries telemetry or lacks its UUID", rs[i])
		}
	}
	// Sticky: the GPU answering again does not clear it.
	s.gpus[0].lost = false
	s.gpus[1].ecc = 0
	if rs := mustRead(t, v); rs[0].Fatal == "" || rs[1].Fatal == "" {
		t.Errorf("fatal not sticky: %q %q", rs[0].Fatal, rs[1].Fatal)
	}
	if _, err := v.SetCap(4, 300); !errors.Is(err, ErrNoDevice) {
		t.Errorf("SetCap on a fatal device: %v", err)
	}
	// A double-bit ECC event.
	s.events = []nvml.EventData{{Device: s.devs[3], EventType: nvml.EventTypeDoubleBitEccError}}
	if r := mustRead(t, v)[3]; !strings.Contains(r.Fatal, "double-bit") {
		t.Errorf("device 3 after a double-bit ECC event: %q", r.Fatal)
	}
}

func TestNVMLLostDuringSetCap(t *testing.T) {
	s := newSimNode(1)
	v := s.open(t)
	defer v.Close()
	s.gpus[0].lost = true
	if _, err := v.SetCap(0, 300); !errors.Is(err, ErrNoDevice) {
		t.Errorf("SetCap on a lost GPU: %v", err)
	}
	if r := mustRead(t, v)[0]; r.Fatal == "" {
		t.Errorf("lost GPU not fatal")
	}
}

func TestNVMLOpen(t *testing.T) {
	s := newSimNode(2)
	s.initRet = nvml.ERROR_LIBRARY_NOT_FOUND
	if _, err := openNVML(s.lib()); err == nil {
		t.Errorf("Init failing: no error")
	}
	s = newSimNode(2)
	s.countRet = nvml.ERROR_UNKNOWN
	if _, err := openNVML(s.lib()); err == nil || s.shutdowns != 1 {
		t.Errorf("count failing: %v, %d shutdowns; want an error and NVML shut down", err, s.shutdowns)
	}
	// A GPU lost before open keeps its index and reads fatal.
	s = newSimNode(3)
	s.gpus[1].lost = true
	v := s.open(t)
	defer v.Close()
	rs := mustRead(t, v)
	if len(rs) != 3 || rs[1].Fatal == "" || rs[0].Fatal != "" || rs[2].UUID != "GPU-c" {
		t.Errorf("readings with GPU 1 lost at open: %+v", rs)
	}
	// And Open picks NVML under auto.
	d, desc, err := open("auto", FakeModel{}, func() (Devices, error) { return openNVML(newSimNode(8).lib()) })
	if err != nil || d.Name() != "nvml" || desc != "auto: nvml: 8 × NVIDIA H100 80GB HBM3" {
		t.Errorf("auto with 8 mock GPUs: %v %q %v", d, desc, err)
	}
	d.Close()
}

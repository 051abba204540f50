//go:build nvml

package device

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// applicationXIDs are the XIDs an application causes rather than the
// device (the set NVIDIA's Kubernetes device plugin ignores by default:
// graphics engine exception, page fault, stopped processing, preemptive
// cleanup, video processor exception, context switch timeout). Any other
// critical XID makes the device fatal.
var applicationXIDs = map[uint64]bool{13: true, 31: true, 43: true, 45: true, 68: true, 109: true}

// maxEventsPerRead bounds how many queued NVML events one Read drains.
const maxEventsPerRead = 64

// nvmlDevices is the NVML backend.
type nvmlDevices struct {
	lib nvml.Interface

	mu     sync.Mutex
	closed bool
	devs   []*nvmlDev
	events nvml.EventSet // XID and double-bit ECC events; nil when unsupported
}

type nvmlDev struct {
	h         nvml.Device // nil when NVML gave no handle
	uuid      string
	model     string
	defaultMW uint32 // the default power limit; 0 when unknown
	changed   bool   // this process set a limit other than the default
	fatal     string // sticky
}

// OpenNVML initialises NVML and opens every NVIDIA GPU it sees. It fails
// when the driver's libnvidia-ml.so.1 cannot be loaded or NVML does not
// initialise; a node where NVML finds no GPU gets Devices with Count 0.
// Changing power limits needs root (or CAP_SYS_ADMIN); reading does not.
func OpenNVML() (Devices, error) {
	v, err := openNVML(nvml.New())
	if err != nil {
		return nil, err
	}
	return v, nil
}

func openNVML(lib nvml.Interface) (*nvmlDevices, error) {
	if ret := lib.Init(); ret != nvml.SUCCESS {
		return nil, fmt.Errorf("device: nvml: init: %w", ret)
	}
	n, ret := lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		lib.Shutdown()
		return nil, fmt.Errorf("device: nvml: device count: %w", ret)
	}
	v := &nvmlDevices{lib: lib, devs: make([]*nvmlDev, n)}
	for i := range v.devs {
		d := &nvmlDev{}
		v.devs[i] = d
		h, ret := lib.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			d.fatal = "no NVML handle: " + ret.Error()
			continue
		}
		d.h = h
		if s, ret := h.GetUUID(); ret == nvml.SUCCESS {
			d.uuid = s
		}
		if s, ret := h.GetName(); ret == nvml.SUCCESS {
			d.model = s
		}
		if mw, ret := h.GetPowerManagementDefaultLimit(); ret == nvml.SUCCESS {
			d.defaultMW = mw
		}
	}
	v.watchEvents()
	return v, nil
}

// watchEvents registers every device for critical XID and double-bit ECC
// events where it supports them. Without an event set, fatal XIDs go
// unnoticed but lost GPUs and ECC counts are still seen by Read.
func (v *nvmlDevices) watchEvents() {
	set, ret := v.lib.EventSetCreate()
	if ret != nvml.SUCCESS {
		return
	}
	const want = nvml.EventTypeXidCriticalError | nvml.EventTypeDoubleBitEccError
	registered := false
	for _, d := range v.devs {
		if d.h == nil {
			continue
		}
		types, ret := d.h.GetSupportedEventTypes()
		if ret != nvml.SUCCESS || types&want == 0 {
			continue
		}
		if d.h.RegisterEvents(types&want, set) == nvml.SUCCESS {
			registered = true
		}
	}
	if !registered {
		set.Free()
		return
	}
	v.events = set
}

// Name returns "nvml".
func (v *nvmlDevices) Name() string { return "nvml" }

// Count returns the number of GPUs NVML found at open.
func (v *nvmlDevices) Count() int { return len(v.devs) }

// Read drains pending XID and ECC events, then reads every GPU.
func (v *nvmlDevices) Read() ([]Reading, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil, fmt.Errorf("device: nvml: read: %w", ErrClosed)
	}
	v.drainEvents()
	out := make([]Reading, len(v.devs))
	for i, d := range v.devs {
		out[i] = d.read(i)
	}
	return out, nil
}

// drainEvents marks the devices that reported a fatal XID or a double-bit
// ECC error since the last Read. The caller holds v.mu.
func (v *nvmlDevices) drainEvents() {
	if v.events == nil {
		return
	}
	for range maxEventsPerRead {
		e, ret := v.events.Wait(0)
		if ret != nvml.SUCCESS { // ERROR_TIMEOUT: none pending
			return
		}
		var why string
		switch {
		case e.EventType&nvml.EventTypeXidCriticalError != 0:
			if applicationXIDs[e.EventData] {
				continue
			}
			why = fmt.Sprintf("XID %d", e.EventData)
		case e.EventType&nvml.EventTypeDoubleBitEccError != 0:
			why = "double-bit ECC error"
		default:
			continue
		}
		for _, d := range v.devs {
			if d.h != nil && e.Device != nil && d.h == e.Device && d.fatal == "" {
				d.fatal = why
			}
		}
	}
}

// read reads one GPU. A metric NVML does not support stays 0; a GPU that
// NVML reports lost, or that has uncorrectable ECC errors or failed row
// remapping, becomes fatal.
func (d *nvmlDev) read(i int) Reading {
	r := Reading{Index: i, UUID: d.uuid, Model: d.model}
	if d.fatal != "" {
		r.Fatal = d.fatal
		return r
	}
	h := d.h
	lost := false
	ok := func(ret nvml.Return) bool {
		lost = lost || ret == nvml.ERROR_GPU_IS_LOST
		return ret == nvml.SUCCESS
	}
	if mw, ret := h.GetPowerUsage(); ok(ret) {
		r.PowerW = float64(mw) / 1000
	}
	if mj, ret := h.GetTotalEnergyConsumption(); ok(ret) {
		r.EnergyJ = float64(mj) / 1000
	}
	if u, ret := h.GetUtilizationRates(); ok(ret) {
		r.Util = float64(u.Gpu) / 100
	}
	if m, ret := h.GetMemoryInfo(); ok(ret) {
		r.MemUsedMiB = float64(m.Used) / (1 << 20)
		r.MemTotalMiB = float64(m.Total) / (1 << 20)
	}
	if t, ret := h.GetTemperature(nvml.TEMPERATURE_GPU); ok(ret) {
		r.TempC = float64(t)
	}
	if c, ret := h.GetClockInfo(nvml.CLOCK_SM); ok(ret) {
		r.SMClockMHz = float64(c)
	}
	if mw, ret := h.GetPowerManagementLimit(); ok(ret) {
		r.LimitW = float64(mw) / 1000
		if d.defaultMW != 0 && mw != d.defaultMW {
			r.CapW = r.LimitW
		}
	}
	if n, ret := h.GetTotalEccErrors(nvml.MEMORY_ERROR_TYPE_UNCORRECTED, nvml.VOLATILE_ECC); ok(ret) && n > 0 {
		d.fatal = fmt.Sprintf("%d uncorrectable ECC errors since driver load", n)
	}
	if _, _, _, failed, ret := h.GetRemappedRows(); ok(ret) && failed {
		d.fatal = "memory row remapping failed"
	}
	if lost {
		d.fatal = "GPU is lost (fallen off the bus?)"
	}
	if d.fatal != "" {
		return Reading{Index: i, UUID: d.uuid, Model: d.model, Fatal: d.fatal}
	}
	return r
}

// SetCap sets GPU index's power limit within the range NVML reports for
// it (GetPowerManagementLimitConstraints), remembering its default limit
// for Close; watts <= 0 restores the default.
func (v *nvmlDevices) SetCap(index int, watts float64) (float64, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return 0, fmt.Errorf("device: nvml: cap on device %d: %w", index, ErrClosed)
	}
	if index < 0 || index >= len(v.devs) {
		return 0, fmt.Errorf("device: nvml: cap on device %d: %w (NVML found %d)", index, ErrNoDevice, len(v.devs))
	}
	d := v.devs[index]
	if d.fatal != "" {
		return 0, fmt.Errorf("device: nvml: cap on device %d: %w: %s", index, ErrNoDevice, d.fatal)
	}
	if d.defaultMW == 0 { // not known at open: without it, no way back
		mw, ret := d.h.GetPowerManagementDefaultLimit()
		if ret != nvml.SUCCESS {
			return 0, d.fail(index, "default power limit", ret)
		}
		d.defaultMW = mw
	}
	target := d.defaultMW
	if watts > 0 {
		lo, hi, ret := d.h.GetPowerManagementLimitConstraints()
		if ret != nvml.SUCCESS {
			return 0, d.fail(index, "power limit range", ret)
		}
		mw := math.Round(watts * 1000)
		if mw < float64(lo) || mw > float64(hi) {
			return 0, &RangeError{Index: index, Watts: watts, MinW: float64(lo) / 1000, MaxW: float64(hi) / 1000}
		}
		target = uint32(mw)
	}
	if ret := d.h.SetPowerManagementLimit(target); ret != nvml.SUCCESS {
		return 0, d.fail(index, fmt.Sprintf("set power limit to %g W", float64(target)/1000), ret)
	}
	d.changed = target != d.defaultMW
	if mw, ret := d.h.GetPowerManagementLimit(); ret == nvml.SUCCESS {
		return float64(mw) / 1000, nil
	}
	return float64(target) / 1000, nil
}

// fail turns an NVML failure in SetCap into an error wrapping the
// package's sentinels, and marks a lost GPU fatal.
func (d *nvmlDev) fail(index int, what string, ret nvml.Return) error {
	var sentinel error
	switch ret {
	case nvml.ERROR_NO_PERMISSION:
		sentinel = ErrPermission
	case nvml.ERROR_GPU_IS_LOST:
		d.fatal = "GPU is lost (fallen off the bus?)"
		sentinel = ErrNoDevice
	default:
		return fmt.Errorf("device: nvml: cap on device %d: %s: %w", index, what, ret)
	}
	return fmt.Errorf("device: nvml: cap on device %d: %s: %w (%w)", index, what, sentinel, ret)
}

// SetLoad does nothing: NVML measures utilization.
func (v *nvmlDevices) SetLoad(int, float64) {}

// Close restores the default power limit of every GPU whose limit this
// process changed, frees the event set and shuts NVML down. It reports
// every failure, and is idempotent.
func (v *nvmlDevices) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil
	}
	v.closed = true
	var errs []error
	for i, d := range v.devs {
		if !d.changed || d.h == nil {
			continue
		}
		if ret := d.h.SetPowerManagementLimit(d.defaultMW); ret != nvml.SUCCESS && ret != nvml.ERROR_GPU_IS_LOST {
			errs = append(errs, fmt.Errorf("device: nvml: close: restore device %d to %g W: %w", i, float64(d.defaultMW)/1000, ret))
			continue
		}
		d.changed = false
	}
	if v.events != nil {
		v.events.Free()
		v.events = nil
	}
	if ret := v.lib.Shutdown(); ret != nvml.SUCCESS {
		errs = append(errs, fmt.Errorf("device: nvml: shutdown: %w", ret))
	}
	return errors.Join(errs...)
}

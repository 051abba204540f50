package device

// Reading is one accelerator's telemetry at one moment. A value that the
// backend cannot measure is 0 (and omitted from JSON where marked so).
type Reading struct {
	Index int    `json:"index"`           // position on the node, 0-based, stable for the process
	UUID  string `json:"uuid,omitempty"`  // e.g. "GPU-5c1e…"; stable across restarts
	Model string `json:"model,omitempty"` // the device's product name, e.g. "NVIDIA H100 80GB HBM3"
	// PowerW is the board's draw now, in watts.
	PowerW float64 `json:"power_w"`
	// EnergyJ is an energy counter in joules since an origin of the
	// backend's choosing (NVML: driver load; fake: NewFake). Only its
	// differences mean something; 0 when unsupported.
	EnergyJ float64 `json:"energy_j,omitempty"`
	// Util is the fraction of time the device was busy, 0..1.
	Util        float64 `json:"util"`
	MemUsedMiB  float64 `json:"mem_used_mib"`
	MemTotalMiB float64 `json:"mem_total_mib,omitempty"`
	TempC       float64 `json:"temp_c"`
	SMClockMHz  float64 `json:"sm_clock_mhz,omitempty"`
	// LimitW is the power limit in force, whether the default or a cap, in
	// watts; 0 when the backend cannot tell.
	LimitW float64 `json:"limit_w,omitempty"`
	// CapW is the power limit in force when it is not the device's default
	// (set by SetCap, or by another tool such as nvidia-smi -pl); 0 when the
	// default limit is in force.
	CapW float64 `json:"cap_w,omitempty"`
	// Fatal says why the device cannot be used (it vanished, a fatal XID,
	// uncorrectable ECC errors); "" when it is healthy. A fatal reading
	// carries only Index, UUID, Model and Fatal: the rest is 0. On nvml,
	// Fatal is sticky for the life of the Devices (the GPU needs a reset and
	// the agent a restart); a fake is repaired with Fake.Repair.
	Fatal string `json:"fatal,omitempty"`
}

// Devices are a node's accelerators, addressed by index 0..Count()-1. All
// methods are safe for concurrent use.
type Devices interface {
	// Name is the backend: "nvml", "fake" or "none".
	Name() string
	// Count is the number of devices; it does not change during the life of
	// a Devices (a device that vanishes keeps its index and reads Fatal).
	Count() int
	// Read returns one Reading per device, ordered by index (none: empty,
	// not nil). A device that fails reports it in Reading.Fatal; the error
	// is for the backend as a whole (for example after Close).
	Read() ([]Reading, error)
	// SetCap limits device index to watts and returns the limit now in
	// force. A cap outside the device's allowed range is refused with a
	// *RangeError, which wraps ErrOutOfRange and names the range; a backend
	// without permission returns an error wrapping ErrPermission; an index
	// out of range or a fatal device, one wrapping ErrNoDevice. On error the
	// limit is unchanged. watts <= 0 restores the default limit and returns
	// it. Setting the limit already in force is allowed and changes nothing.
	SetCap(index int, watts float64) (applied float64, err error)
	// SetLoad tells the backend how busy the agent believes device index is
	// (0..1, from the jobs it runs there; values outside are clamped). Real
	// backends ignore it; fake devices draw power from it. An index out of
	// range is ignored.
	SetLoad(index int, util float64)
	// Close restores the default power limit of every device whose limit
	// this Devices changed, and releases the backend. It is idempotent.
	// After Close, nvml's other methods return ErrClosed; the fake keeps
	// simulating (nothing to release), so that tests can read it back.
	Close() error
}

var (
	_ Devices = (*Fake)(nil)
	_ Devices = None{}
)

package device

import (
	"fmt"
	"strings"
)

// Kinds are the values Open accepts, as the agent's --devices flag lists
// them.
var Kinds = []string{"auto", "nvml", "fake", "none"}

// Open returns the devices of kind, with a one-line description of what it
// chose and why, for the agent's log:
//
//   - "nvml": NVML's devices, or an error (no NVML support in the binary,
//     no driver, or NVML failing).
//   - "fake": NewFake(fake), or the model's validation error.
//   - "none": None.
//   - "auto" (or ""): NVML's devices when the binary has NVML support, NVML
//     initialises and finds at least one device; otherwise None. Auto never
//     picks the fake: simulated draw reported as a real node's telemetry
//     would mislead the power controller, so fakes are only ever asked for.
func Open(kind string, fake FakeModel) (d Devices, desc string, err error) {
	return open(kind, fake, OpenNVML)
}

// open is Open with the NVML opener injected, for tests.
func open(kind string, fake FakeModel, openNVML func() (Devices, error)) (Devices, string, error) {
	switch kind {
	case "auto", "":
		nv, err := openNVML()
		if err != nil {
			return None{}, fmt.Sprintf("none: auto found no NVML devices (%v)", err), nil
		}
		if nv.Count() == 0 {
			if err := nv.Close(); err != nil {
				return None{}, "", fmt.Errorf("device: auto: closing NVML with no devices: %w", err)
			}
			return None{}, "none: auto: NVML initialised but found no devices", nil
		}
		return nv, "auto: " + describe(nv), nil
	case "nvml":
		nv, err := openNVML()
		if err != nil {
			return nil, "", err
		}
		return nv, describe(nv), nil
	case "fake":
		if err := fake.Validate(); err != nil {
			return nil, "", err
		}
		f := NewFake(fake)
		return f, describe(f), nil
	case "none":
		return None{}, "none: no devices, as asked", nil
	}
	return nil, "", fmt.Errorf("device: unknown devices kind %q (want one of %s)", kind, strings.Join(Kinds, ", "))
}

// describe is "<backend>: <count> × <model>", from one Read.
func describe(d Devices) string {
	rs, err := d.Read()
	model := "?"
	if err == nil && len(rs) > 0 && rs[0].Model != "" {
		model = rs[0].Model
	}
	return fmt.Sprintf("%s: %d × %s", d.Name(), d.Count(), model)
}

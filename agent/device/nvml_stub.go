//go:build !nvml

package device

import "fmt"

// OpenNVML would open the node's NVIDIA GPUs through NVML; this binary was
// built without NVML support, so it returns an error wrapping
// ErrNoNVMLSupport. Build with `go build -tags nvml` (cgo) for the real one.
func OpenNVML() (Devices, error) {
	return nil, fmt.Errorf("device: nvml: %w", ErrNoNVMLSupport)
}

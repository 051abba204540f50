package device

import "fmt"

// None is a node without accelerators: Count 0, Read empty, SetCap refused
// with ErrNoDevice.
type None struct{}

// Name returns "none".
func (None) Name() string { return "none" }

// Count returns 0.
func (None) Count() int { return 0 }

// Read returns an empty, non-nil slice.
func (None) Read() ([]Reading, error) { return []Reading{}, nil }

// SetCap refuses: there are no devices.
func (None) SetCap(index int, watts float64) (float64, error) {
	return 0, fmt.Errorf("device: cap on device %d: this node has no devices: %w", index, ErrNoDevice)
}

// SetLoad does nothing.
func (None) SetLoad(int, float64) {}

// Close does nothing.
func (None) Close() error { return nil }

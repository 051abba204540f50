package device

import (
	"errors"
	"fmt"
)

var (
	// ErrOutOfRange is wrapped by the *RangeError SetCap returns for a cap
	// outside the device's allowed range.
	ErrOutOfRange = errors.New("power limit out of range")
	// ErrPermission is wrapped by SetCap's error when the process may not
	// change power limits (NVML needs root or CAP_SYS_ADMIN).
	ErrPermission = errors.New("no permission to change the power limit")
	// ErrNoDevice is wrapped by SetCap's error when there is no usable
	// device at that index (out of range, none at all, or fatal).
	ErrNoDevice = errors.New("no such device")
	// ErrClosed is returned by a backend's methods after Close.
	ErrClosed = errors.New("devices closed")
	// ErrNoNVMLSupport is wrapped by OpenNVML's error in a binary built
	// without the nvml build tag.
	ErrNoNVMLSupport = errors.New("built without NVML support (rebuild with: go build -tags nvml)")
)

// RangeError is SetCap's refusal of a cap outside the device's allowed
// range, [MinW, MaxW] watts. It wraps ErrOutOfRange; a caller that wants
// the nearest allowed cap can take it from MinW or MaxW.
type RangeError struct {
	Index      int     // the device
	Watts      float64 // the cap asked for
	MinW, MaxW float64 // the range the device allows, inclusive
}

// Error names the device, the cap asked for and the allowed range.
func (e *RangeError) Error() string {
	return fmt.Sprintf("device: cap %g W on device %d: %v: allowed [%g, %g] W", e.Watts, e.Index, ErrOutOfRange, e.MinW, e.MaxW)
}

// Unwrap returns ErrOutOfRange.
func (e *RangeError) Unwrap() error { return ErrOutOfRange }

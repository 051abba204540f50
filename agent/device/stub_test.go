//go:build !nvml

package device

import (
	"errors"
	"strings"
	"testing"
)

func TestOpenNVMLStub(t *testing.T) {
	if _, err := OpenNVML(); !errors.Is(err, ErrNoNVMLSupport) || !strings.Contains(err.Error(), "-tags nvml") {
		t.Errorf("OpenNVML without the nvml tag: %v", err)
	}
	d, desc, err := Open("auto", FakeModel{})
	if err != nil || d.Name() != "none" || !strings.Contains(desc, "without NVML support") {
		t.Errorf("Open(auto) without the nvml tag: %v %q %v", d, desc, err)
	}
}

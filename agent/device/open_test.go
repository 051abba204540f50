package device

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func testModel() FakeModel {
	return FakeModel{Node: "n", Model: "h100-sxm", Count: 2, TDPW: 700, IdleW: 70,
		Clock: func() time.Time { return time.Unix(0, 0) }}
}

// closeCounter is a Devices that counts Close calls.
type closeCounter struct {
	None
	n      int
	closed int
}

func (c *closeCounter) Name() string { return "nvml" }
func (c *closeCounter) Count() int   { return c.n }
func (c *closeCounter) Close() error { c.closed++; return nil }

func TestOpenAuto(t *testing.T) {
	// No NVML: none, saying why.
	noNVML := func() (Devices, error) { return nil, errors.New("libnvidia-ml.so.1 not found") }
	d, desc, err := open("auto", testModel(), noNVML)
	if err != nil || d.Name() != "none" || !strings.Contains(desc, "libnvidia-ml.so.1 not found") {
		t.Errorf("auto without NVML: %v %q %v", d, desc, err)
	}
	// NVML without devices: none, and the NVML handle closed.
	empty := &closeCounter{}
	d, desc, err = open("", testModel(), func() (Devices, error) { return empty, nil })
	if err != nil || d.Name() != "none" || empty.closed != 1 || !strings.Contains(desc, "no devices") {
		t.Errorf("auto with NVML but no devices: %v %q %v, closed %d", d, desc, err, empty.closed)
	}
	// NVML with devices: nvml.
	two := &closeCounter{n: 2}
	d, desc, err = open("auto", testModel(), func() (Devices, error) { return two, nil })
	if err != nil || d != Devices(two) || two.closed != 0 || !strings.Contains(desc, "nvml: 2 ×") {
		t.Errorf("auto with NVML devices: %v %q %v", d, desc, err)
	}
}

func TestOpenKinds(t *testing.T) {
	noNVML := func() (Devices, error) { return nil, ErrNoNVMLSupport }
	if _, _, err := open("nvml", testModel(), noNVML); !errors.Is(err, ErrNoNVMLSupport) {
		t.Errorf("nvml without NVML: %v", err)
	}
	d, desc, err := open("fake", testModel(), noNVML)
	if _, ok := d.(*Fake); err != nil || !ok || desc != "fake: 2 × h100-sxm" {
		t.Errorf("fake: %T %q %v", d, desc, err)
	}
	if _, _, err := open("fake", FakeModel{}, noNVML); err == nil || !strings.Contains(err.Error(), "tdp_w") {
		t.Errorf("fake with an invalid model: %v", err)
	}
	if d, _, err := open("none", testModel(), noNVML); err != nil || d != Devices(None{}) {
		t.Errorf("none: %v %v", d, err)
	}
	if _, _, err := open("gpu", testModel(), noNVML); err == nil || !strings.Contains(err.Error(), "auto, nvml, fake, none") {
		t.Errorf("unknown kind: %v", err)
	}
}

func TestNone(t *testing.T) {
	var d Devices = None{}
	rs, err := d.Read()
	if err != nil || rs == nil || len(rs) != 0 || d.Count() != 0 {
		t.Fatalf("Read = %v, %v", rs, err)
	}
	if b, _ := json.Marshal(rs); string(b) != "[]" {
		t.Errorf("readings marshal to %s, want []", b)
	}
	if _, err := d.SetCap(0, 300); !errors.Is(err, ErrNoDevice) {
		t.Errorf("SetCap: %v", err)
	}
	d.SetLoad(0, 1)
	if err := d.Close(); err != nil {
		t.Error(err)
	}
}

package fleet

import (
	"fmt"
	"strconv"
	"strings"
)

// ShapeVolume returns the accelerators of a slice shape written as
// dimensions joined by "x" ("4x4x4" is 64, "2x4" is 8). Every dimension
// must be a positive integer.
func ShapeVolume(shape string) (int, error) {
	if shape == "" {
		return 0, fmt.Errorf("fleet: empty slice shape")
	}
	v := 1
	for _, d := range strings.Split(shape, "x") {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 || n > 1<<16 {
			return 0, fmt.Errorf("fleet: slice shape %q: dimensions must be positive integers joined by x (e.g. 4x4x4)", shape)
		}
		v *= n
		if v > 1<<30 {
			return 0, fmt.Errorf("fleet: slice shape %q is too large", shape)
		}
	}
	return v, nil
}

// SliceShape returns the first of the model's slice shapes whose volume is
// k accelerators, and whether there is one. A model without slice shapes
// takes any k: it returns "" and true.
func (m *NodeModel) SliceShape(k int) (string, bool) {
	if len(m.SliceShapes) == 0 {
		return "", true
	}
	for _, s := range m.SliceShapes {
		if v, err := ShapeVolume(s); err == nil && v == k {
			return s, true
		}
	}
	return "", false
}

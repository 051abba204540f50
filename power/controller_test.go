package power

import (
	"errors"
	"testing"
)

func TestShedLowestPriorityFirst(t *testing.T) {
	c := Default()
	loads := []Load{{Priority: 5, SavingW: 100}, {Priority: 1, SavingW: 50}, {Priority: 1, SavingW: 80}, {Priority: 3, SavingW: 10}}
	got := c.Shed(120, loads)
	want := []int{2, 1} // priority 1, larger saving first; 80+50 >= 120
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("Shed = %v, want %v", got, want)
	}
	if got := c.Shed(0, loads); got != nil {
		t.Fatalf("Shed(0) = %v, want nil", got)
	}
	if got := c.Shed(1e9, loads); len(got) != 4 {
		t.Fatalf("Shed(all) = %v, want every load", got)
	}
}

func TestThresholds(t *testing.T) {
	c := Default()
	if x := c.Excess(1000, 990); x != 10 {
		t.Fatalf("Excess = %g, want 10", x)
	}
	if x := c.Excess(1000, 950); x != 0 {
		t.Fatalf("Excess below the line = %g", x)
	}
	if !c.CanRestore(1000, 900) || c.CanRestore(1000, 901) {
		t.Fatal("CanRestore does not honour UncapBelow")
	}
	if err := (Controller{CapAbove: 0.9, UncapBelow: 0.95}).Validate(); !errors.Is(err, ErrThresholds) {
		t.Fatalf("Validate = %v, want ErrThresholds", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

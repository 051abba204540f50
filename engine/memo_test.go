package engine

import (
	"testing"
	"time"
)

// TestMemoForgetsASearchCutShort: a placement search that stops after
// maxCandidates domains refuses a job without having seen every domain,
// so its refusal must not be remembered for larger jobs of the kind. A
// 1-GPU job that must fit a node gives up among 34 racks with no power
// left; a 2-GPU job of the same kind behind it still starts on the idle
// node of rack x, as it does alone.
func TestMemoForgetsASearchCutShort(t *testing.T) {
	f := loadTestdata(t, "many-tight.yaml")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, small := range []bool{false, true} {
		e, err := New(Config{})
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewSnapshot(f)
		if err != nil {
			t.Fatal(err)
		}
		for n := range 34 {
			if err := s.Restore(Job{ID: JobID(1000 + n), Tenant: "t", Accelerators: 7}, []Slot{{Node: int32(n), Mask: 0x7f}}, now); err != nil {
				t.Fatal(err)
			}
		}
		if small {
			if err := e.Submit(Job{ID: 1, Tenant: "t", Priority: 1, Accelerators: 1, Topology: TopologyNode, TopologyRequired: true}, now); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.Submit(Job{ID: 2, Tenant: "t", Accelerators: 2, Topology: TopologyNode, TopologyRequired: true}, now); err != nil {
			t.Fatal(err)
		}
		e.Schedule(s, now)
		if _, ok := s.Alloc(2); !ok {
			r, _ := e.Reason(2)
			t.Fatalf("with a 1-GPU job ahead=%v: the 2-GPU job waits with %s; the idle node has room", small, s.Describe(r))
		}
	}
}

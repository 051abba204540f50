package engine

import (
	"sort"
	"testing"
	"time"

	"stargate/fleet"
)

// TestVictimsInSupernode: the covering search for a gang that requires
// its supernode counts what each supernode has free and what each victim
// would free there. Supernode-1 is full with 12 one-rack jobs; supernode-2
// runs 8 and has 4 racks free. A gang of 256 needs 4 victims of
// supernode-2, not 4 of the full supernode-1, whose row has as many free.
func TestVictimsInSupernode(t *testing.T) {
	f := loadTestdata(t, "supernode.yaml")
	s, err := NewSnapshot(f)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{Queue: "priority", Preemption: true})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	id := JobID(0)
	for k := range f.Racks {
		if f.Catalog.Nodes[f.Nodes[f.Racks[k].First].Model].Name != "cloudmatrix-384" || k >= 20 {
			continue
		}
		var slots []Slot
		for n := f.Racks[k].First; n < f.Racks[k].End; n++ {
			slots = append(slots, Slot{Node: n, Mask: 0xff})
		}
		id++
		if err := s.Restore(Job{ID: id, Tenant: "t", Accelerators: 32, Model: "ascend-910c", Preemptible: true}, slots, t0); err != nil {
			t.Fatal(err)
		}
	}
	now := t0.Add(time.Hour)
	ps := &pass{e: e, s: s, now: now}
	var cands []*victim
	for _, rid := range s.Running() {
		a, _ := s.Alloc(rid)
		cands = append(cands, &victim{a: a, lost: lostWork(a, now), n: 32})
	}
	sort.Slice(cands, func(x, y int) bool { return cands[x].a.Job.ID < cands[y].a.Job.ID })
	for i, v := range cands {
		v.rank = int32(i)
	}
	gang := Job{ID: 99, Accelerators: 256, Model: "ascend-910c", Topology: TopologyNVLink, TopologyRequired: true, Priority: 1}
	pi := s.nodePool[f.Racks[0].First]
	pp := s.pools[pi]
	r := makeRequest(&gang, pp)
	if !r.grp || r.top != fleet.LevelRow {
		t.Fatalf("request %+v: want the supernode", r)
	}
	set := ps.victimsIn(pp, pi, &r, cands)
	if set == nil || len(set.vs) != 4 {
		t.Fatalf("victims %v, want 4", set)
	}
	for _, v := range set.vs {
		if su := f.ScaleUpOf(int(v.a.Slots[0].Node)); f.ScaleUps[su].Name != "supernode-2" {
			t.Errorf("victim %d runs in %s, want supernode-2", v.a.Job.ID, f.ScaleUpPath(su))
		}
	}
	// And through a pass: the gang stops 4 jobs of supernode-2 and starts
	// there.
	if err := e.Submit(gang, now); err != nil {
		t.Fatal(err)
	}
	res := e.Schedule(s, now)
	preempted := 0
	for _, d := range res.Decisions {
		switch d.Action {
		case Preempt:
			preempted++
		case Place:
			if su := f.ScaleUpOf(int(d.Slots[0].Node)); d.Job != 99 || f.ScaleUps[su].Name != "supernode-2" {
				t.Errorf("placed %d in %s", d.Job, f.ScaleUpPath(su))
			}
		}
	}
	if preempted != 4 {
		t.Errorf("%d preempted, want 4: %v", preempted, res.Decisions)
	}
}

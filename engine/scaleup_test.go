package engine

import (
	"sort"
	"strings"
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

// TestSliceRequests: what a slice of each size may take on the v6e pods
// of tpu.yaml (8-chip hosts, 64-chip racks, 256-chip pods) and on the
// v5p pod (4-chip hosts, 64-chip cubes).
func TestSliceRequests(t *testing.T) {
	f := loadTestdata(t, "tpu.yaml")
	s, err := NewSnapshot(f)
	if err != nil {
		t.Fatal(err)
	}
	pools := map[string]*pool{}
	for _, p := range s.pools {
		pools[f.Catalog.Nodes[p.model].Name] = p
	}
	for _, tc := range []struct {
		model    string
		k        int
		required bool
		want     request
	}{
		{"tpu-v6e-host", 1, false, request{k: 1, top: fleet.LevelNode}},
		{"tpu-v6e-host", 4, false, request{k: 4, top: fleet.LevelNode}},
		{"tpu-v6e-host", 8, false, request{k: 8, top: fleet.LevelNode}},
		{"tpu-v6e-host", 16, false, request{k: 16, perNode: 8, top: fleet.LevelRack}},
		{"tpu-v6e-host", 64, false, request{k: 64, perNode: 8, top: fleet.LevelRack}},
		{"tpu-v6e-host", 128, false, request{k: 128, perNode: 8, perRack: 64, top: fleet.LevelRow, grp: true}},
		{"tpu-v6e-host", 256, false, request{k: 256, perNode: 8, perRack: 64, top: fleet.LevelRow, grp: true}},
		{"tpu-v6e-host", 48, false, request{k: 48, badShape: true}},
		{"tpu-v6e-host", 2, false, request{k: 2, badShape: true}},
		{"tpu-v5p-host", 8, false, request{k: 8, perNode: 4, top: fleet.LevelRack}},
		{"tpu-v5p-host", 128, false, request{k: 128, perNode: 4, perRack: 64, top: fleet.LevelRow, grp: true}},
		// a tighter topology the job requires still holds
		{"tpu-v6e-host", 16, true, request{k: 16, perNode: 8, top: fleet.LevelNode}},
	} {
		j := Job{Accelerators: tc.k}
		if tc.required {
			j.Topology, j.TopologyRequired = TopologyNode, true
		}
		if got := makeRequest(&j, pools[tc.model]); got != tc.want {
			t.Errorf("%s, %d (node required %v): %+v, want %+v", tc.model, tc.k, tc.required, got, tc.want)
		}
	}
	// a model without slices takes any size, anywhere
	h := Job{Accelerators: 48}
	if got := makeRequest(&h, pools["dgx-h100"]); got != (request{k: 48}) {
		t.Errorf("dgx-h100, 48: %+v", got)
	}
}

// TestSupernodeRowHeadroom: a supernode's gang is admitted against its
// row's headroom like any other placement. The row's 96 CloudMatrix nodes
// idle at 326.4 kW of a 620 kW limit: a 256-NPU gang (32 nodes, 8,246 W
// each above idle) fits, a whole 384-NPU supernode (395.8 kW more) does
// not, though each of its racks has room.
func TestSupernodeRowHeadroom(t *testing.T) {
	f, err := fleet.Parse(strings.NewReader(`regions:
  - name: r
    sites:
      - name: s
        substation_mw: 2
        pue: 1.25
        energy: [{source: hydro, share: 1}]
        halls:
          - name: h
            limit_kw: 1500
            rows:
              - name: sn
                limit_kw: 620
                racks: [{name: cm, count: 24, limit_kw: 48, nodes: [{model: cloudmatrix-384, count: 4}]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSnapshot(f)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{Queue: "priority"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	whole := Job{ID: 1, Tenant: "t", Accelerators: 384, Topology: TopologyNVLink, TopologyRequired: true}
	if err := e.Submit(whole, now); err != nil {
		t.Fatal(err)
	}
	res := e.Schedule(s, now)
	if len(res.Waiting) != 1 || res.Waiting[0].Reason.Code != Power || s.Describe(res.Waiting[0].Reason) != "power:row/s/h/sn" {
		t.Fatalf("a whole supernode over its row's limit: %+v", res)
	}
	e.Cancel(1)
	part := Job{ID: 2, Tenant: "t", Accelerators: 256, Topology: TopologyNVLink, TopologyRequired: true}
	if err := e.Submit(part, now); err != nil {
		t.Fatal(err)
	}
	if res := e.Schedule(s, now); res.Placed != 1 {
		t.Fatalf("256 of a supernode within its row's limit: %+v", res)
	}
	checkInvariants(t, s, e, nil)
	if d, l := s.Draw(fleet.LevelRow, 0), s.Limit(fleet.LevelRow, 0); d > l || d != 96*3400+256*1031 { // 1,030.75 W an NPU above idle, rounded up
		t.Errorf("row draws %d W of %d", d, l)
	}
}

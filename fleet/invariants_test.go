package fleet_test

import (
	"stargate/fleet"
)

// tb is what the invariant checks need from *testing.T and *rapid.T.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

// checkInvariants checks the structure of an expanded Fleet: at every
// level the parents' child ranges partition the next level in order, each
// child points back at its parent, sibling names are unique, and the
// accelerators are numbered 0..N-1 in tree order, with every domain's count
// the sum of its children's.
func checkInvariants(t tb, f *fleet.Fleet) {
	t.Helper()
	// Regions → sites.
	next := int32(0)
	for i, r := range f.Regions {
		if r.First != next || r.End < r.First {
			t.Fatalf("region %d: range [%d,%d), want it to start at %d", i, r.First, r.End, next)
		}
		for s := r.First; s < r.End; s++ {
			if f.Sites[s].Region != int32(i) || f.Sites[s].Parent != int32(i) {
				t.Fatalf("site %d: region %d, parent %d, want %d", s, f.Sites[s].Region, f.Sites[s].Parent, i)
			}
		}
		next = r.End
	}
	if int(next) != len(f.Sites) {
		t.Fatalf("regions cover %d sites of %d", next, len(f.Sites))
	}

	// Domains → next level, for site, hall, row and rack.
	type child struct {
		parent     int32
		first, n   int32
		name       string
		childFirst int32
	}
	levelChildren := func(l fleet.Level) []child {
		var out []child
		switch l {
		case fleet.LevelHall, fleet.LevelRow, fleet.LevelRack:
			for _, d := range f.Domains(l) {
				out = append(out, child{parent: d.Parent, first: d.FirstAccel, n: d.Accelerators, name: d.Name})
			}
		case fleet.LevelNode:
			for i, n := range f.Nodes {
				out = append(out, child{parent: n.Rack, first: n.FirstAccel, n: int32(f.NodeAccelerators(i)), name: f.NodeName(i)})
			}
		}
		return out
	}
	for l := fleet.LevelSite; l <= fleet.LevelRack; l++ {
		parents := f.Domains(l)
		children := levelChildren(l + 1)
		next := int32(0)
		accel := int32(0)
		for i, p := range parents {
			if p.First != next || p.End < p.First || int(p.End) > len(children) {
				t.Fatalf("%v %d (%s): children [%d,%d), want them to start at %d (of %d)", l, i, p.Name, p.First, p.End, next, len(children))
			}
			if p.FirstAccel != accel {
				t.Fatalf("%v %d (%s): first accelerator %d, want %d", l, i, p.Name, p.FirstAccel, accel)
			}
			sum := int32(0)
			names := map[string]bool{}
			for c := p.First; c < p.End; c++ {
				ch := children[c]
				if ch.parent != int32(i) {
					t.Fatalf("%v %d of %v %d points at parent %d", l+1, c, l, i, ch.parent)
				}
				if ch.first != p.FirstAccel+sum {
					t.Fatalf("%v %d: first accelerator %d, want %d", l+1, c, ch.first, p.FirstAccel+sum)
				}
				if names[ch.name] {
					t.Fatalf("%v %d (%s): two children named %q", l, i, p.Name, ch.name)
				}
				names[ch.name] = true
				sum += ch.n
			}
			if p.Accelerators != sum {
				t.Fatalf("%v %d (%s): %d accelerators, its children have %d", l, i, p.Name, p.Accelerators, sum)
			}
			accel += sum
			next = p.End
		}
		if int(next) != len(children) {
			t.Fatalf("%v level covers %d of %d children", l, next, len(children))
		}
		if int(accel) != f.Accelerators {
			t.Fatalf("%v level holds %d accelerators, the fleet %d", l, accel, f.Accelerators)
		}
	}
	// Nodes are numbered within their rack.
	for i, n := range f.Nodes {
		if want := i - int(f.Racks[n.Rack].First); int(n.Index) != want {
			t.Fatalf("node %d: index %d in its rack, want %d", i, n.Index, want)
		}
	}
	// A node's path: each level inside its parent's child range, and
	// Ancestor and SiteOfNode agree with it.
	for i := range f.Nodes {
		p := f.Path(i)
		if p[fleet.LevelNode] != int32(i) {
			t.Fatalf("node %d: path ends at %d", i, p[fleet.LevelNode])
		}
		for l := fleet.LevelSite; l < fleet.LevelNode; l++ {
			if first, end := f.Children(l, p[l]); p[l+1] < first || p[l+1] >= end {
				t.Fatalf("node %d: %v %d is not among the children [%d,%d) of %v %d", i, l+1, p[l+1], first, end, l, p[l])
			}
			if a := f.Ancestor(fleet.LevelNode, int32(i), l); a != p[l] {
				t.Fatalf("node %d: ancestor at %v is %d, path says %d", i, l, a, p[l])
			}
		}
		if f.SiteOfNode(i) != int(p[fleet.LevelSite]) {
			t.Fatalf("node %d: SiteOfNode %d, path %d", i, f.SiteOfNode(i), p[fleet.LevelSite])
		}
	}
}

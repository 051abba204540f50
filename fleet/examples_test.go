package fleet_test

import (
	"testing"

	"stargate/fleet"
)

func loadExample(t testing.TB, name string) *fleet.Fleet {
	t.Helper()
	f, err := fleet.Load("../examples/" + name + ".yaml")
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return f
}

func TestExamplesLoad(t *testing.T) {
	for _, n := range []string{"small", "stargate", "million-gpu"} {
		f := loadExample(t, n)
		t.Logf("%s: %d accelerators, %d sites, %d halls, %d rows, %d racks, %d nodes", n, f.Accelerators, len(f.Sites), len(f.Halls), len(f.Rows), len(f.Racks), len(f.Nodes))
	}
}

package engine

import (
	"testing"

	"stargate/examples"
	"stargate/fleet"
)

func loadExample(t testing.TB, name string) *fleet.Fleet {
	t.Helper()
	r, err := examples.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	f, err := fleet.Parse(r)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func loadTestdata(t testing.TB, name string) *fleet.Fleet {
	t.Helper()
	f, err := fleet.Load("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

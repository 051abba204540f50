package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"stargate/store"
)

// tokenIDs lists the IDs of the stored tokens, in ID order.
func tokenIDs(t *testing.T, s store.Store) string {
	t.Helper()
	all, err := s.Tokens(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(all))
	for i, tok := range all {
		ids[i] = tok.ID
	}
	return fmt.Sprint(ids)
}

// sameToken reports whether two tokens are equal field by field, times
// by Equal.
func sameToken(a, b store.Token) bool {
	at, bt := a.CreatedAt, b.CreatedAt
	a.CreatedAt, b.CreatedAt = time.Time{}, time.Time{}
	return a == b && at.Equal(bt)
}

// testNodeTokens: join tokens keep their node prefix, node credentials
// their node; SetNodeToken replaces the credential of its node only, in one
// transaction, and refuses what is not a node credential.
func testNodeTokens(t *testing.T, s store.Store, _ func() store.Store) {
	ctx := context.Background()
	const n1, n2 = "lab/h/r/k/n1", "lab/h/r/k/n2"
	join := store.Token{ID: "join", Hash: "h-join", Role: store.RoleAgent, Name: "rack k", NodePrefix: "lab/h/r/k/", CreatedAt: t0}
	if err := s.CreateToken(ctx, join); err != nil {
		t.Fatal(err)
	}
	if got, err := s.TokenByHash(ctx, "h-join"); err != nil || !sameToken(got, join) {
		t.Errorf("join token = %+v, %v; want %+v", got, err, join)
	}
	// A token of another role that names n1 is no credential of n1.
	user := store.Token{ID: "user", Hash: "h-user", Role: store.RoleUser, Tenant: "acme", Node: n1, CreatedAt: t0}
	if err := s.CreateToken(ctx, user); err != nil {
		t.Fatal(err)
	}

	a1 := store.Token{ID: "n1-a", Hash: "h-n1-a", Role: store.RoleNode, Name: "node", Node: n1, CreatedAt: t0}
	b := store.Token{ID: "n2-a", Hash: "h-n2-a", Role: store.RoleNode, Node: n2, CreatedAt: t0}
	for _, tok := range []store.Token{a1, b} {
		if err := s.SetNodeToken(ctx, tok); err != nil {
			t.Fatalf("SetNodeToken(%s): %v", tok.ID, err)
		}
	}
	if got, err := s.TokenByHash(ctx, "h-n1-a"); err != nil || !sameToken(got, a1) {
		t.Errorf("node credential = %+v, %v; want %+v", got, err, a1)
	}
	if got := tokenIDs(t, s); got != "[join n1-a n2-a user]" {
		t.Errorf("tokens = %s", got)
	}

	// A new credential of n1 replaces the old one, and nothing else.
	a2 := a1
	a2.ID, a2.Hash, a2.CreatedAt = "n1-b", "h-n1-b", t0.Add(1)
	if err := s.SetNodeToken(ctx, a2); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenByHash(ctx, "h-n1-a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the replaced credential still authenticates: %v", err)
	}
	if got, err := s.TokenByHash(ctx, "h-n1-b"); err != nil || !sameToken(got, a2) {
		t.Errorf("new credential = %+v, %v; want %+v", got, err, a2)
	}
	if got := tokenIDs(t, s); got != "[join n1-b n2-a user]" {
		t.Errorf("tokens after replacing n1's credential = %s", got)
	}

	// A taken ID changes nothing: n1 keeps its credential.
	taken := a1
	taken.ID, taken.Hash = "n2-a", "h-other"
	if err := s.SetNodeToken(ctx, taken); !errors.Is(err, store.ErrExists) {
		t.Errorf("SetNodeToken with a taken ID: %v, want ErrExists", err)
	}
	refused := []store.Token{
		{ID: "x1", Hash: "h-x1", Role: store.RoleAgent, Node: n1, CreatedAt: t0},
		{ID: "x2", Hash: "h-x2", Role: store.RoleAdmin, Node: n2, CreatedAt: t0},
		{ID: "x3", Hash: "h-x3", Role: store.RoleNode, CreatedAt: t0},
	}
	for _, tok := range refused {
		if err := s.SetNodeToken(ctx, tok); err == nil {
			t.Errorf("SetNodeToken(%+v) was accepted", tok)
		}
	}
	if got := tokenIDs(t, s); got != "[join n1-b n2-a user]" {
		t.Errorf("tokens after refused calls = %s", got)
	}
	all, err := s.Tokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Token{join, a2, b, user}
	if len(all) != len(want) {
		t.Fatalf("Tokens = %+v, want %+v", all, want)
	}
	for i := range want {
		if !sameToken(all[i], want[i]) {
			t.Errorf("Tokens[%d] = %+v, want %+v", i, all[i], want[i])
		}
	}
}

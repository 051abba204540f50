package server

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"stargate/store"
)

// stallStore is a store whose lease calls hang, as they do on a stopped
// database, until their context ends.
type stallStore struct {
	store.Store
	stalled atomic.Bool
}

func (s *stallStore) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (store.Lease, error) {
	if s.stalled.Load() {
		<-ctx.Done()
		return store.Lease{}, ctx.Err()
	}
	return s.Store.AcquireLease(ctx, name, holder, now, ttl)
}

// TestStalledStoreEndsLeadership: when renewals hang, the replica stops
// claiming to lead once the lease runs out by its clock, and the hung
// renewal gives up within the lease instead of blocking the loop.
func TestStalledStoreEndsLeadership(t *testing.T) {
	var ss *stallStore
	const ttl = 600 * time.Millisecond
	h := newHarness(t, func(c *Config) {
		ss = &stallStore{Store: c.Store}
		c.Store, c.LeaderTTL = ss, ttl
	})
	if !h.srv.IsLeader() {
		t.Fatal("not leader at start")
	}
	ss.stalled.Store(true)
	h.clock.Advance(ttl - time.Millisecond)
	if !h.srv.IsLeader() {
		t.Error("not leader before the lease ran out")
	}
	h.clock.Advance(time.Millisecond)
	if h.srv.IsLeader() {
		t.Error("still leader once the lease ran out without a renewal")
	}
	var hz struct{ Leader bool }
	h.do("", "GET", "/healthz", "").decode(t, &hz)
	if hz.Leader {
		t.Error("/healthz says leader once the lease ran out")
	}
	// The hung renewal fails within the lease: the loop goes on (and
	// drops the leader flag) instead of hanging with it.
	deadline := time.Now().Add(5 * time.Second) // real time: the loop's
	for h.srv.leader.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the renewal never gave up on the stalled store")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The store answers again: the replica takes the lease back.
	ss.stalled.Store(false)
	waitLeader(t, h.srv)
}

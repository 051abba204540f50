package server

import (
	"context"
	"net/http"
	"sync"
	"time"

	"stargate/store"
)

// DefaultMaxPendingPerTenant bounds each tenant's pending jobs unless
// Config.MaxPendingPerTenant says otherwise: a queue that one careless
// loop can fill costs every tenant memory and scheduling time.
const DefaultMaxPendingPerTenant = 100_000

// pendingRecount is how often the gate reads the tenants' pending counts
// from the store again; between two reads it adds what it admitted.
const pendingRecount = 5 * time.Second

// pendingGate bounds each tenant's pending jobs. Its counts come from the
// store every pendingRecount, plus the submits this replica admitted
// since: jobs that started or ended in between still count until the next
// read, so the gate errs on the side of refusing, never of admitting more
// than the limit (but for submits of other replicas in the same interval).
type pendingGate struct {
	recount sync.Mutex // one store read at a time
	mu      sync.Mutex
	counts  map[string]int
	at      time.Time
}

// admitPending takes room for n more pending jobs of a tenant, or
// answers 429 when the tenant would have more than it may.
func (s *Server) admitPending(ctx context.Context, tenant string, n int) error {
	limit := s.cfg.MaxPendingPerTenant
	if limit <= 0 {
		return nil
	}
	g := &s.pending
	if err := g.refresh(ctx, s.store, s.clock.Now()); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if have := g.counts[tenant]; have+n > limit {
		w := errorf(http.StatusTooManyRequests, "tenant %s has %d pending jobs, and %d more would pass the most one tenant may have (the server's --max-pending-per-tenant %d): wait until some start, or cancel some", tenant, have, n, limit)
		w.retryAfter = int(pendingRecount / time.Second)
		return w
	}
	g.counts[tenant] += n
	return nil
}

// release gives back the room taken for a submit that was not created (a
// replay of an existing job, or a failed commit).
func (g *pendingGate) release(tenant string, n int) {
	g.mu.Lock()
	g.counts[tenant] = max(0, g.counts[tenant]-n)
	g.mu.Unlock()
}

// refresh reads the counts again when they are older than pendingRecount.
func (g *pendingGate) refresh(ctx context.Context, st store.Store, now time.Time) error {
	fresh := func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.counts != nil && now.Sub(g.at) < pendingRecount && !now.Before(g.at)
	}
	if fresh() {
		return nil
	}
	g.recount.Lock()
	defer g.recount.Unlock()
	if fresh() { // another request read them meanwhile
		return nil
	}
	counts, err := st.JobCounts(ctx)
	if err != nil {
		return err
	}
	m := map[string]int{}
	for _, c := range counts {
		if c.State == store.JobPending {
			m[c.Tenant] += c.Jobs
		}
	}
	g.mu.Lock()
	g.counts, g.at = m, now
	g.mu.Unlock()
	return nil
}

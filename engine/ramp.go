package engine

import "time"

// A site's ramp limit bounds how fast its draw may rise: the engine's
// starts and uncaps at a site add, in any window of RampWindow, at most
// the site's ramp_mw_per_min at the facility, each counted at the most
// it can raise the draw (a start at the job's nameplate draw, an uncap
// from the cap to TDP), since what a job will draw is only expected. A
// job whose draw alone
// exceeds a whole window's allowance starts only in a window that saw no
// other rise (it could never start otherwise). Falls are not held back:
// a job that ends stops drawing, and the engine cannot keep it running.

// RampWindow is the window over which a site's rises are summed against
// its ramp limit.
const RampWindow = time.Minute

// rampLog is one site's rises within the last window, oldest first;
// rises at one instant are one entry.
type rampLog struct {
	at []time.Time
	w  []float64
}

// used returns the facility watts risen within the window before now,
// forgetting older rises.
func (r *rampLog) used(now time.Time) float64 {
	cut := now.Add(-RampWindow)
	k := 0
	for k < len(r.at) && !r.at[k].After(cut) {
		k++
	}
	if k > 0 {
		r.at = append(r.at[:0], r.at[k:]...)
		r.w = append(r.w[:0], r.w[k:]...)
	}
	sum := 0.0
	for _, w := range r.w {
		sum += w
	}
	return sum
}

func (r *rampLog) add(now time.Time, w float64) {
	if n := len(r.at); n > 0 && r.at[n-1].Equal(now) {
		r.w[n-1] += w
		return
	}
	r.at = append(r.at, now)
	r.w = append(r.w, w)
}

// startRise is what starting n accelerators of pool p counts against
// its site's ramp: their nameplate draw above idle (accelerators and
// node overhead at full power), at the facility. A job's draw is only
// expected; its nameplate is the most it can draw, so that the ramp
// holds whatever the job does.
func (s *Snapshot) startRise(p *pool, n int) float64 {
	return s.f.Sites[p.site].PUE * (p.maxW - p.idleW) * float64(n)
}

// rampOK reports whether site si may rise by w facility watts at now.
func (g *gridState) rampOK(si int32, w float64, now time.Time) bool {
	limit := g.rampW[si]
	if limit <= 0 || w <= 0 {
		return true
	}
	used := g.rises[si].used(now)
	return used == 0 || used+w <= limit
}

// rise records a rise of w facility watts at site si at now.
func (g *gridState) rise(si int32, w float64, now time.Time) {
	if g.rampW[si] > 0 && w > 0 {
		g.rises[si].add(now, w)
	}
}

// RampNext returns when the ramp allowance of some site next grows (the
// oldest rise of its window leaves it), the zero time if none is spent:
// a driver with jobs waiting for a ramp passes again then.
func (e *Engine) RampNext() time.Time {
	if e.grid == nil {
		return time.Time{}
	}
	var t time.Time
	for si := range e.grid.rises {
		if r := &e.grid.rises[si]; len(r.at) > 0 {
			if at := r.at[0].Add(RampWindow); t.IsZero() || at.Before(t) {
				t = at
			}
		}
	}
	return t
}

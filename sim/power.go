package sim

// The power side of a run: the draw of every domain of the power tree,
// its peaks against the ratings, and the controller's caps.

import (
	"math"
	"math/bits"
	"time"

	"stargate/engine"
	"stargate/fleet"
)

func (s *Sim) initPower() {
	f := s.f
	for li, l := range levels {
		if int(l) != li {
			panic("sim: levels must run from the site to the rack, as Snapshot.NodePath") // programmer error
		}
	}
	for li, l := range levels {
		var n int
		switch l {
		case fleet.LevelSite:
			n = len(f.Sites)
		case fleet.LevelHall:
			n = len(f.Halls)
		case fleet.LevelRow:
			n = len(f.Rows)
		case fleet.LevelRack:
			n = len(f.Racks)
		}
		s.dom[li] = make([]domainPower, n)
		s.told[li] = make([]int64, n)
	}
	for i := range f.Sites {
		s.dom[0][i].rated = float64(f.Sites[i].LimitW) / f.Sites[i].PUE
	}
	for i := range f.Halls {
		s.dom[1][i].rated = float64(f.Halls[i].LimitW)
	}
	for i := range f.Rows {
		s.dom[2][i].rated = float64(f.Rows[i].LimitW)
	}
	for i := range f.Racks {
		s.dom[3][i].rated = float64(f.Racks[i].LimitW)
	}
	cat := f.Catalog
	s.busyW = make([]float64, len(cat.Nodes))
	s.swingW = make([]float64, len(cat.Nodes))
	for m := range cat.Nodes {
		nm := &cat.Nodes[m]
		a := cat.Accelerator(nm.Accelerator)
		if a < 0 {
			continue
		}
		acc := &cat.Accelerators[a]
		s.swingW[m] = acc.TDPW - acc.IdleW
		s.busyW[m] = s.swingW[m] + (nm.OverheadW-nm.OverheadIdleW)/float64(nm.Accelerators)
	}
	// Idle draw of every node is the base of every domain.
	for n := range f.Nodes {
		nm := f.NodeModel(n)
		idle := nm.IdleW(f.NodeAccelerator(n))
		s.addNode(int32(n), idle, 0)
	}
	for li := range levels {
		for d := range s.dom[li] {
			s.check(li, int32(d))
		}
	}
}

// addNode adds dMean and dAmp watts at node n and every domain above it.
func (s *Sim) addNode(n int32, dMean, dAmp float64) {
	for li, d := range s.nodeDom(n) {
		p := &s.dom[li][d]
		p.mean += dMean
		p.amp += dAmp
	}
}

// nodeDom returns node n's domains of the metered levels (levels), site
// to rack: the engine's copy, which its release or placement of the same
// slots has just read.
func (s *Sim) nodeDom(n int32) [len(levels)]int32 { return s.snap.NodePath(n) }

// touch re-checks the domains above the slots' nodes after a change, in
// the slots' order. A domain met again right after itself is not checked
// again (nothing changed in between), but for the sites when grid events
// or a test watch every check of a site's draw.
func (s *Sim) touch(slots []engine.Slot) {
	everySite := s.gridBySite != nil || s.onSiteDraw != nil
	prev := [len(levels)]int32{-1, -1, -1, -1}
	for _, sl := range slots {
		for li, d := range s.nodeDom(sl.Node) {
			if d != prev[li] || (li == 0 && everySite) {
				s.check(li, d)
				prev[li] = d
			}
		}
	}
}

// check updates the over-limit accounting of one domain and asks the
// controller to act when its peak passes the cap threshold.
func (s *Sim) check(li int, d int32) {
	p := &s.dom[li][d]
	limit := p.rated
	if limit <= 0 {
		return
	}
	peak := p.mean + p.amp
	if r := peak / limit; r > s.peak[li].ratio {
		s.peak[li] = peakRec{ratio: r, domain: d, at: s.now, w: peak}
	}
	isOver := peak > limit*(1+1e-9)
	if isOver != p.over {
		p.over = isOver
		if isOver {
			if s.nOver[li] == 0 {
				s.overSince[li] = s.now
			}
			s.nOver[li]++
		} else {
			s.nOver[li]--
			if s.nOver[li] == 0 {
				s.endOver(li)
			}
		}
	}
	if peak > s.cfg.Engine.Capping.Controller.CapAbove*limit && s.cfg.Engine.Capping.Controller.CapAbove > 0 {
		s.wantControl(s.now + s.cfg.ReactionDelay)
	}
	if li == 0 && s.gridBySite != nil && len(s.gridBySite[d]) > 0 {
		s.gridSite(d)
	}
	if li == 0 && s.onSiteDraw != nil {
		s.onSiteDraw(int(d), peak*s.f.Sites[d].PUE)
	}
}

// hottest returns the domain of level li with the least headroom now.
func (s *Sim) hottest(li int) Hot {
	doms := s.dom[li]
	best, ratio := int32(-1), 0.0
	for d := range doms {
		// peak/limit > ratio, without a division per domain
		p := &doms[d]
		if p.rated > 0 && (best < 0 || p.mean+p.amp > ratio*p.rated) {
			best, ratio = int32(d), (p.mean+p.amp)/p.rated
		}
	}
	if best < 0 {
		return Hot{Domain: -1}
	}
	p := &doms[best]
	return Hot{Domain: best, Ratio: ratio, KW: (p.mean + p.amp) / 1e3, LimitKW: p.rated / 1e3}
}

func (s *Sim) wantControl(at time.Duration) {
	if s.ctrlAt >= 0 && s.ctrlAt <= at {
		return
	}
	s.ctrlAt = at
	s.ev.push(event{at: at, kind: evControl})
}

// power adds (sign +1) or removes (−1) the draw above idle of job i on
// slots: all of one node model (a job runs in one pool).
func (s *Sim) power(i int, slots []engine.Slot, sign float64) {
	r := &s.runs[i]
	n := int(slots[0].Node)
	mean, amp := s.drawPerAccel(s.snap.NodeModel(slots[0].Node), r.util, r.capW, n)
	// slot by slot, not summed per domain first: the sums would round
	// otherwise, and move the last digits of the energy a run reports
	for _, sl := range slots {
		k := float64(bits.OnesCount64(sl.Mask))
		s.addNode(sl.Node, sign*k*mean, sign*k*amp)
	}
	s.touch(slots)
}

// drawPerAccel returns the mean and swing, in watts above idle, of one
// accelerator of node model m running a job at load u under cap capW
// (0 = none).
func (s *Sim) drawPerAccel(m uint16, u, capW float64, node int) (mean, amp float64) {
	a := s.cfg.Swing
	mean = s.busyW[m] * u
	amp = s.swingW[m] * min(a, 1-u)
	if capW > 0 {
		acc := s.f.NodeAccelerator(node)
		peakAcc := acc.IdleW + s.swingW[m]*u + amp
		meanAcc := acc.IdleW + s.swingW[m]*u
		if capW < peakAcc {
			capMean := min(meanAcc, capW)
			mean -= meanAcc - capMean
			amp = max(0, capW-capMean)
		}
	}
	return mean, amp
}

// rateUnder is the progress rate of job i under its cap: (C/demand)^(1/3).
func (s *Sim) rateUnder(i int) float64 {
	r := &s.runs[i]
	if r.capW <= 0 || len(s.slots[i]) == 0 || i >= s.nTrace {
		return 1
	}
	n := int(s.slots[i][0].Node)
	m := s.f.Nodes[n].Model
	acc := s.f.NodeAccelerator(n)
	demand := acc.IdleW + s.swingW[m]*(r.util+min(s.cfg.Swing, 1-r.util))
	if r.capW >= demand {
		return 1
	}
	return math.Cbrt(r.capW / demand)
}

// control measures every domain and applies the engine's caps and uncaps.
func (s *Sim) control() {
	// every site's draw is measured anew (a grid event calibrates to it);
	// of the other domains, the draws that moved
	for li, l := range levels {
		for d := range s.dom[li] {
			if w := int64(s.dom[li][d].mean + s.dom[li][d].amp); w != s.told[li][d] || l == fleet.LevelSite {
				s.told[li][d] = w
				s.snap.SetMeasured(l, d, w)
			}
		}
	}
	for _, d := range s.eng.Control(s.snap, s.cfg.Start.Add(s.now)) {
		i := int(d.Job) - 1
		r := &s.runs[i]
		if r.state != running {
			continue
		}
		switch d.Action {
		case engine.Cap:
			s.setCap(i, d.CapW)
		case engine.Uncap:
			s.setCap(i, 0)
		case engine.Preempt: // for a grid event
			lost := r.lostPre
			s.stop(i, false)
			r.preempts++
			s.preemptions++
			if s.grid != nil {
				s.gridStopped(d.Site, r.lostPre-lost)
			}
			s.wantPass()
		}
	}
	if s.capped > 0 {
		// Check again later: for uncaps once headroom returns, and for
		// domains still over.
		s.wantControl(s.now + max(s.cfg.ReactionDelay, time.Minute))
	}
}

func (s *Sim) setCap(i int, capW float64) {
	r := &s.runs[i]
	if (r.capW > 0) == (capW > 0) && r.capW == capW {
		return
	}
	s.progress(i)
	s.power(i, s.slots[i], -1)
	was := r.capW > 0
	r.capW = capW
	s.power(i, s.slots[i], +1)
	switch {
	case !was && capW > 0:
		s.capped++
		r.caps++
		s.cappedAccels += s.jobs[i].Accelerators
		s.capEvents++
		s.gridCapCount(i, +1)
	case was && capW == 0:
		s.uncapCount(i)
	}
	r.rate = s.rateUnder(i)
	s.scheduleFinish(i)
}

// setLoad moves the inference service to load bucket k.
func (s *Sim) setLoad(k int) {
	i := s.nInfer
	r := &s.runs[i]
	if r.state != running {
		return
	}
	s.power(i, s.slots[i], -1)
	r.util = s.cfg.Inference.Load[k]
	s.power(i, s.slots[i], +1)
}

func (s *Sim) uncapCount(i int) {
	s.capped--
	s.cappedAccels -= s.jobs[i].Accelerators
	s.gridCapCount(i, -1)
}

// endOver closes an excursion above the limit at level li.
func (s *Sim) endOver(li int) {
	d := (s.now - s.overSince[li]).Seconds()
	s.overSecs[li] += d
	s.overLongest[li] = max(s.overLongest[li], d)
}

func (s *Sim) closeOut() {
	for li := range levels {
		if s.nOver[li] > 0 {
			s.endOver(li)
			s.nOver[li] = 0
		}
	}
}

package sim

// Failures: a Poisson process over accelerators, repairs, and the
// wake-ups that restart requeued jobs after their backoff.

import (
	"sort"

	"stargate/engine"
)

func (s *Sim) scheduleFailure() {
	rate := float64(s.f.Accelerators) / s.cfg.MTBF.Seconds() // failures per second
	s.ev.push(event{at: s.now + seconds(s.rng.ExpFloat64()/rate), kind: evFail})
}

func (s *Sim) fail() {
	a := int32(s.rng.IntN(s.f.Accelerators))
	nodes := s.f.Nodes
	n := sort.Search(len(nodes), func(k int) bool { return nodes[k].FirstAccel > a }) - 1
	if s.workLeft() {
		s.scheduleFailure()
	}
	if s.snap.NodeState(n) == engine.Down {
		return
	}
	s.failures++
	ids := s.eng.FailNode(s.snap, n, s.cfg.Start.Add(s.now))
	for _, id := range ids {
		s.stop(int(id)-1, true)
		s.wakeAfterBackoff(id)
	}
	s.repairs++
	s.ev.push(event{at: s.now + s.cfg.RepairTime, kind: evRepair, node: int32(n)})
	s.wantPass()
}

// wakeAfterBackoff asks for a pass when a requeued job's backoff ends, so
// that it restarts then rather than at the next unrelated event.
func (s *Sim) wakeAfterBackoff(id engine.JobID) {
	if p, ok := s.eng.Pending(id); ok {
		at := max(s.now, p.NotBefore.Sub(s.cfg.Start))
		s.wakes++
		s.ev.push(event{at: at, kind: evWake})
	}
}

package sim

// A job's life in a run: start, progress, finish, stop and restart.

import (
	"fmt"
	"math"

	"stargate/engine"
)

// start runs job i on slots from now.
func (s *Sim) start(i int, slots []engine.Slot) {
	r := &s.runs[i]
	if !r.started {
		r.started, r.firstStart = true, s.now
	}
	r.state, r.capW, r.rate, r.segStart = running, 0, 1, s.now
	s.slots[i] = slots
	r.accels, r.group = int32(s.jobs[i].Accelerators), s.group[i]
	r.util = s.cfg.Utilization
	switch {
	case i == s.nInfer:
		r.util = s.cfg.Inference.Load[min(len(s.cfg.Inference.Load)-1, int(s.now/s.cfg.Inference.Bucket))]
	case i >= s.nTrace:
		r.util = s.cfg.Services.Load
	}
	s.power(i, slots, +1)
	s.hold(i, slots, +1)
	s.scheduleFinish(i)
}

func (s *Sim) progress(i int) {
	r := &s.runs[i]
	r.work += (s.now - r.segStart).Seconds() * r.rate
	r.segStart = s.now
}

func (s *Sim) scheduleFinish(i int) {
	r := &s.runs[i]
	r.ver++
	left := max(0, s.jobs[i].Duration-r.work)
	s.ev.push(event{at: s.now + seconds(left/r.rate), kind: evFinish, job: int32(i), ver: r.ver})
}

func (s *Sim) finishJob(i int) {
	r := &s.runs[i]
	s.progress(i)
	a, ok := s.snap.Release(engine.JobID(i+1), s.cfg.Start.Add(s.now))
	if !ok {
		panic(fmt.Sprintf("sim: job %d finished but the engine has no allocation", i+1)) // programmer error
	}
	s.release(i, a.Slots)
	r.state, r.finish = done, s.now
	s.completed++
	s.lastFinish = s.now
	s.wantPass()
	if s.capped > 0 {
		s.wantControl(s.now + s.cfg.ReactionDelay)
	}
}

// release removes a running job's draw and accelerators, on slots (as
// s.slots[i]: given, for the caller may have them at hand).
func (s *Sim) release(i int, slots []engine.Slot) {
	r := &s.runs[i]
	s.power(i, slots, -1)
	if r.capW > 0 {
		s.uncapCount(i)
		r.capW = 0
	}
	s.hold(i, slots, -1)
	s.slots[i] = nil
	r.ver++
}

// hold counts job i's accelerators, on slots, as allocated (sign +1) or
// no longer (−1): in all, per site and per tenant group.
func (s *Sim) hold(i int, slots []engine.Slot, sign int) {
	r := &s.runs[i]
	n := int(r.accels)
	s.allocated += sign * n
	s.groupAlloc[r.group] += sign * n
	// a job's slots are in one site, and hold its n accelerators
	s.siteAlloc[s.nodeDom(slots[0].Node)[0]] += sign * n
}

// stop ends a run that did not finish (failure or preemption): work since
// the last checkpoint is lost. The engine has already released and
// requeued the job.
func (s *Sim) stop(i int, failure bool) {
	r := &s.runs[i]
	s.progress(i)
	kept := 0.0
	if ck := s.cfg.Checkpoint.Seconds(); ck > 0 {
		kept = math.Floor(r.work/ck) * ck
	}
	lost := (r.work - kept) * float64(s.jobs[i].Accelerators)
	if failure {
		r.lostFail += lost
		r.restarts++
	} else {
		r.lostPre += lost
	}
	r.work = kept
	s.release(i, s.slots[i])
	r.state = waiting
}

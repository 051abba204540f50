package engine

import "time"

// Action is the kind of a Decision.
type Action uint8

// The actions the engine decides.
const (
	// Place starts a job on Decision.Slots at Decision.Site.
	Place Action = iota
	// Preempt stops a running job; the engine has requeued it.
	Preempt
	// Cap limits each accelerator of a running job to Decision.CapW watts.
	Cap
	// Uncap lifts a job's cap.
	Uncap
	// Dispatch assigns a job to a site, chosen among several by the site
	// policy named in its Reason; a Place at that site follows it.
	Dispatch
)

var actionNames = [...]string{"place", "preempt", "cap", "uncap", "dispatch"}

// String returns the action's name.
func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "action?"
}

// Slot is a set of accelerators of one node: bit i of Mask is the node's
// i-th accelerator, whose global index is fleet.Nodes[Node].FirstAccel+i.
type Slot struct {
	Node int32
	Mask uint64
}

// Decision is one thing the engine decided. Decisions of one pass are in
// the order they were taken, and the snapshot already reflects them: the
// driver carries them out (starts, stops, caps) in its own world.
type Decision struct {
	Action Action
	Job    JobID
	// Site is the site index in fleet.Sites (Place, Dispatch).
	Site int32
	// Slots are the job's accelerators (Place). The slice is shared with
	// the snapshot's allocation: do not modify it.
	Slots []Slot
	// CapW is the per-accelerator power limit in watts (Cap).
	CapW   float64
	Reason Reason
}

// Wait is a job left pending by a pass, with the reason it did not start.
type Wait struct {
	Job    JobID
	Reason Reason
}

// Result is the outcome of one scheduling pass.
type Result struct {
	// Decisions are the pass's decisions, in the order taken. Their
	// storage is reused by the engine's next pass: copy what is kept.
	Decisions []Decision
	// Waiting lists the jobs this pass tried and left waiting, in the
	// order tried, with why. A pass stops once nothing further can start:
	// Engine.Reason and Engine.Waits say why every other job waits. Its
	// storage is reused by the engine's next pass.
	Waiting []Wait
	// Placed counts Place decisions; Preempted counts Preempt decisions.
	Placed, Preempted int
	// Reservation is what the backfill policy promised the first job it
	// could not start, nil when it made no promise.
	Reservation *Reservation
}

// Reservation is a backfill promise: the job is expected to start by
// Start at Site (when running jobs end by their estimates), and no job
// started after it in the same pass delays that. Start is zero when no
// time is known (jobs of unknown duration hold what it needs).
type Reservation struct {
	Job   JobID
	Site  int32
	Start time.Time
}

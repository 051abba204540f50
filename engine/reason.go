package engine

import (
	"stargate/fleet"
)

// Code says why the engine decided something or why a job waits. Codes are
// stable strings: drivers store them and show them to users. Each
// identifier spells its string (InsufficientFree is "insufficient-free"),
// but for the Dispatch codes, which are named after their site policy.
type Code string

// Why a job waits.
const (
	// NoMatchingAccelerators: no accelerator of the job's model in the
	// sites it may use.
	NoMatchingAccelerators Code = "no-matching-accelerators"
	// NoDomainLargeEnough: no domain of the required topology (or no
	// site) is large enough for the job, even when empty; it will never
	// run as asked.
	NoDomainLargeEnough Code = "no-domain-large-enough"
	// InsufficientFree: too few free accelerators of the job's model right now.
	InsufficientFree Code = "insufficient-free"
	// Fragmented: enough free accelerators in total, but not together in
	// one domain of the required topology (or node shape).
	Fragmented Code = "fragmented"
	// SliceShape: the job's size is the volume of no slice shape that the
	// model it may use hands out (a TPU pod's 2x2x1, 4x4x4, ...); it will
	// never run as asked. The Reason names a node of that model, and
	// Snapshot.Describe lists the shapes.
	SliceShape Code = "slice-shape"
	// Power: the job's expected draw does not fit the headroom of the
	// domain named by the Reason.
	Power Code = "power"
	// Quota: the tenant's accelerator quota is used up.
	Quota Code = "quota"
	// FIFOBlocked: strict FIFO; an earlier job does not fit, so this one waits.
	FIFOBlocked Code = "fifo-blocked"
	// Reserved: backfill; starting now would delay the reservation held
	// for the job at the head of the queue.
	Reserved Code = "reserved"
	// Backoff: the job was preempted or failed and may not restart yet.
	Backoff Code = "backoff"
	// Grid: the job is flexible and a grid event in force at the site
	// named by the Reason would take its scope over the engine's aim
	// (see GridEvent); announced, for a job still running at its start.
	// As a Dispatch decision: the job was kept out of a grid event's
	// scope and placed outside it.
	Grid Code = "grid"
	// Ramp: starting the job now would take the site named by the Reason
	// up faster than its ramp limit (fleet.Site.RampMWPerMin).
	Ramp Code = "ramp"
)

// Why a decision was taken.
const (
	// Fits: a placement in free capacity.
	Fits Code = "fits"
	// Backfilled: a placement ahead of a blocked queue head that does not
	// delay its reservation.
	Backfilled Code = "backfilled"
	// Preempting: a placement made possible by preempting lower-priority jobs.
	Preempting Code = "preempting"
	// PreemptedFor: a victim preempted for a higher-priority job (Reason.Job).
	PreemptedFor Code = "preempted-for"
	// OverLimit: a cap, because measured draw passed the upper threshold at
	// the domain named by the Reason.
	OverLimit Code = "over-limit"
	// Headroom: an uncap, because measured draw fell below the lower
	// threshold everywhere the job runs.
	Headroom Code = "headroom"
	// GridShed: a cap or a preemption for a grid event whose scope holds
	// the site named by the Reason.
	GridShed Code = "grid-shed"
	// GridMove: a flexible job stopped in a grid event's scope to restart
	// outside it, where it fits now.
	GridMove Code = "grid-move"
	// DispatchCapacity, DispatchPrice and DispatchCarbon name the site
	// policy behind a Dispatch decision (a policy added to a Registry uses
	// its own name). The default, pack, emits no Dispatch decisions.
	DispatchCapacity Code = "capacity"
	DispatchPrice    Code = "price"
	DispatchCarbon   Code = "carbon"
)

// Reason is a Code with the domain or job it concerns. It is data: compare
// Codes, format with Snapshot.Describe for people.
type Reason struct {
	Code Code
	// Level and Domain name a power-tree domain (for Power and OverLimit);
	// Domain is -1 when none applies.
	Level  fleet.Level
	Domain int32
	// Job is the other job involved (for PreemptedFor), else 0.
	Job JobID
}

func reason(c Code) Reason { return Reason{Code: c, Domain: -1} }

// String returns the reason with the index of the domain or job it
// concerns ("power:row#12"); Snapshot.Describe names the domain instead.
func (r Reason) String() string {
	if r.Domain >= 0 {
		return string(r.Code) + ":" + r.Level.String() + "#" + itoa(int(r.Domain))
	}
	if r.Job != 0 {
		return string(r.Code) + ":" + itoa(int(r.Job))
	}
	return string(r.Code)
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	neg := i < 0
	if neg {
		i = -i
	}
	var b [24]byte
	p := len(b)
	for i > 0 {
		p--
		b[p] = byte('0' + i%10)
		i /= 10
	}
	if neg {
		p--
		b[p] = '-'
	}
	return string(b[p:])
}

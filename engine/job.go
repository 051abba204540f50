package engine

import (
	"errors"
	"fmt"
	"time"
)

// JobID identifies a job. Drivers choose IDs; the engine only compares them.
type JobID uint64

// Kind is what a job does; it affects nothing in placement but is reported.
type Kind uint8

// The kinds of job.
const (
	Training  Kind = iota // a gang: all accelerators start together
	Inference             // a long-running service
	Batch                 // independent work
)

var kindNames = [...]string{"training", "inference", "batch"}

// String returns the kind's name.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind?"
}

// ParseKind returns the Kind named s.
func ParseKind(s string) (Kind, error) {
	for i, n := range kindNames {
		if n == s {
			return Kind(i), nil
		}
	}
	return 0, fmt.Errorf("engine: unknown job kind %q (training, inference, batch)", s)
}

// Topology is a level of the interconnect hierarchy that a job asks to be
// packed into.
type Topology uint8

// Topology levels, from the tightest. TopologyAny packs as tightly as
// possible without requiring anything. TopologyNVLink is the model's
// scale-up domain, whatever its vendor calls the fabric: the node for
// DGX-style servers, the rack for NVL72, the group of racks for a model
// whose domain spans racks (a CloudMatrix supernode, a Trn2 UltraServer, a
// TPU pod; see fleet.ScaleUp).
const (
	TopologyAny Topology = iota
	TopologyNode
	TopologyNVLink
	TopologyRack
	TopologyRow
	TopologyHall
	TopologySite
)

var topologyNames = [...]string{"any", "node", "nvlink", "rack", "row", "hall", "site"}

// String returns the level's name.
func (t Topology) String() string {
	if int(t) < len(topologyNames) {
		return topologyNames[t]
	}
	return "topology?"
}

// ParseTopology returns the Topology named s.
func ParseTopology(s string) (Topology, error) {
	for i, n := range topologyNames {
		if n == s {
			return Topology(i), nil
		}
	}
	return 0, fmt.Errorf("engine: unknown topology %q (any, node, nvlink, rack, row, hall, site)", s)
}

// Job is the engine's view of a job: what it needs and how it may be
// treated. The engine copies a Job when it is submitted.
type Job struct {
	ID       JobID
	Tenant   string
	Priority int // higher runs first and may preempt lower
	// Accelerators is the number of accelerators, all placed at once.
	Accelerators int
	// PerNode, when > 0, asks for exactly this many accelerators on each
	// node used (Accelerators must be a multiple of it); 0 is automatic.
	PerNode int
	// Model restricts the accelerator model (a catalog name or alias); ""
	// accepts any.
	Model string
	// Region and Site pin the job ("" = anywhere).
	Region, Site string
	// Duration is the estimated run time (0 = unknown); backfill uses it.
	Duration time.Duration
	// CheckpointEvery is the checkpoint interval (0 = none); preemption
	// prefers victims that lose the least work.
	CheckpointEvery time.Duration
	// PowerFraction is the expected draw per accelerator as a fraction of
	// its TDP (0 means 1: nameplate).
	PowerFraction float64
	// Flexible says whether a grid event may slow or stop the job before
	// nothing else is left to shed (see GridEvent); nil takes the kind's
	// default: training and batch are flexible, inference is not.
	Flexible *bool

	// The one-byte fields last, side by side: a queue of millions holds
	// a Job in every pending record.

	Kind Kind
	// Topology is the level the job wants to be packed into; with
	// TopologyRequired the job waits rather than spill over it.
	Topology         Topology
	TopologyRequired bool
	// Preemptible jobs may be stopped for higher-priority ones.
	Preemptible bool
}

// IsFlexible reports whether a grid event may shed the job before it has
// shed every other: Flexible if set, else every kind but inference.
func (j *Job) IsFlexible() bool {
	if j.Flexible != nil {
		return *j.Flexible
	}
	return j.Kind != Inference
}

// ErrInvalidJob is wrapped by errors about a job that cannot be accepted.
var ErrInvalidJob = errors.New("invalid job")

// ErrDuplicateJob is wrapped when a job's ID is already pending or running.
var ErrDuplicateJob = errors.New("duplicate job id")

// MaxAccelerators bounds a job's size: the engine counts accelerators in
// 32 bits, and no fleet it is built for comes near this.
const MaxAccelerators = 1 << 28

// Validate reports every problem with the job, wrapping ErrInvalidJob.
func (j *Job) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("engine: job %d: %s: %w", j.ID, fmt.Sprintf(format, args...), ErrInvalidJob))
	}
	if j.Accelerators < 1 || j.Accelerators > MaxAccelerators {
		bad("accelerators must be in [1, %d], got %d", MaxAccelerators, j.Accelerators)
	}
	if j.PerNode < 0 {
		bad("per_node must be >= 0, got %d", j.PerNode)
	} else if j.PerNode > 0 && j.Accelerators%j.PerNode != 0 {
		bad("accelerators (%d) must be a multiple of per_node (%d)", j.Accelerators, j.PerNode)
	}
	if j.PowerFraction < 0 || j.PowerFraction > 1 {
		bad("power fraction must be in [0, 1], got %g", j.PowerFraction)
	}
	if j.Duration < 0 || j.CheckpointEvery < 0 {
		bad("durations must be >= 0")
	}
	if int(j.Topology) >= len(topologyNames) {
		bad("unknown topology %d", j.Topology)
	}
	if int(j.Kind) >= len(kindNames) {
		bad("unknown kind %d", j.Kind)
	}
	return errors.Join(errs...)
}

func (j *Job) powerFraction() float64 {
	if j.PowerFraction == 0 {
		return 1
	}
	return j.PowerFraction
}

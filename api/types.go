// Package api holds the wire types of Stargate's HTTP API: the bodies of
// its requests and answers, its errors and events, shared by the server,
// the client library and the agents. It imports only the standard
// library, so that a program that only talks to the API links no store
// driver and no metrics library.
package api

import "time"

// JobState is where a job is in its life. A job is in exactly one state.
type JobState string

// Job states. Pending jobs wait for the scheduler; a running job holds its
// Placement; the last three are final.
const (
	JobPending   JobState = "pending"
	JobRunning   JobState = "running"
	JobSucceeded JobState = "succeeded"
	JobFailed    JobState = "failed"
	JobCancelled JobState = "cancelled"
	// JobTimeout: its processes ran past the spec's time_limit_s and were
	// stopped.
	JobTimeout JobState = "timeout"
)

// JobStates lists every job state.
var JobStates = []JobState{JobPending, JobRunning, JobSucceeded, JobFailed, JobCancelled, JobTimeout}

// Final reports whether no transition leaves s.
func (s JobState) Final() bool {
	return s == JobSucceeded || s == JobFailed || s == JobCancelled || s == JobTimeout
}

// Valid reports whether s is a known state.
func (s JobState) Valid() bool {
	for _, v := range JobStates {
		if s == v {
			return true
		}
	}
	return false
}

// Job kinds.
const (
	KindTraining  = "training"
	KindInference = "inference"
	KindBatch     = "batch"
)

// JobSpec is what a user submits: the job's needs and constraints. It is
// stored as submitted (after defaults) and never changes.
type JobSpec struct {
	Name string `json:"name,omitempty" yaml:"name"`
	// Tenant defaults to the submitting user's tenant; admins and
	// operators must give it.
	Tenant   string `json:"tenant,omitempty" yaml:"tenant"`
	Kind     string `json:"kind,omitempty" yaml:"kind"`
	Priority int    `json:"priority,omitempty" yaml:"priority"`
	// Accelerators is the number of accelerators, all started together.
	Accelerators int `json:"accelerators" yaml:"accelerators"`
	// PerNode is the accelerators per node (0: the scheduler chooses).
	PerNode int `json:"per_node,omitempty" yaml:"per_node"`
	// Model constrains the accelerator model ("h100"; empty: any).
	Model string `json:"model,omitempty" yaml:"model"`
	// Topology is the domain the job must (or, when not required, should)
	// fit in: node, nvlink, rack, row, hall, site.
	Topology         string `json:"topology,omitempty" yaml:"topology"`
	TopologyRequired bool   `json:"topology_required,omitempty" yaml:"topology_required"`
	Region           string `json:"region,omitempty" yaml:"region"`
	Site             string `json:"site,omitempty" yaml:"site"`
	// DurationS is the estimated run time in seconds (0: unknown).
	DurationS int64 `json:"duration_s,omitempty" yaml:"duration_s"`
	// CheckpointS is the checkpoint interval in seconds (0: none).
	CheckpointS int64 `json:"checkpoint_s,omitempty" yaml:"checkpoint_s"`
	// Power is the expected draw per accelerator as a fraction of TDP
	// (0: the scheduler's default).
	Power       float64 `json:"power,omitempty" yaml:"power"`
	Preemptible bool    `json:"preemptible,omitempty" yaml:"preemptible"`
	// Flexible says whether a grid event may slow or stop the job before
	// every flexible job of its scope has been shed (absent: training and
	// batch are flexible, inference is not). A job that is not flexible is
	// capped only when nothing flexible runs in the scope, and never
	// stopped for the grid.
	Flexible *bool `json:"flexible,omitempty" yaml:"flexible"`
	// Command is the argv each process runs (no shell unless it names
	// one); Env is added to the processes' environment.
	Command []string          `json:"command,omitempty" yaml:"command"`
	Env     map[string]string `json:"env,omitempty" yaml:"env"`
	// SecretEnv is added to the environment like Env, but its values are
	// kept encrypted with the server's key, never shown by the API, and
	// given only to the agents of the nodes the job runs on.
	SecretEnv map[string]string `json:"secret_env,omitempty" yaml:"secret_env"`
	// Launch is how many processes run on each node: "node" (default, one
	// per node, as torchrun expects) or "accelerator" (one per allocated
	// accelerator, with RANK, LOCAL_RANK and WORLD_SIZE).
	Launch string `json:"launch,omitempty" yaml:"launch"`
	// GraceS is the time in seconds between SIGTERM and SIGKILL when the
	// job is stopped (default 30).
	GraceS int64 `json:"grace_s,omitempty" yaml:"grace_s"`
	// MaxRestarts is how many times a job that failed is requeued before
	// it ends failed (default 0).
	MaxRestarts int `json:"max_restarts,omitempty" yaml:"max_restarts"`
	// DependsOn lists jobs this one waits for, with Slurm's kinds: it
	// starts once each has ended as its kind asks, and is cancelled when
	// one ended otherwise.
	DependsOn []Dependency `json:"depends_on,omitempty" yaml:"depends_on"`
	// TimeLimitS bounds an attempt's run time in seconds: past it, its
	// processes are stopped (SIGTERM, grace_s, SIGKILL) and the job ends
	// timeout (0: no limit).
	TimeLimitS int64 `json:"time_limit_s,omitempty" yaml:"time_limit_s"`
	// Hold submits the job held: it waits, out of the scheduler's queue,
	// until it is released (POST /v1/jobs/{id}/release).
	Hold bool `json:"hold,omitempty" yaml:"hold"`
	// Array submits one job per index, as Slurm's --array: "0-99",
	// "1,3,5-9", "0-15:4" (every 4th), and "%N" bounds how many elements
	// run at once ("0-99%10"). Each element runs with STARGATE_ARRAY_INDEX
	// and STARGATE_ARRAY_JOB_ID in its environment.
	Array string `json:"array,omitempty" yaml:"array"`
}

// Dependency is one job another waits for.
type Dependency struct {
	Job string `json:"job" yaml:"job"`
	// Kind is afterok (the job succeeded), afternotok (it ended
	// otherwise: failed, cancelled, timeout) or afterany (it ended).
	Kind string `json:"kind" yaml:"kind"`
}

// Dependency kinds.
const (
	AfterOK    = "afterok"
	AfterNotOK = "afternotok"
	AfterAny   = "afterany"
)

// Launch modes of a job's processes.
const (
	LaunchNode        = "node"
	LaunchAccelerator = "accelerator"
)

// Allocation is the accelerators a running job holds on one node.
type Allocation struct {
	Node         string `json:"node"`
	Accelerators []int  `json:"accelerators"` // indices within the node
	// Done is set when the job's processes on this node ended well while
	// others of its gang still run; the job succeeds when every
	// allocation is done.
	Done bool `json:"done,omitempty"`
}

// Job is one submitted job and its current state.
type Job struct {
	ID     string   `json:"id"`
	Tenant string   `json:"tenant"`
	Spec   JobSpec  `json:"spec"`
	State  JobState `json:"state"`
	// Reasons say why a pending job waits, or why a job ended, as the
	// scheduler or the server explained it.
	Reasons   []string     `json:"reasons,omitempty"`
	Placement []Allocation `json:"placement,omitempty"`
	// CapW is the per-accelerator power cap in watts that the power
	// controller put on a running job (0: uncapped).
	CapW float64 `json:"cap_w,omitempty"`
	// Attempts counts the times the job was started; Failures the times
	// its processes failed (each failure within MaxRestarts requeues it).
	Attempts int `json:"attempts"`
	Failures int `json:"failures,omitempty"`
	// Held keeps a pending job out of the scheduler's queue until it is
	// released.
	Held bool `json:"held,omitempty"`
	// ArrayJob is, for an element of an array, the ID of the array's
	// first element (the array's name); ArrayIndex its index.
	ArrayJob    string    `json:"array_job,omitempty"`
	ArrayIndex  int       `json:"array_index,omitempty"`
	SubmittedAt time.Time `json:"submitted_at"`
	StartedAt   time.Time `json:"started_at,omitzero"`
	EndedAt     time.Time `json:"ended_at,omitzero"`
	// IdempotencyKey is the client's key for the submit (empty: none) and
	// RequestHash the hash of the request it was given with.
	IdempotencyKey string `json:"-"`
	RequestHash    string `json:"-"`
	// Version grows by one on every change; Apply compares it.
	Version int64 `json:"version"`
}

// NodeState is the scheduler's view of a node.
type NodeState string

// Node states.
const (
	NodeReady    NodeState = "ready"    // takes new work
	NodeDraining NodeState = "draining" // keeps its jobs, takes no new work
	NodeLost     NodeState = "lost"     // heartbeats stopped; its jobs were requeued
	// NodeUnhealthy: its agent reports a device vanished or failed; it
	// keeps its jobs and takes no new work until reported healthy.
	NodeUnhealthy NodeState = "unhealthy"
)

// Node is a registered server, matched to a node of the fleet by name.
type Node struct {
	// Name is the fleet's node name, "site/hall/row/rack/nN".
	Name         string            `json:"name"`
	Model        string            `json:"model"`
	Accelerators int               `json:"accelerators"`
	Address      string            `json:"address,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	State        NodeState         `json:"state"`
	// Drained is the operator's intent that the node take no new work. It
	// outlives the node being lost and registering again: a drained node
	// comes back draining, not ready, until it is undrained.
	Drained      bool      `json:"drained"`
	RegisteredAt time.Time `json:"registered_at"`
	HeartbeatAt  time.Time `json:"heartbeat_at"`
	// DrawW is the last measured draw in watts; negative: not reported.
	DrawW   float64 `json:"draw_w"`
	Version int64   `json:"version"`
}

// Event is one entry of the control plane's journal: what happened to a
// job or node, and why.
type Event struct {
	Seq     int64     `json:"seq"` // assigned by the store
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"` // submitted, placed, cancelled, requeued, node-lost, ...
	Job     string    `json:"job,omitempty"`
	Node    string    `json:"node,omitempty"`
	Message string    `json:"message,omitempty"`
}

// Role is what a token may do.
type Role string

// Roles. A user is bound to a tenant; an agent token (a join token) may
// only register nodes; a node credential speaks for the one node it was
// minted for.
const (
	RoleAdmin    Role = "admin"
	RoleOperator Role = "operator"
	RoleUser     Role = "user"
	RoleAgent    Role = "agent"
	// RoleNode is a node credential: heartbeats and logs of one node,
	// minted at registration.
	RoleNode Role = "node"
	// RoleGrid is a utility's signal: it may post grid events and read
	// them, nothing else.
	RoleGrid Role = "grid"
)

// Roles lists every role.
var Roles = []Role{RoleAdmin, RoleOperator, RoleUser, RoleAgent, RoleNode, RoleGrid}

// Token is an API credential. Only the hash of its secret is stored.
type Token struct {
	ID     string `json:"id"`
	Hash   string `json:"-"`
	Role   Role   `json:"role"`
	Tenant string `json:"tenant,omitempty"`
	Name   string `json:"name,omitempty"`
	// Node binds a node credential (RoleNode) to one node's name.
	Node string `json:"node,omitempty"`
	// NodePrefix limits a join token (RoleAgent) to node names that start
	// with it ("": any node).
	NodePrefix string    `json:"node_prefix,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
}

// LogChunk is a piece of the output (stdout and stderr) of a job's
// processes on one node, in one attempt.
type LogChunk struct {
	Seq     int64  `json:"seq"` // assigned by the store; grows with every chunk stored
	Job     string `json:"job"`
	Attempt int    `json:"attempt"`
	Node    string `json:"node"`
	Offset  int64  `json:"offset"` // of Data's first byte in its stream (Job, Attempt, Node)
	Data    []byte `json:"data"`
}

// Tenant is a queue of the fair share: its weight, and the most its
// running jobs may hold at once. A tenant without a record has weight 1
// and no quota.
type Tenant struct {
	Name string `json:"name"`
	// Weight is the tenant's share under the fair policy, relative to the
	// other tenants with work (> 0).
	Weight float64 `json:"weight"`
	// Quota caps the accelerators its running jobs hold at once (0: none).
	Quota int `json:"quota,omitempty"`
	// ModelQuotas cap the accelerators of a model (by catalog name) its
	// running jobs hold at once; PowerQuotaKW caps their rated power.
	ModelQuotas  map[string]int `json:"model_quotas,omitempty"`
	PowerQuotaKW float64        `json:"power_quota_kw,omitempty"`
	UpdatedAt    time.Time      `json:"updated_at"`
}

// JobEnergy is the energy account of one attempt of a job, kept from its
// nodes' telemetry.
type JobEnergy struct {
	Job     string `json:"job"`
	Attempt int    `json:"attempt"`
	Site    string `json:"site"`
	// EnergyJ is the IT energy of the job's accelerators; FacilityJ that
	// times the site's PUE.
	EnergyJ   float64 `json:"energy_j"`
	FacilityJ float64 `json:"facility_j"`
	// AcceleratorS counts accelerator-seconds held.
	AcceleratorS float64 `json:"accelerator_s"`
	// CostUSD and CO2g price the facility energy at the site's energy mix
	// of the hour it was drawn in.
	CostUSD float64 `json:"cost_usd"`
	CO2g    float64 `json:"co2_g"`
	// Source says where the energy came from: "counter" (the devices'
	// energy counters), "power" (their power readings over the interval),
	// "model" (the fleet's power model: no readings), or "mixed".
	Source  string `json:"source"`
	Samples int    `json:"samples"`
}

// Sources of a JobEnergy.
const (
	EnergyCounter = "counter"
	EnergyPower   = "power"
	EnergyModel   = "model"
	EnergyMixed   = "mixed"
)

// GridEvent is a grid operator's call to cut a site's or a region's
// draw: from Start, for Duration, to a target given as an absolute MW or
// as a fraction of the scope's draw at the signal. A mandatory event must
// be met; a voluntary one is met as far as PriceUSDPerMWh (what the grid
// pays for the energy not drawn) is worth more than the work shed.
type GridEvent struct {
	ID string `json:"id"`
	// ScopeKind is "site" or "region"; Scope names it in the fleet.
	ScopeKind string    `json:"scope_kind"`
	Scope     string    `json:"scope"`
	Start     time.Time `json:"start"`
	// DurationS is how long the cut holds, in seconds; NoticeS how long
	// before Start the signal came (informational: planning starts then).
	DurationS int64 `json:"duration_s"`
	NoticeS   int64 `json:"notice_s,omitempty"`
	// TargetMW is the most the scope may draw at the facility during the
	// event; with TargetFraction instead, that fraction of its draw at
	// Start (BaselineMW, recorded then).
	TargetMW       float64 `json:"target_mw,omitempty"`
	TargetFraction float64 `json:"target_fraction,omitempty"`
	BaselineMW     float64 `json:"baseline_mw,omitempty"`
	// Kind is mandatory or voluntary.
	Kind           string  `json:"kind"`
	PriceUSDPerMWh float64 `json:"price_usd_mwh,omitempty"`
	// State is scheduled, active, ended or cancelled.
	State     string    `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	// CreatedBy names the token that posted it.
	CreatedBy string `json:"created_by,omitempty"`
	Version   int64  `json:"version"`
}

// Grid event kinds and states.
const (
	GridMandatory = "mandatory"
	GridVoluntary = "voluntary"

	GridScheduled = "scheduled"
	GridActive    = "active"
	GridEnded     = "ended"
	GridCancelled = "cancelled"
)

// End is when the event's cut ends.
func (e GridEvent) End() time.Time { return e.Start.Add(time.Duration(e.DurationS) * time.Second) }

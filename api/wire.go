package api

import (
	"net/url"
	"time"
)

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Error    string    `json:"error"`
	Problems []Problem `json:"problems,omitempty"`
}

// Problem is one thing wrong with a request, at a field path.
type Problem struct {
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// String formats the problem as "field: message".
func (p Problem) String() string {
	if p.Field == "" {
		return p.Message
	}
	return p.Field + ": " + p.Message
}

// JobList is the body of GET /v1/jobs.
type JobList struct {
	Jobs []Job `json:"jobs"`
	// Next is the cursor of the next page (pass it as ?after=); empty on
	// the last page.
	Next string `json:"next,omitempty"`
}

// EventList is the body of GET /v1/events.
type EventList struct {
	Events []Event `json:"events"`
	// Next is the cursor of the next page (pass it as ?after=).
	Next int64 `json:"next"`
}

// Heartbeat is the body of POST /v1/nodes/{name}/heartbeat: an agent's
// report of its node, sent with the node's credential.
type Heartbeat struct {
	// DrawW is the node's measured draw in watts (omit when unknown).
	DrawW *float64 `json:"draw_w,omitempty"`
	// Finished reports jobs of this node whose processes ended.
	Finished []JobOutcome `json:"finished,omitempty"`
	// Accelerators is the telemetry of each accelerator, by index.
	Accelerators []AcceleratorReading `json:"accelerators,omitempty"`
	// Caps acknowledges the power caps of the node's jobs: the limit
	// applied, or why none could be.
	Caps []CapAck `json:"caps,omitempty"`
	// Unhealthy says why the node cannot take work (an accelerator
	// vanished or reported a fatal error); empty when it is healthy. An
	// unhealthy node keeps its jobs and gets no new ones until a
	// heartbeat says it is healthy again.
	Unhealthy string `json:"unhealthy,omitempty"`
}

// HeartbeatReply tells an agent what its node should run.
type HeartbeatReply struct {
	Node Node `json:"node"`
	// Jobs are the running jobs placed on the node; a process of a job
	// not listed must be stopped.
	Jobs []Job `json:"jobs"`
	// Addresses are the registered addresses of the first node (rank 0)
	// of each job, by node name.
	Addresses map[string]string `json:"addresses,omitempty"`
}

// AcceleratorReading is one accelerator's telemetry in a heartbeat.
type AcceleratorReading struct {
	Index       int     `json:"index"`
	UUID        string  `json:"uuid,omitempty"`
	PowerW      float64 `json:"power_w"`
	EnergyJ     float64 `json:"energy_j,omitempty"`
	Util        float64 `json:"util"` // 0..1
	MemUsedMiB  float64 `json:"mem_used_mib"`
	MemTotalMiB float64 `json:"mem_total_mib,omitempty"`
	TempC       float64 `json:"temp_c"`
	SMClockMHz  float64 `json:"sm_clock_mhz,omitempty"`
	CapW        float64 `json:"cap_w,omitempty"`
	Fatal       string  `json:"fatal,omitempty"`
}

// CapAck is an agent's answer to a job's power cap.
type CapAck struct {
	Job string `json:"job"`
	// WantW is the cap asked (0: lifted); AppliedW the limit now in force
	// per accelerator (0: the device default).
	WantW    float64 `json:"want_w"`
	AppliedW float64 `json:"applied_w"`
	Error    string  `json:"error,omitempty"`
}

// JobOutcome is how a job's processes on a node ended.
type JobOutcome struct {
	Job string `json:"job"`
	// Attempt is the job's attempt (Job.Attempts when it was started)
	// that ended; 0: the current one.
	Attempt int      `json:"attempt,omitempty"`
	State   JobState `json:"state"` // succeeded, failed or timeout
	Message string   `json:"message,omitempty"`
}

// NodeRegistration is the body of POST /v1/nodes.
type NodeRegistration struct {
	// Name is the fleet's node name, "site/hall/row/rack/nN".
	Name string `json:"name"`
	// Model and Accelerators, when given, must match the fleet file.
	Model        string            `json:"model,omitempty"`
	Accelerators int               `json:"accelerators,omitempty"`
	Address      string            `json:"address,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	// DrawW is the measured draw in watts (omit when unknown).
	DrawW *float64 `json:"draw_w,omitempty"`
}

// NodeRegistered is the answer to POST /v1/nodes: the node as stored, and
// the credential that its heartbeats and logs must carry from now on. The
// credential speaks for this node alone; registering again replaces it.
type NodeRegistered struct {
	Node       Node         `json:"node"`
	Credential string       `json:"credential"`
	Hardware   NodeHardware `json:"hardware"`
}

// NodeHardware is what the fleet file says a node holds, so that an agent
// can check its devices against it and simulate them when it has none.
type NodeHardware struct {
	Model        string  `json:"model"`
	Accelerator  string  `json:"accelerator"`
	Vendor       string  `json:"vendor"`
	Accelerators int     `json:"accelerators"`
	TDPW         float64 `json:"tdp_w"`
	IdleW        float64 `json:"idle_w"`
	MemoryGB     float64 `json:"memory_gb"`
	// OverheadW and OverheadIdleW are the node's draw outside its
	// accelerators at full load and idle.
	OverheadW     float64 `json:"overhead_w"`
	OverheadIdleW float64 `json:"overhead_idle_w"`
}

// NodeInfo is a registered node with the fleet's view of it.
type NodeInfo struct {
	Node
	Rack string `json:"rack"`
	// Allocated counts the accelerators held by running jobs.
	Allocated int `json:"allocated"`
}

// NodeDetail is the body of GET /v1/nodes/{name}.
type NodeDetail struct {
	NodeInfo
	// Telemetry is the latest report of the node's agent to this replica
	// (absent when it has not reported here since the replica started).
	Telemetry *NodeTelemetry `json:"telemetry,omitempty"`
}

// NodeList is the body of GET /v1/nodes.
type NodeList struct {
	Nodes []NodeInfo `json:"nodes"`
}

// NodeTelemetry is the latest telemetry a node's agent reported.
type NodeTelemetry struct {
	At           time.Time            `json:"at"`
	Accelerators []AcceleratorReading `json:"accelerators,omitempty"`
	Caps         []CapAck             `json:"caps,omitempty"`
	Unhealthy    string               `json:"unhealthy,omitempty"`
}

// JobLogs is the body of GET /v1/jobs/{id}/logs.
type JobLogs struct {
	Chunks []LogChunk `json:"chunks"`
	// Next is the cursor to pass as ?after= to read on (the last chunk's
	// Seq, or the cursor given when there was none).
	Next int64 `json:"next"`
}

// LogUpload is the body of POST /v1/nodes/{name}/logs: output of the
// node's job processes, shipped by its agent. Chunks are keyed by job,
// attempt and offset, so that an upload retried after a lost answer is
// stored once.
type LogUpload struct {
	Chunks []LogPiece `json:"chunks"`
}

// LogStored answers a log upload: how many pieces were stored, and why
// the others were refused (they will never be taken; drop them).
type LogStored struct {
	Stored  int       `json:"stored"`
	Refused []Problem `json:"refused"`
}

// PowerDomain is one breaker of the power tree with its draw.
type PowerDomain struct {
	Level string `json:"level"`
	Name  string `json:"name"` // full path, "site/hall/row"
	// LimitW is the rated limit. For a site it is the substation; the IT
	// load it allows is ITLimitW (LimitW / PUE).
	LimitW   int64   `json:"limit_w"`
	ITLimitW int64   `json:"it_limit_w,omitempty"`
	PUE      float64 `json:"pue,omitempty"`
	// DrawW is the IT draw below this domain: measured where nodes report
	// it, otherwise expected from the running jobs' power fractions.
	DrawW     float64       `json:"draw_w"`
	HeadroomW float64       `json:"headroom_w"`
	Nodes     int           `json:"nodes"` // registered, not lost
	Children  []PowerDomain `json:"children,omitempty"`
}

// PowerReport is the body of GET /v1/power.
type PowerReport struct {
	Sites []PowerDomain `json:"sites"`
}

// TokenRequest is the body of POST /v1/tokens.
type TokenRequest struct {
	Role   Role   `json:"role"`
	Tenant string `json:"tenant,omitempty"`
	Name   string `json:"name,omitempty"`
	// NodePrefix limits an agent (join) token to registering nodes whose
	// names start with it ("abilene/").
	NodePrefix string `json:"node_prefix,omitempty"`
}

// TokenCreated is the answer to POST /v1/tokens: the only time the secret
// is shown.
type TokenCreated struct {
	Token
	Secret string `json:"token"`
}

// Status is the body of GET /v1/status.
type Status struct {
	ID     string `json:"id"`
	Leader bool   `json:"leader"`
	Epoch  int64  `json:"epoch"`
	Role   string `json:"role"`
	Tenant string `json:"tenant,omitempty"`
	Nodes  int    `json:"fleet_nodes"`
	Accels int    `json:"fleet_accelerators"`
}

// TenantList is the body of GET /v1/tenants.
type TenantList struct {
	Tenants []TenantUsage `json:"tenants"`
}

// TenantUsage is one tenant of GET /v1/tenants.
type TenantUsage struct {
	Name   string  `json:"name"`
	Weight float64 `json:"weight"`
	Quota  int     `json:"quota,omitempty"`
	// ModelQuotas and PowerQuotaKW are its quotas by model and of power.
	ModelQuotas  map[string]int `json:"model_quotas,omitempty"`
	PowerQuotaKW float64        `json:"power_quota_kw,omitempty"`
	// Configured is false for a tenant that only has jobs: weight 1, no quota.
	Configured bool `json:"configured"`
	// Running counts the accelerators its running jobs hold; Share is
	// that part of all accelerators held, and FairShare the part its
	// weight entitles it to among the tenants with work.
	Running   int              `json:"running_accelerators"`
	Share     float64          `json:"share"`
	FairShare float64          `json:"fair_share"`
	Jobs      map[JobState]int `json:"jobs"`
}

// TenantRequest is the body of POST /v1/tenants and PUT /v1/tenants/{name}:
// on PUT, a field left out keeps its value.
type TenantRequest struct {
	Name   string   `json:"name,omitempty"`
	Weight *float64 `json:"weight,omitempty"`
	Quota  *int     `json:"quota,omitempty"`
	// ModelQuotas replace the tenant's quotas by accelerator model (a
	// count of 0 removes one); PowerQuotaKW caps the rated power of its
	// running jobs (0: none).
	ModelQuotas  map[string]int `json:"model_quotas,omitempty"`
	PowerQuotaKW *float64       `json:"power_quota_kw,omitempty"`
}

// TenantConfig is a tenant's fair-share weight and accelerator quota.
type TenantConfig struct {
	Weight float64 `json:"weight"`
	Quota  int     `json:"quota,omitempty"` // accelerators at once; 0: none
	// ModelQuotas and PowerQuotaKW: see Tenant.
	ModelQuotas  map[string]int `json:"model_quotas,omitempty"`
	PowerQuotaKW float64        `json:"power_quota_kw,omitempty"`
}

// DryRun is the answer to a dry run.
type DryRun struct {
	// Job is the job as it would be stored (its ID is DryRunID).
	Job Job `json:"job"`
	// Starts says whether the next pass would start it; Placement is then
	// where.
	Starts    bool         `json:"starts"`
	Placement []Allocation `json:"placement,omitempty"`
	// Reasons say why it would wait, naming the job it waits behind
	// where the scheduler does.
	Reasons []string `json:"reasons,omitempty"`
	// Preempts lists the running jobs the pass that starts it would stop
	// (for it, or for others it places with it).
	Preempts []string `json:"preempts,omitempty"`
	// Queued counts the pending jobs the scheduler would weigh with it.
	Queued int `json:"queued"`
}

// Accounting is the body of GET /v1/accounting.
type Accounting struct {
	Rows   []AccountRow `json:"rows"`
	Totals AccountRow   `json:"totals"`
	// Next is the cursor of the next page of jobs (by job only).
	Next string `json:"next,omitempty"`
}

// AccountRow is one job, or one group, of the accounting.
type AccountRow struct {
	Key    string `json:"key,omitempty"` // the group: tenant, site or day
	Jobs   int    `json:"jobs"`
	Job    string `json:"job,omitempty"`
	Name   string `json:"name,omitempty"`
	Tenant string `json:"tenant,omitempty"`
	State  string `json:"state,omitempty"`
	Site   string `json:"site,omitempty"`
	// ElapsedS is from the last attempt's start to the end.
	ElapsedS         float64 `json:"elapsed_s"`
	AcceleratorHours float64 `json:"accelerator_hours"`
	EnergyKWh        float64 `json:"energy_kwh"`
	FacilityKWh      float64 `json:"facility_kwh"`
	CostUSD          float64 `json:"cost_usd"`
	EmissionsKg      float64 `json:"emissions_kg"`
	// LostKWh is the IT energy of attempts that did not complete.
	LostKWh float64 `json:"lost_kwh"`
	// Source says where the energy came from (see JobEnergy).
	Source string `json:"source,omitempty"`
}

// ArraySubmitted is the answer to the submit of an array: its elements,
// committed together.
type ArraySubmitted struct {
	ArrayJob string `json:"array_job"`
	Jobs     []Job  `json:"jobs"`
}

// FleetReport is the body of GET /v1/fleet: every site's draw against its
// substation, its accelerators, and what its energy costs and emits now.
type FleetReport struct {
	At    time.Time   `json:"at"`
	Sites []FleetSite `json:"sites"`
	// Totals over the sites.
	DrawW              float64 `json:"draw_w"`
	FacilityW          float64 `json:"facility_w"`
	Accelerators       int     `json:"accelerators"`
	Busy               int     `json:"busy_accelerators"`
	CostUSDPerHour     float64 `json:"cost_usd_per_hour"`
	EmissionsKgPerHour float64 `json:"emissions_kg_per_hour"`
	// Nodes counts the registered nodes by state; Jobs the jobs by state
	// (a user's own tenant's only).
	Nodes map[NodeState]int `json:"nodes"`
	Jobs  map[JobState]int  `json:"jobs"`
	// History is the draw of every site over the last hour, as this
	// replica sampled it.
	History DrawHistory `json:"history"`
}

// FleetSite is one site of the fleet report.
type FleetSite struct {
	Name   string `json:"name"`
	Region string `json:"region"`
	// LimitW is the substation's rating; ITLimitW the IT load it allows
	// (LimitW / PUE).
	LimitW   int64   `json:"limit_w"`
	ITLimitW int64   `json:"it_limit_w"`
	PUE      float64 `json:"pue"`
	// DrawW is the IT draw; FacilityW the site's draw at the substation
	// (DrawW × PUE).
	DrawW        float64 `json:"draw_w"`
	FacilityW    float64 `json:"facility_w"`
	Accelerators int     `json:"accelerators"`
	Busy         int     `json:"busy_accelerators"`
	Nodes        int     `json:"nodes"` // registered, not lost
	// Mix is the energy that covers the facility's draw this hour, by
	// source; Unserved is the part no source covers.
	Mix                []EnergyPart `json:"mix"`
	UnservedMW         float64      `json:"unserved_mw,omitempty"`
	CarbonGPerKWh      float64      `json:"carbon_g_per_kwh"`
	PriceUSDPerMWh     float64      `json:"price_usd_per_mwh"`
	CostUSDPerHour     float64      `json:"cost_usd_per_hour"`
	EmissionsKgPerHour float64      `json:"emissions_kg_per_hour"`
}

// EnergyPart is one source's part of a site's energy this hour.
type EnergyPart struct {
	Source string  `json:"source"`
	MW     float64 `json:"mw"`
}

// DrawHistory is the IT draw of each site, sampled every historyStep.
type DrawHistory struct {
	StepS int                  `json:"step_s"`
	Times []time.Time          `json:"times"`
	Sites map[string][]float64 `json:"sites"` // by site, one value per time
}

// StreamTick is the data of a "tick" event.
type StreamTick struct {
	At   time.Time        `json:"at"`
	Jobs map[JobState]int `json:"jobs"`
}

// SessionRequest is the body of POST /v1/session.
type SessionRequest struct {
	Token string `json:"token"`
}

// IdempotencyHeader carries the client's key that makes a submit safe to
// retry.
const IdempotencyHeader = "Idempotency-Key"

// ReplayedHeader is set on the answer to a submit that matched an earlier
// one by idempotency key.
const ReplayedHeader = "Idempotent-Replayed"

// JobPath returns the API path of a job.
func JobPath(id string) string { return "/v1/jobs/" + url.PathEscape(id) }

// NodePath returns the API path of a node; its slashes are escaped.
func NodePath(name string) string { return "/v1/nodes/" + url.PathEscape(name) }

// DryRunID names the job of a dry run in its answer (inside, it has a
// fresh ID that sorts after every job submitted so far, as a submit's
// would).
const DryRunID = "dry-run"

// LogPiece is a piece of a job's output on the uploading node.
type LogPiece struct {
	Job     string `json:"job"`
	Attempt int    `json:"attempt"`
	// Offset is where Data starts in the job's output on this node in
	// this attempt: bytes trimmed by the agent leave a gap.
	Offset int64  `json:"offset"`
	Data   []byte `json:"data"`
}

// GridEventRequest is the body of POST /v1/grid-events.
type GridEventRequest struct {
	// Scope names a site or a region of the fleet; ScopeKind says which
	// ("site" or "region"; empty: whichever has the name).
	Scope     string `json:"scope"`
	ScopeKind string `json:"scope_kind,omitempty"`
	// Start defaults to now plus the notice.
	Start     time.Time `json:"start,omitzero"`
	DurationS int64     `json:"duration_s"`
	NoticeS   int64     `json:"notice_s,omitempty"`
	// One of TargetMW (the most the scope may draw at the facility) and
	// TargetFraction (of its draw at the start, between 0 and 1).
	TargetMW       float64 `json:"target_mw,omitempty"`
	TargetFraction float64 `json:"target_fraction,omitempty"`
	// Kind is mandatory (the default) or voluntary.
	Kind           string  `json:"kind,omitempty"`
	PriceUSDPerMWh float64 `json:"price_usd_mwh,omitempty"`
}

// GridEventList is the body of GET /v1/grid-events.
type GridEventList struct {
	Events []GridEvent `json:"events"`
}

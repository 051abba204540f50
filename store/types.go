package store

import (
	"time"

	"stargate/api"
)

// The types of jobs, nodes, events, tokens and tenants are the API's
// (package api): the store keeps what the API speaks of. These names
// stand for them.

type (
	JobState   = api.JobState
	JobSpec    = api.JobSpec
	Dependency = api.Dependency
	Allocation = api.Allocation
	Job        = api.Job
	NodeState  = api.NodeState
	Node       = api.Node
	Event      = api.Event
	Role       = api.Role
	Token      = api.Token
	LogChunk   = api.LogChunk
	Tenant     = api.Tenant
	JobEnergy  = api.JobEnergy
	GridEvent  = api.GridEvent
)

const (
	JobPending        = api.JobPending
	JobRunning        = api.JobRunning
	JobSucceeded      = api.JobSucceeded
	JobFailed         = api.JobFailed
	JobCancelled      = api.JobCancelled
	JobTimeout        = api.JobTimeout
	KindTraining      = api.KindTraining
	KindInference     = api.KindInference
	KindBatch         = api.KindBatch
	AfterOK           = api.AfterOK
	AfterNotOK        = api.AfterNotOK
	AfterAny          = api.AfterAny
	LaunchNode        = api.LaunchNode
	LaunchAccelerator = api.LaunchAccelerator
	NodeReady         = api.NodeReady
	NodeDraining      = api.NodeDraining
	NodeLost          = api.NodeLost
	NodeUnhealthy     = api.NodeUnhealthy
	RoleAdmin         = api.RoleAdmin
	RoleOperator      = api.RoleOperator
	RoleUser          = api.RoleUser
	RoleAgent         = api.RoleAgent
	RoleNode          = api.RoleNode
	RoleGrid          = api.RoleGrid
	GridMandatory     = api.GridMandatory
	GridVoluntary     = api.GridVoluntary
	GridScheduled     = api.GridScheduled
	GridActive        = api.GridActive
	GridEnded         = api.GridEnded
	GridCancelled     = api.GridCancelled
	EnergyCounter     = api.EnergyCounter
	EnergyPower       = api.EnergyPower
	EnergyModel       = api.EnergyModel
	EnergyMixed       = api.EnergyMixed
)

var (
	JobStates = api.JobStates
	Roles     = api.Roles
)

// LogQuery selects chunks for Store.Logs.
type LogQuery struct {
	Job   string // required
	Node  string // empty: every node
	After int64  // Seq strictly greater (a cursor for following)
	Limit int    // <= 0: no limit
}

// Lease is a named, expiring lock held by one holder, used for leader
// election among server replicas.
type Lease struct {
	Name      string
	Holder    string
	Epoch     int64
	ExpiresAt time.Time
}

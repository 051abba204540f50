package server

import "stargate/api"

// The API's wire types live in package api, which the client and the
// agents share without linking the server; these names stand for them.
type (
	ErrorBody          = api.ErrorBody
	Problem            = api.Problem
	JobList            = api.JobList
	EventList          = api.EventList
	Heartbeat          = api.Heartbeat
	HeartbeatReply     = api.HeartbeatReply
	AcceleratorReading = api.AcceleratorReading
	CapAck             = api.CapAck
	JobOutcome         = api.JobOutcome
	NodeRegistration   = api.NodeRegistration
	NodeRegistered     = api.NodeRegistered
	NodeHardware       = api.NodeHardware
	NodeInfo           = api.NodeInfo
	NodeDetail         = api.NodeDetail
	NodeList           = api.NodeList
	NodeTelemetry      = api.NodeTelemetry
	JobLogs            = api.JobLogs
	LogUpload          = api.LogUpload
	LogStored          = api.LogStored
	PowerDomain        = api.PowerDomain
	PowerReport        = api.PowerReport
	TokenRequest       = api.TokenRequest
	TokenCreated       = api.TokenCreated
	Status             = api.Status
	TenantList         = api.TenantList
	TenantUsage        = api.TenantUsage
	TenantRequest      = api.TenantRequest
	TenantConfig       = api.TenantConfig
	DryRun             = api.DryRun
	Accounting         = api.Accounting
	AccountRow         = api.AccountRow
	ArraySubmitted     = api.ArraySubmitted
	FleetReport        = api.FleetReport
	FleetSite          = api.FleetSite
	EnergyPart         = api.EnergyPart
	DrawHistory        = api.DrawHistory
	StreamTick         = api.StreamTick
	SessionRequest     = api.SessionRequest
	GridEventRequest   = api.GridEventRequest
	GridEventList      = api.GridEventList
	LogPiece           = api.LogPiece
)

// Headers of a submit, and the name of a dry run's job (see package api).
const (
	IdempotencyHeader = api.IdempotencyHeader
	ReplayedHeader    = api.ReplayedHeader
	DryRunID          = api.DryRunID
)

// JobPath and NodePath are the API paths of a job and of a node.
var (
	JobPath  = api.JobPath
	NodePath = api.NodePath
)

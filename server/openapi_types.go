package server

import (
	"reflect"

	"stargate/api"
	"stargate/store"
)

// What the OpenAPI document says about the wire types that reflection
// cannot see: the values of enumerated types, the bounds the validators
// check, and the fields the handlers never leave null. Keys are a
// component and a JSON field, "JobSpec.kind".

// enums are the values of the enumerated string types.
var enums = map[reflect.Type][]string{
	reflect.TypeFor[store.JobState]():  enumValues(api.JobStates),
	reflect.TypeFor[store.NodeState](): {string(store.NodeReady), string(store.NodeDraining), string(store.NodeLost), string(store.NodeUnhealthy)},
	reflect.TypeFor[store.Role]():      enumValues(api.Roles),
}

func enumValues[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// fieldSchemas add what validateSpec and the other checks of a request
// enforce to a field's schema.
var fieldSchemas = map[string]map[string]any{
	"JobSpec.name":             {"maxLength": 128},
	"JobSpec.kind":             {"enum": kinds},
	"JobSpec.priority":         {"minimum": -1000, "maximum": 1000},
	"JobSpec.accelerators":     {"minimum": 1},
	"JobSpec.per_node":         {"minimum": 0},
	"JobSpec.topology":         {"enum": topologies},
	"JobSpec.duration_s":       {"minimum": 0, "maximum": maxSeconds},
	"JobSpec.checkpoint_s":     {"minimum": 0, "maximum": maxSeconds},
	"JobSpec.time_limit_s":     {"minimum": 0, "maximum": maxSeconds},
	"JobSpec.power":            {"minimum": 0, "maximum": 1},
	"JobSpec.launch":           {"enum": []string{store.LaunchNode, store.LaunchAccelerator}},
	"JobSpec.grace_s":          {"minimum": 0, "maximum": maxGraceS},
	"JobSpec.max_restarts":     {"minimum": 0, "maximum": maxRestarts},
	"JobSpec.command":          {"maxItems": maxArgs},
	"Dependency.kind":          {"enum": []string{store.AfterOK, store.AfterNotOK, store.AfterAny}},
	"TenantRequest.weight":     {"exclusiveMinimum": 0, "maximum": maxWeight},
	"TenantRequest.quota":      {"minimum": 0, "maximum": maxQuota},
	"TokenRequest.name":        {"maxLength": 128},
	"TokenRequest.node_prefix": {"maxLength": 256},
	"NodeRegistration.address": {"maxLength": maxAddress},
	"NodeRegistration.labels":  {"maxProperties": maxLabels},
	"LogUpload.chunks":         {"maxItems": maxLogPieces},
}

// neverNull are the slices and maps, written without omitempty, that the
// handlers always make (an empty list is [], not null). The test of the
// document checks the answers of a fresh server, where they are empty.
var neverNull = map[string]bool{
	"JobList.jobs": true, "EventList.events": true, "JobEventList.events": true, "JobLogs.chunks": true,
	"LogStored.refused": true, "PowerReport.sites": true, "TenantList.tenants": true, "TenantUsage.jobs": true,
	"Accounting.rows": true, "ArraySubmitted.jobs": true, "NodeList.nodes": true, "TokenList.tokens": true,
	"FleetReport.sites": true, "FleetReport.nodes": true, "FleetReport.jobs": true, "FleetSite.mix": true,
	"DrawHistory.times": true, "DrawHistory.sites": true, "StreamTick.jobs": true, "HeartbeatReply.jobs": true,
	"Allocation.accelerators": true,
}

// The bodies that handlers write as literals, typed here for the
// document; the test of the document checks the handlers' answers
// against them.

// jobEventList is the body of GET /v1/jobs/{id}/events.
type jobEventList struct {
	Events []store.Event `json:"events"`
}

// tokenList is the body of GET /v1/tokens.
type tokenList struct {
	Tokens []store.Token `json:"tokens"`
}

// tokenRevoked is the body of DELETE /v1/tokens/{id}.
type tokenRevoked struct {
	Revoked string `json:"revoked"` // the token's ID
}

// health is the body of GET /healthz.
type health struct {
	Status string `json:"status"` // "ok"
	Leader bool   `json:"leader"`
}

// respHeaders describe the response headers that answers set.
var respHeaders = map[string]string{
	"Location":         "The new job (an array: GET /v1/jobs?array=ID lists its elements).",
	ReplayedHeader:     "true when the submit matched an earlier one by Idempotency-Key: the answer is that one's.",
	"Set-Cookie":       sessionCookie + ": the console's session (HttpOnly, SameSite=Strict); signing out clears it.",
	"Retry-After":      "Seconds to wait before trying again.",
	"WWW-Authenticate": `Bearer realm="stargate"`,
}

// streamDesc describes GET /v1/stream's events.
const streamDesc = "A server-sent event stream that does not end: 'event: tick' every 2 s with data StreamTick (the job counts the caller may see), " +
	"and, for operators and admins, 'event: journal' with each new Event of the journal as GET /v1/events gives it. " +
	"x-stargate-events names each event's data schema."

package server

import (
	"strconv"

	"stargate/store"
)

// param is a query (or header) parameter of a route, as its handler reads
// it. The document types it from typ; the test of the document sends
// example to the handler (it must be taken) and bad (it must be a 400
// naming the parameter).
type param struct {
	name string
	in   string // "query" (default) or "header"
	desc string
	// typ is a value of the parameter's Go type: "" a string, 0 an
	// integer, false a boolean, a slice a comma-separated list (each
	// value may also be given alone, ?state=a&state=b).
	typ any
	// schema adds to the type's schema: enum, minimum, maximum, format.
	schema map[string]any
	// example is a value the handler takes; bad one it refuses ("": none).
	example, bad string
}

// enum is the schema addition of a parameter that takes one of values.
func enum(values ...string) map[string]any { return map[string]any{"enum": values} }

// between is the schema addition of an integer parameter from lo to hi.
func between(lo, hi int) map[string]any { return map[string]any{"minimum": lo, "maximum": hi} }

// The parameters of the routes, as their handlers read them.
var (
	qDryRun = param{name: "dry_run", typ: false, example: "true", bad: "maybe",
		desc: "true: answer what the next scheduling pass would do with the job (where it would start, or why it would wait), and store nothing."}
	hIdempotency = param{name: IdempotencyHeader, in: "header", typ: "", schema: map[string]any{"maxLength": 255}, example: "retry-7f3a",
		desc: "The client's key that makes the submit safe to retry: a second submit with the same key and request answers the first job (with Idempotent-Replayed: true); with another request, 409."}
	qStates = param{name: "state", typ: []store.JobState{}, example: "pending,running", bad: "sleeping",
		desc: "Only jobs in these states (comma-separated)."}
	qAcctStates = param{name: "state", typ: []store.JobState{}, example: "succeeded,failed", bad: "sleeping",
		desc: "Only jobs in these states (comma-separated; default: the final ones)."}
	qGridStates = param{name: "state", typ: []string{}, schema: map[string]any{"items": map[string]any{"type": "string",
		"enum": []string{"scheduled", "active", "ended", "cancelled"}}}, example: "scheduled,active", bad: "late",
		desc: "Only grid events in these states (comma-separated)."}
	qTenant = param{name: "tenant", typ: "", example: "acme",
		desc: "Only this tenant's jobs (a user: its own tenant only; another is a 403)."}
	qArray = param{name: "array", typ: "", example: "j0000000000000000000",
		desc: "Only the elements of this array (the ID of its first element)."}
	qJobLimit = param{name: "limit", typ: 0, schema: between(1, MaxPage), example: "10", bad: "0",
		desc: "At most this many jobs (default 100 for GET /v1/jobs, 1000 for accounting)."}
	qJobAfter = param{name: "after", typ: "", example: "j0000000000000000000",
		desc: "The cursor of the page before (its answer's next): the page starts after this job ID."}
	qOrder = param{name: "order", typ: "", schema: enum("oldest", "newest"), example: "newest", bad: "sideways",
		desc: "Submission order: oldest first (the default) or newest first."}
	qLogNode = param{name: "node", typ: "", example: "lab/hall-a/row-1/rack-1/n1",
		desc: "Only the output on this node."}
	qLogAfter = param{name: "after", typ: int64(0), schema: map[string]any{"minimum": 0}, example: "0", bad: "-1",
		desc: "The cursor of the page before (its answer's next)."}
	qLogLimit = param{name: "limit", typ: 0, schema: between(1, maxLogLimit), example: "10", bad: "0",
		desc: "At most this many chunks (default " + strconv.Itoa(defaultLogLimit) + ")."}
	qSince = param{name: "since", typ: "", example: "2026-05-01", bad: "yesterday",
		desc: "Only jobs that ended (or, not ended, were submitted) at or after this time: RFC 3339, or a date (2026-05-01)."}
	qUntil = param{name: "until", typ: "", example: "2026-05-01T12:00:00Z", bad: "tomorrow",
		desc: "Only jobs that ended (or, not ended, were submitted) before this time: RFC 3339, or a date."}
	qBy = param{name: "by", typ: "", schema: enum("job", "tenant", "site", "day"), example: "tenant", bad: "week",
		desc: "One row per job (the default, a page at a time), or the jobs summed by tenant, site or UTC day."}
	qEventAfter = param{name: "after", typ: int64(0), schema: map[string]any{"minimum": 0}, example: "0", bad: "-1",
		desc: "The cursor of the page before (its answer's next): events with a higher sequence number."}
	qEventLimit = param{name: "limit", typ: 0, schema: between(1, MaxPage), example: "10", bad: "0",
		desc: "At most this many events (default 100)."}
	qLast = param{name: "last", typ: 0, schema: between(1, MaxPage), example: "5", bad: "0",
		desc: "The newest N events instead of a page (oldest first); not with limit."}
	qEventJob = param{name: "job", typ: "", example: "j0000000000000000000",
		desc: "Only this job's events."}
	qDepth = param{name: "depth", typ: "", schema: enum("site", "hall", "row", "rack"), example: "rack", bad: "floor",
		desc: "How deep the tree goes (default row)."}
	qSite = param{name: "site", typ: "", example: "lab", bad: "atlantis",
		desc: "Only this site of the fleet."}
)

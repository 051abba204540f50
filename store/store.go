package store

import (
	"context"
	"errors"
	"time"
)

// Errors returned by every backend; test them with errors.Is.
var (
	// ErrNotFound: no record has this key.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a compare-and-set found a newer version than expected;
	// nothing of the change set was written.
	ErrConflict = errors.New("store: version conflict")
	// ErrIdempotencyMismatch: an idempotency key was reused for a
	// different request.
	ErrIdempotencyMismatch = errors.New("store: idempotency key reused with a different request")
	// ErrNotLeader: a change set was fenced by a lease this holder no
	// longer holds; nothing was written.
	ErrNotLeader = errors.New("store: lease not held")
	// ErrExists: a record with this key already exists.
	ErrExists = errors.New("store: already exists")
	// ErrBadQuery: a JobQuery combines ByPriority with Newest.
	ErrBadQuery = errors.New("store: a query by priority lists oldest first")
)

// Store is the durable state of one control plane. All methods are safe
// for concurrent use. A method that returns without error has committed
// its writes durably: after a crash of the process they are there.
type Store interface {
	// SubmitJobs inserts jobs in one transaction and reports, in input
	// order, what was stored. A job whose (Tenant, IdempotencyKey) already
	// exists is not inserted again: its result holds the stored job with
	// Created false, or Err ErrIdempotencyMismatch when the stored
	// request hash differs. Jobs must come with ID, State, SubmittedAt and
	// Version 1 set by the caller.
	SubmitJobs(ctx context.Context, jobs []Job) ([]SubmitResult, error)
	// Job returns one job, or ErrNotFound.
	Job(ctx context.Context, id string) (Job, error)
	// Jobs lists jobs matching q in ID order (IDs sort by submission
	// time), at most q.Limit of them.
	Jobs(ctx context.Context, q JobQuery) ([]Job, error)
	// ActiveJobs lists the ID, state and version of every pending or
	// running job, in ID order: cheap enough to run every scheduling pass,
	// so that a caller caching jobs re-reads (JobsByID) only those that
	// changed.
	ActiveJobs(ctx context.Context) ([]JobVersion, error)
	// JobCursor returns a cursor of the jobs as they are now, for
	// JobChanges.
	JobCursor(ctx context.Context) (int64, error)
	// JobChanges lists the ID, state and version of every job inserted or
	// changed since a cursor (from JobCursor or an earlier JobChanges),
	// in any state, and the cursor to give next time. It may list again
	// a job it listed before (compare versions): a reader that follows
	// the cursor sees every change once it is committed, and pays for
	// the changes, not for the jobs. Cursors of one store only grow.
	JobChanges(ctx context.Context, since int64) ([]JobVersion, int64, error)
	// JobsByID returns the jobs with these IDs, in ID order; unknown IDs
	// are skipped.
	JobsByID(ctx context.Context, ids []string) ([]Job, error)
	// JobCounts counts jobs and their accelerators by tenant and state.
	JobCounts(ctx context.Context) ([]JobCount, error)

	// Apply commits a change set atomically: every job and node change is
	// a compare-and-set on its Version (the stored version must equal
	// the change's Version, and becomes Version+1), and the events are
	// appended. On any mismatch nothing is written and the error wraps
	// ErrConflict (or ErrNotFound). With a Fence, the fence's lease must
	// be held by its holder at commit time, or the error is ErrNotLeader.
	Apply(ctx context.Context, c Changes) error

	// RegisterNode inserts a node (ready, not drained), or refreshes the
	// registration of an existing one (model, accelerators, address,
	// labels and heartbeat; a lost node comes back draining when it is
	// Drained, else ready; a draining one stays draining; Drained is
	// kept). It returns the stored node.
	RegisterNode(ctx context.Context, n Node) (Node, error)
	// RegisterNodes registers many nodes in one transaction, as
	// RegisterNode does each (for bulk enrolment and benchmarks).
	RegisterNodes(ctx context.Context, nodes []Node) error
	// Heartbeat records that a node is alive at a time, with its
	// measured draw in watts (negative: unknown). It does not change the
	// node's Version, except for a lost node, which comes back as
	// RegisterNode brings it back (draining when Drained, else ready)
	// with its Version advanced. ErrNotFound when the node is not
	// registered.
	Heartbeat(ctx context.Context, name string, at time.Time, drawW float64) error
	// Heartbeats records many heartbeats in one transaction, as Heartbeat
	// does each, and reports,
	// in input order, which nodes were registered (the others were
	// skipped).
	Heartbeats(ctx context.Context, beats []Beat) ([]bool, error)
	// Node returns one node, or ErrNotFound.
	Node(ctx context.Context, name string) (Node, error)
	// Nodes lists all nodes by name.
	Nodes(ctx context.Context) ([]Node, error)
	// NodeDigest summarizes the registered nodes so that a caller caching
	// them knows when to read them again: it changes whenever a node is
	// registered or changes (not on heartbeats).
	NodeDigest(ctx context.Context) (NodeDigest, error)
	// SilentNodes lists the nodes that are not lost and whose last
	// heartbeat is before a time.
	SilentNodes(ctx context.Context, before time.Time) ([]Node, error)

	// Events lists events in sequence order. On PostgreSQL, transactions
	// committing concurrently may make a sequence number visible after a
	// greater one: a reader tailing with After should re-read a margin.
	Events(ctx context.Context, q EventQuery) ([]Event, error)

	// CreateToken stores a token (its hash only). ErrExists when the ID
	// is taken.
	CreateToken(ctx context.Context, t Token) error
	// TokenByHash finds a token by the hash of its secret, or ErrNotFound.
	TokenByHash(ctx context.Context, hash string) (Token, error)
	// Tokens lists tokens by ID.
	Tokens(ctx context.Context) ([]Token, error)
	// DeleteToken revokes a token by ID, or returns ErrNotFound.
	DeleteToken(ctx context.Context, id string) error
	// SetNodeToken stores a node credential (t.Role must be RoleNode and
	// t.Node set, else an error) and, in the same transaction, deletes
	// every other token with role node for the same Node: a node holds
	// one credential, the latest minted. ErrExists when the ID is taken;
	// then nothing changes.
	SetNodeToken(ctx context.Context, t Token) error

	// AddEnergy adds to jobs' energy accounts in one transaction: each
	// record's figures are added to those of its (Job, Attempt); its Site
	// and Source are kept (Source becomes "mixed" when two differ).
	AddEnergy(ctx context.Context, records []JobEnergy) error
	// Energy returns the accounts of these jobs, every attempt, ordered by
	// job and attempt.
	Energy(ctx context.Context, jobs []string) ([]JobEnergy, error)

	// CreateGridEvent stores a new grid event (Version 1); ErrExists when
	// its ID is taken.
	CreateGridEvent(ctx context.Context, e GridEvent) error
	// GridEvents lists grid events in these states (none: all), by start.
	GridEvents(ctx context.Context, states ...string) ([]GridEvent, error)
	// UpdateGridEvent stores a change to a grid event: a compare-and-set
	// on its Version, which becomes Version+1 (ErrConflict, or
	// ErrNotFound).
	UpdateGridEvent(ctx context.Context, e GridEvent) error

	// Tenants lists the tenants (the queues of the fair share) by name.
	Tenants(ctx context.Context) ([]Tenant, error)
	// PutTenant stores a tenant: with create, a new one (ErrExists when
	// the name is taken); without, a change to an existing one
	// (ErrNotFound when there is none).
	PutTenant(ctx context.Context, t Tenant, create bool) error
	// DeleteTenant removes a tenant by name, or returns ErrNotFound. Its
	// jobs stay; they take the default weight and no quota.
	DeleteTenant(ctx context.Context, name string) error

	// AppendLogs stores chunks in one transaction, assigning Seq in input
	// order. Writers append each stream in order: a chunk that ends at or
	// before its stream's stored end is skipped, so a retried append is
	// harmless, and one that overlaps the end stores only its part beyond
	// it (see NewParts), so a retry with more data stores the new bytes
	// once; a chunk without Data is skipped too. Then every stream written to keeps only the chunks
	// that end within its last keep bytes: with end the greatest
	// Offset+len(Data) of the stream, the chunks with Offset+len(Data) <=
	// end-keep are deleted (keep <= 0: all are kept). Other streams are
	// not touched.
	AppendLogs(ctx context.Context, chunks []LogChunk, keep int64) error
	// Logs lists a job's chunks in Seq order, as q selects. On PostgreSQL,
	// as for Events, appends committing concurrently may make a Seq
	// visible after a greater one: a reader following with After should
	// re-read a margin.
	Logs(ctx context.Context, q LogQuery) ([]LogChunk, error)

	// AcquireLease takes or renews the named lease for holder until
	// now+ttl when it is free, expired or already the holder's, and
	// returns the lease as stored after the attempt: the caller holds it
	// when Holder equals its holder. Epoch grows each time the holder
	// changes.
	AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (Lease, error)
	// ReleaseLease gives the lease up if holder holds it.
	ReleaseLease(ctx context.Context, name, holder string) error

	// Close releases the store's resources.
	Close() error
}

// Changes is one atomic change set for Store.Apply.
type Changes struct {
	Jobs   []Job
	Nodes  []Node
	Events []Event
	// Fence, when set, makes the commit conditional on the lease.
	Fence *Fence
}

// Fence names a lease that must be held, unexpired at Now, for a change set
// to commit.
type Fence struct {
	Lease  string
	Holder string
	Now    time.Time
}

// SubmitResult is the outcome of one job of SubmitJobs.
type SubmitResult struct {
	Job     Job
	Created bool  // false: an earlier job with the same idempotency key
	Err     error // ErrIdempotencyMismatch, for this job only
}

// JobQuery selects jobs for Store.Jobs.
type JobQuery struct {
	States []JobState // any of these; empty: all
	Tenant string     // empty: all
	Node   string     // placed on this node; empty: any
	Array  string     // the elements of this array (its ArrayJob); empty: any
	After  string     // IDs strictly greater (pagination cursor); with Newest, strictly smaller
	Limit  int        // <= 0: no limit
	// Newest lists the most recently submitted first (IDs descending).
	Newest bool
	// ByPriority lists by the spec's priority, highest first, then by ID:
	// the order of the priority and backfill queues. After, when set, is
	// then a position in that order with AfterPriority, the priority of
	// the job After: the page starts after (AfterPriority, After). It
	// cannot be combined with Newest.
	ByPriority    bool
	AfterPriority int
}

// PageCap is the room a backend makes for the answer to a query of at
// most limit jobs (<= 0: no limit), so that a page of thousands is not
// copied at every doubling of its slice: a Job is over 500 bytes.
func PageCap(limit int) int {
	return min(max(limit, 0), 10_000)
}

// Beat is one heartbeat for Store.Heartbeats.
type Beat struct {
	Node  string
	At    time.Time
	DrawW float64 // negative: unknown
}

// JobVersion is one row of Store.ActiveJobs.
type JobVersion struct {
	ID      string
	State   JobState
	Version int64
	// Priority is the spec's priority, where the job sorts in a queue
	// listed ByPriority (JobChanges only; ActiveJobs leaves it 0).
	Priority int
}

// NodeDigest is the count of nodes and the sum of their versions; since
// versions only grow, any registration or change moves it.
type NodeDigest struct {
	Count      int
	VersionSum int64
}

// JobCount is one row of Store.JobCounts.
type JobCount struct {
	Tenant       string
	State        JobState
	Jobs         int
	Accelerators int
}

// EventQuery selects events for Store.Events.
type EventQuery struct {
	Job   string // empty: all
	After int64  // sequence numbers strictly greater
	Limit int    // <= 0: no limit
	// Last asks for the last Limit events instead of the first (still
	// oldest first): the tail of the journal.
	Last bool
}

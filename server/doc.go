// Package server is the live control plane: the HTTP API (/v1), token
// authentication, durable job submission with group commit, node
// registration and heartbeats, the power view, Prometheus metrics, leader
// election among replicas, and the reconcile loop that drives a Scheduler
// (the engine, through server/enginesched) on the real clock.
//
// Everything durable goes through a store.Store; a decision is committed
// there before anyone acts on it. Time comes from a Clock, so tests control
// it.
//
// # Requests
//
// The route table (routes.go) is the API and its authorization matrix;
// GET /v1/openapi.json is generated from it. Tokens are bearer secrets
// ("sgt_..."), stored as SHA-256 hashes, each with a role: admin, operator,
// user (bound to a tenant: it sees and cancels only that tenant's jobs,
// and another tenant's job is a 404) or agent (a join token: it registers
// nodes and sends heartbeats). Bodies are JSON, job specs YAML too; they
// are decoded strictly and every problem is listed in a 400.
//
// # Durability
//
// Submits and heartbeats queue to committers that write each batch in one
// transaction (group commit); a submit is answered 201 only once its
// batch committed. An Idempotency-Key makes a retried submit return the
// first job instead of a second one, across crashes.
//
// # The reconcile loop
//
// One replica, the holder of the store's "scheduler" lease, runs passes:
// it marks nodes silent for HeartbeatTimeout lost and requeues their jobs
// (only once it has led for HeartbeatTimeout itself, so that its own
// downtime is not taken for the nodes' silence; a lost node's next
// heartbeat brings it back), asks the Scheduler for placements,
// preemptions, waits and power caps, and commits them fenced by the lease,
// so that a deposed leader cannot write: in batches of commitBatch jobs,
// each with its own deadline, placements and preemptions first; a failed
// batch leaves the batches before it committed. Agents learn their jobs
// and caps from the store, in heartbeat replies. A pass re-reads only what
// changed since the last one, from the store's change feed (see
// liveCache); a Scheduler that is a QueueKeeper keeps the pending queue
// itself and is told what joined and left it.
package server

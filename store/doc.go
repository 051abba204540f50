// Package store is the control plane's durable state: jobs, nodes, events,
// API tokens and node credentials, jobs' logs and the scheduler's leader
// lease.
//
// It sits between the server and the disk. The server maps the engine's
// decisions onto the records defined here (which know nothing of the
// engine's internal types) and commits them through Store before acting on
// them. Store is one interface with two backends in child packages:
// store/sqlite (embedded, the default) and store/postgres (shared by several
// server replicas). store/storetest is the conformance suite both pass.
package store

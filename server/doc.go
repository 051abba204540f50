// Package server is the live control plane: the HTTP API (/v1), token
// authentication, durable job submission with group commit, node
// registration and heartbeats, the power view, Prometheus metrics, leader
// election among replicas, and the reconcile loop that drives a Scheduler
// (the engine) on the real clock.
//
// Everything durable goes through a store.Store; a decision is committed
// there before anyone acts on it. Time comes from a Clock, so tests control
// it.
package server

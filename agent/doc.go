// Package agent is the node agent: the half of the control plane that
// runs on every node. It registers its node with a join token, heartbeats
// the node's draw and per-accelerator telemetry (package device), and
// runs the node's share of every job the server places there.
//
// Each job attempt runs under a supervisor of its own (shim.go), started
// in its own session so that it outlives the agent, in the pattern of a
// containerd shim: it starts the job's processes with the distributed
// training environment (env.go), keeps their output bounded
// (logfile.go), stops them with SIGTERM, a grace period and SIGKILL, and
// records how they ended in the attempt's directory, where a restarted
// agent finds it (runner.go). The job's processes live in a cgroup v2 of
// their own where the node has one (cgroup.go), and under the
// supervisor as child subreaper in any case, so none survives the job.
//
// The server is the source of truth: what the heartbeat reply lists runs,
// what it no longer lists is stopped. The agent ships the output to the
// server (ship.go) and applies the power caps the server's controller
// decided. Simulator runs many simulated nodes in one process, for demos
// and load tests (simulate.go).
package agent

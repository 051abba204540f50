// Package grafana holds Stargate's Grafana dashboard, stargate.json: draw
// against the limits of the power tree (site, hall, row), accelerators and
// jobs, the reconcile loop, nodes and heartbeats, the API, and every GPU as
// the node agents report it. It sits beside the pipeline, not in it: it
// reads only what the server's /metrics and the agents' /metrics (--listen,
// dcgm-exporter's DCGM_FI_DEV_* names) export.
//
// Import the file in Grafana 10 or later and pick a Prometheus data source
// for the datasource variable. The package's test starts a real server and
// a real agent on 127.0.0.1, scrapes both, and fails when the dashboard
// queries a metric, a label or a label value that neither exports, so the
// board cannot drift from the code.
package grafana

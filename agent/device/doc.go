// Package device is a node's accelerators as the node agent sees them.
//
// The agent (one per node, see DESIGN.md) uses a Devices for three things:
// it reads every device for the telemetry it sends with each heartbeat
// (draw, energy, utilization, memory, temperature, and Fatal when a device
// can no longer be used); it applies the power caps the server's power
// controller decided (SetCap, and SetCap(i, 0) or Close to lift them); and
// it serves the same readings on /metrics under dcgm-exporter's metric
// names (NewCollector), so that existing Grafana boards work unchanged.
//
// Three backends implement Devices:
//
//   - nvml: the node's NVIDIA GPUs through NVML (github.com/NVIDIA/go-nvml).
//     It is compiled only with `go build -tags nvml`, which needs cgo; at run
//     time it loads libnvidia-ml.so.1 from the driver. Without the tag,
//     OpenNVML returns an error wrapping ErrNoNVMLSupport.
//   - fake: simulated devices whose draw follows the load the agent reports
//     (SetLoad) with the same law as the fleet model and the simulator, and
//     whose clock is injected, so that tests, demos and machines without
//     GPUs are deterministic.
//   - none: a node without accelerators.
//
// Open picks one for the agent's --devices flag. The package decides
// nothing: the power controller chooses caps, the agent applies them here.
package device

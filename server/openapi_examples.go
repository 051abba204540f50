package server

import "stargate/store"

// requestExamples are examples of request bodies, by operation ID. They
// are Go values of the wire types, so that they cannot name a field that
// is not one; the test of the document sends each to a server.
var requestExamples = map[string]map[string]any{
	"submitJob": {
		"training": example("A 16-accelerator training job on H100s within one rack, checkpointing every 30 minutes",
			store.JobSpec{Name: "llama-70b-pretrain", Kind: store.KindTraining, Accelerators: 16, PerNode: 8, Model: "h100",
				Topology: "rack", Priority: 10, DurationS: 86400, CheckpointS: 1800, Preemptible: true,
				Command: []string{"torchrun", "--nproc-per-node=8", "train.py", "--config", "70b.yaml"},
				Env:     map[string]string{"NCCL_DEBUG": "WARN"}}),
		"array": example("A sweep of 100 one-accelerator jobs, at most 10 at once (STARGATE_ARRAY_INDEX tells each its index)",
			store.JobSpec{Name: "sweep", Kind: store.KindBatch, Accelerators: 1, Array: "0-99%10",
				Command: []string{"python", "eval.py"}}),
		"held": example("An inference job submitted held: it waits until released",
			store.JobSpec{Name: "serve-canary", Kind: store.KindInference, Accelerators: 8, Hold: true, Launch: store.LaunchAccelerator}),
	},
	"registerNode": {
		"agent": example("An agent registers its node with a join token",
			NodeRegistration{Name: "lab/hall-a/row-1/rack-1/n1", Model: "dgx-h100", Accelerators: 8, Address: "10.0.0.11",
				Labels: map[string]string{"pool": "training"}}),
	},
	"sendHeartbeat": {
		"running": example("A node reports its draw and that a job's processes ended",
			Heartbeat{DrawW: exPtr(5200.0), Finished: []JobOutcome{{Job: "j0000000000000000000", State: store.JobSucceeded}}}),
	},
	"createToken": {
		"user":  example("A user token bound to tenant acme", TokenRequest{Role: store.RoleUser, Tenant: "acme", Name: "alice"}),
		"agent": example("A join token for the agents of one site", TokenRequest{Role: store.RoleAgent, Name: "lab agents", NodePrefix: "lab/"}),
	},
	"createTenant": {
		"acme": example("A tenant with twice the default share, holding at most 64 accelerators at once",
			TenantRequest{Name: "acme", Weight: exPtr(2.0), Quota: exPtr(64)}),
	},
}

func example(summary string, value any) map[string]any {
	return map[string]any{"summary": summary, "value": value}
}

func exPtr[T any](v T) *T { return &v }

package agent

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"

	"stargate/store"
)

// Proc is one process a job runs on a node: its argv and environment
// ("KEY=value", sorted).
type Proc struct {
	Argv []string `json:"argv"`
	Env  []string `json:"env"`
}

// Placement is a node's share of a job, as the processes see it.
type Placement struct {
	Job     store.Job
	Node    string
	Rank    int    // the node's index in the job's placement
	Master  string // rank 0's registered address
	Vendor  string // the accelerators' vendor: nvidia, amd, ...
	Devices []int  // the allocated accelerator indices on this node
}

// Locate finds a node's share of a running job; ok is false when the job
// holds nothing there.
func Locate(j store.Job, node string, addresses map[string]string, vendor string) (Placement, bool) {
	for i, a := range j.Placement {
		if a.Node == node {
			master := addresses[j.Placement[0].Node]
			if master == "" {
				master = "127.0.0.1"
			}
			return Placement{Job: j, Node: node, Rank: i, Master: master, Vendor: vendor, Devices: a.Accelerators}, true
		}
	}
	return Placement{}, false
}

// MasterPort is the rendezvous port of a job's attempt: the same on every
// node of its gang, without a word between them, in 20000–39999 (below
// the usual ephemeral range).
func MasterPort(job string, attempt int) int {
	h := fnv.New32a()
	fmt.Fprintf(h, "%s/%d", job, attempt)
	return 20000 + int(h.Sum32()%20000)
}

// Procs returns the processes a node runs for its share of a job, with
// the environment of the distributed-training conventions: Stargate's
// own variables, torchrun's (PET_*), MASTER_ADDR and MASTER_PORT, and the
// visible devices. base is the environment every process starts from
// (PATH, HOME, ...); the job's env is laid over it, and Stargate's
// variables over both, so that a job cannot widen its own allocation.
func Procs(p Placement, base map[string]string) ([]Proc, error) {
	j := p.Job
	if len(j.Spec.Command) == 0 {
		return nil, fmt.Errorf("agent: job %s has no command", j.ID)
	}
	port := MasterPort(j.ID, j.Attempts)
	perNode := len(p.Devices)
	world, before := 0, 0
	for i, a := range j.Placement {
		if i < p.Rank {
			before += len(a.Accelerators)
		}
		world += len(a.Accelerators)
	}
	devices := make([]string, len(p.Devices))
	for i, d := range p.Devices {
		devices[i] = strconv.Itoa(d)
	}
	visible := strings.Join(devices, ",")
	env := map[string]string{}
	for k, v := range base {
		env[k] = v
	}
	for k, v := range j.Spec.Env {
		env[k] = v
	}
	for k, v := range j.Spec.SecretEnv {
		env[k] = v
	}
	set := func(kv ...string) {
		for i := 0; i+1 < len(kv); i += 2 {
			env[kv[i]] = kv[i+1]
		}
	}
	set("STARGATE_JOB_ID", j.ID, "STARGATE_JOB_NAME", j.Spec.Name, "STARGATE_TENANT", j.Tenant,
		"STARGATE_NODE", p.Node, "STARGATE_NNODES", strconv.Itoa(len(j.Placement)),
		"STARGATE_NODE_RANK", strconv.Itoa(p.Rank), "STARGATE_ACCELERATORS_PER_NODE", strconv.Itoa(perNode),
		"STARGATE_ATTEMPT", strconv.Itoa(j.Attempts),
		"MASTER_ADDR", p.Master, "MASTER_PORT", strconv.Itoa(port),
		"PET_NNODES", strconv.Itoa(len(j.Placement)), "PET_NODE_RANK", strconv.Itoa(p.Rank),
		"PET_NPROC_PER_NODE", strconv.Itoa(max(perNode, 1)), "PET_MASTER_ADDR", p.Master, "PET_MASTER_PORT", strconv.Itoa(port))
	for _, k := range visibleVars(p.Vendor) {
		env[k] = visible
	}
	if j.Spec.Launch != store.LaunchAccelerator {
		return []Proc{{Argv: j.Spec.Command, Env: envList(env)}}, nil
	}
	procs := make([]Proc, 0, perNode)
	for local := range p.Devices {
		set("RANK", strconv.Itoa(before+local), "LOCAL_RANK", strconv.Itoa(local),
			"WORLD_SIZE", strconv.Itoa(world), "LOCAL_WORLD_SIZE", strconv.Itoa(perNode),
			"GROUP_RANK", strconv.Itoa(p.Rank))
		procs = append(procs, Proc{Argv: j.Spec.Command, Env: envList(env)})
	}
	return procs, nil
}

// visibleVars are the variables that tell a vendor's runtime which
// devices a process may use. On AMD only ROCR_VISIBLE_DEVICES is set:
// HIP_VISIBLE_DEVICES (and CUDA_VISIBLE_DEVICES under ROCm) index within
// the devices ROCr shows, so setting both to node indices would be wrong.
func visibleVars(vendor string) []string {
	switch strings.ToLower(vendor) {
	case "amd":
		return []string{"ROCR_VISIBLE_DEVICES"}
	default:
		return []string{"CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES"}
	}
}

func envList(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

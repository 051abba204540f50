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
	for k, v := range visibleEnv(p.Vendor, p.Devices, env) {
		env[k] = v
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

// visibleEnv returns the variables that tell a vendor's runtime which
// devices (by their index on the node) a process may use, chosen by the
// accelerator's vendor as the catalog names it; an unknown vendor gets
// NVIDIA's. env is the process's environment so far (the job's own), read
// only where a runtime's numbering depends on it.
//
//   - nvidia: CUDA_VISIBLE_DEVICES, and NVIDIA_VISIBLE_DEVICES for the
//     container runtime.
//   - amd: ROCR_VISIBLE_DEVICES only. HIP_VISIBLE_DEVICES (and
//     CUDA_VISIBLE_DEVICES under ROCm) index within the devices ROCr
//     shows, so setting them to node indices too would be wrong.
//   - huawei (Ascend): ASCEND_RT_VISIBLE_DEVICES.
//   - kunlunxin (Kunlun, also spelled baidu): XPU_VISIBLE_DEVICES.
//   - aws (Trainium): NEURON_RT_VISIBLE_CORES, which counts NeuronCores,
//     not chips: a Trainium2 chip has 8 physical cores, shown as 8 /
//     NEURON_LOGICAL_NC_CONFIG logical ones (the runtime's default
//     configuration is 2, so 4 a chip), and device d holds the cores from
//     d × that on.
//   - google (TPU): TPU_VISIBLE_CHIPS.
func visibleEnv(vendor string, devices []int, env map[string]string) map[string]string {
	list := indexList(devices)
	switch strings.ToLower(vendor) {
	case "amd":
		return map[string]string{"ROCR_VISIBLE_DEVICES": list}
	case "huawei":
		return map[string]string{"ASCEND_RT_VISIBLE_DEVICES": list}
	case "kunlunxin", "baidu":
		return map[string]string{"XPU_VISIBLE_DEVICES": list}
	case "aws":
		return map[string]string{"NEURON_RT_VISIBLE_CORES": neuronCores(devices, neuronCoresPerChip(env))}
	case "google":
		return map[string]string{"TPU_VISIBLE_CHIPS": list}
	default:
		return map[string]string{"CUDA_VISIBLE_DEVICES": list, "NVIDIA_VISIBLE_DEVICES": list}
	}
}

// trainium2Cores is the physical NeuronCores of one Trainium2 chip.
const trainium2Cores = 8

// neuronCoresPerChip is the logical NeuronCores a Trainium2 chip shows:
// its physical cores over the logical core configuration the job asks for
// (NEURON_LOGICAL_NC_CONFIG, 1 or 2; the runtime's default is 2).
func neuronCoresPerChip(env map[string]string) int {
	if env["NEURON_LOGICAL_NC_CONFIG"] == "1" {
		return trainium2Cores
	}
	return trainium2Cores / 2
}

// neuronCores lists the logical cores of the devices, as ranges ("4-7",
// "0-3,8-11"): the runtime reads a range, and a list of them.
func neuronCores(devices []int, per int) string {
	ds := append([]int(nil), devices...)
	sort.Ints(ds)
	var parts []string
	for i := 0; i < len(ds); {
		j := i
		for j+1 < len(ds) && ds[j+1] == ds[j]+1 {
			j++
		}
		parts = append(parts, strconv.Itoa(ds[i]*per)+"-"+strconv.Itoa((ds[j]+1)*per-1))
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// indexList writes device indices the way the runtimes read them: "1,3,5".
func indexList(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

func envList(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

package agent

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"stargate/store"
)

// tb is what these helpers need of a test: a *testing.T or a *rapid.T.
type tb interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// envMap turns a process's "KEY=value" list into a map, failing on a key
// given twice (the list must be one value per variable).
func envMap(t tb, env []string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("env entry %q has no '='", kv)
		}
		if _, dup := m[k]; dup {
			t.Fatalf("env variable %s given twice", k)
		}
		m[k] = v
	}
	return m
}

// joinInts writes indices the way the runtimes read them: "1,3,5".
func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

// gang is a job placed on three nodes with uneven accelerators.
func gang(launch string) store.Job {
	return store.Job{
		ID: "j-gang", Tenant: "acme", Attempts: 2,
		Spec: store.JobSpec{Name: "train", Launch: launch, Command: []string{"python", "train.py"},
			Env: map[string]string{"EPOCHS": "3"}},
		Placement: []store.Allocation{
			{Node: "site/n-a", Accelerators: []int{0, 1, 2}},
			{Node: "site/n-b", Accelerators: []int{4, 6}},
			{Node: "site/n-c", Accelerators: []int{1, 3, 5, 7}},
		},
	}
}

var gangAddrs = map[string]string{"site/n-a": "10.0.0.1", "site/n-b": "10.0.0.2", "site/n-c": "10.0.0.3"}

// procsOf locates node in j and returns its processes' environments.
func procsOf(t tb, j store.Job, node, vendor string, addrs map[string]string, base map[string]string) []map[string]string {
	t.Helper()
	p, ok := Locate(j, node, addrs, vendor)
	if !ok {
		t.Fatalf("Locate(%s) found nothing", node)
	}
	procs, err := Procs(p, base)
	if err != nil {
		t.Fatalf("Procs(%s): %v", node, err)
	}
	out := make([]map[string]string, len(procs))
	for i, pr := range procs {
		if !slices.Equal(pr.Argv, j.Spec.Command) {
			t.Errorf("%s proc %d argv %q, want %q", node, i, pr.Argv, j.Spec.Command)
		}
		if !slices.IsSorted(pr.Env) {
			t.Errorf("%s proc %d env not sorted", node, i)
		}
		out[i] = envMap(t, pr.Env)
	}
	return out
}

// checkGang checks every process of every node of j against ranks
// recounted from the placement.
func checkGang(t tb, j store.Job, vendor string, addrs map[string]string) {
	t.Helper()
	world := 0
	for _, a := range j.Placement {
		world += len(a.Accelerators)
	}
	masterAddr := addrs[j.Placement[0].Node]
	if masterAddr == "" {
		masterAddr = "127.0.0.1"
	}
	var masterPort string
	seen := map[int]bool{} // global ranks handed out
	earlier := 0           // accelerators of the nodes before this one
	for nodeRank, a := range j.Placement {
		envs := procsOf(t, j, a.Node, vendor, addrs, nil)
		want := 1
		if j.Spec.Launch == store.LaunchAccelerator {
			want = len(a.Accelerators)
		}
		if len(envs) != want {
			t.Fatalf("node %d (%s): %d processes, want %d", nodeRank, a.Node, len(envs), want)
		}
		for local, e := range envs {
			where := fmt.Sprintf("node %d proc %d", nodeRank, local)
			check := func(k, want string) {
				t.Helper()
				if got, ok := e[k]; !ok || got != want {
					t.Errorf("%s: %s=%q (set %v), want %q", where, k, got, ok, want)
				}
			}
			check("STARGATE_JOB_ID", j.ID)
			check("STARGATE_NODE", a.Node)
			check("STARGATE_NODE_RANK", strconv.Itoa(nodeRank))
			check("STARGATE_NNODES", strconv.Itoa(len(j.Placement)))
			check("STARGATE_ATTEMPT", strconv.Itoa(j.Attempts))
			check("STARGATE_ACCELERATORS_PER_NODE", strconv.Itoa(len(a.Accelerators)))
			check("PET_NNODES", strconv.Itoa(len(j.Placement)))
			check("PET_NODE_RANK", strconv.Itoa(nodeRank))
			check("MASTER_ADDR", masterAddr)
			check("PET_MASTER_ADDR", masterAddr)
			if masterPort == "" {
				masterPort = e["MASTER_PORT"]
				port, err := strconv.Atoi(masterPort)
				if err != nil || port < 20000 || port > 39999 {
					t.Errorf("%s: MASTER_PORT=%q, want a port in 20000..39999", where, masterPort)
				}
			}
			check("MASTER_PORT", masterPort)
			check("PET_MASTER_PORT", masterPort)
			checkDevices(t, where, vendor, a.Accelerators, e, j.Spec.Env)
			if j.Spec.Launch != store.LaunchAccelerator {
				check("PET_NPROC_PER_NODE", strconv.Itoa(max(len(a.Accelerators), 1)))
				for _, k := range []string{"RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK"} {
					if v, ok := e[k]; ok {
						t.Errorf("%s: %s=%q set with launch %q (torchrun sets it)", where, k, v, j.Spec.Launch)
					}
				}
				continue
			}
			rank := earlier + local
			check("RANK", strconv.Itoa(rank))
			check("LOCAL_RANK", strconv.Itoa(local))
			check("WORLD_SIZE", strconv.Itoa(world))
			check("LOCAL_WORLD_SIZE", strconv.Itoa(len(a.Accelerators)))
			check("GROUP_RANK", strconv.Itoa(nodeRank))
			if seen[rank] {
				t.Errorf("%s: RANK %d handed out twice", where, rank)
			}
			seen[rank] = true
		}
		earlier += len(a.Accelerators)
	}
	if j.Spec.Launch == store.LaunchAccelerator && len(seen) != world {
		t.Errorf("%d ranks handed out, want %d", len(seen), world)
	}
}

func TestProcsGangPerAccelerator(t *testing.T) {
	checkGang(t, gang(store.LaunchAccelerator), "nvidia", gangAddrs)
}

func TestProcsGangPerNode(t *testing.T) {
	checkGang(t, gang(store.LaunchNode), "nvidia", gangAddrs)
	checkGang(t, gang(""), "nvidia", gangAddrs) // the default
}

func TestProcsAMDShowsOnlyROCr(t *testing.T) {
	checkGang(t, gang(store.LaunchAccelerator), "amd", gangAddrs)
	checkGang(t, gang(store.LaunchNode), "AMD", gangAddrs)
}

// deviceVars are the variables by which the runtimes of the catalog's
// vendors are told which devices a process may use.
var deviceVars = []string{"CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES",
	"ASCEND_RT_VISIBLE_DEVICES", "XPU_VISIBLE_DEVICES", "NEURON_RT_VISIBLE_CORES", "TPU_VISIBLE_CHIPS"}

// wantDevices is what a process on devices ds must see, by vendor, as
// each vendor's runtime documents it. For Trainium the value is the set
// of NeuronCores, recounted core by core (4 logical cores a Trainium2
// chip, 8 when the job asks for NEURON_LOGICAL_NC_CONFIG=1).
func wantDevices(vendor string, ds []int, jobEnv map[string]string) map[string]string {
	list := joinInts(ds)
	switch strings.ToLower(vendor) {
	case "amd":
		return map[string]string{"ROCR_VISIBLE_DEVICES": list}
	case "huawei":
		return map[string]string{"ASCEND_RT_VISIBLE_DEVICES": list}
	case "kunlunxin", "baidu":
		return map[string]string{"XPU_VISIBLE_DEVICES": list}
	case "google":
		return map[string]string{"TPU_VISIBLE_CHIPS": list}
	case "aws":
		per := 4
		if jobEnv["NEURON_LOGICAL_NC_CONFIG"] == "1" {
			per = 8
		}
		var cores []int
		for _, d := range ds {
			for c := range per {
				cores = append(cores, d*per+c)
			}
		}
		slices.Sort(cores)
		return map[string]string{"NEURON_RT_VISIBLE_CORES": joinInts(cores)}
	}
	return map[string]string{"CUDA_VISIBLE_DEVICES": list, "NVIDIA_VISIBLE_DEVICES": list}
}

// expandRanges reads "0-3,8-11" (or "1,3") back into "0,1,2,3,8,9,10,11".
func expandRanges(t tb, s string) string {
	t.Helper()
	var out []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(lo)
		b, err2 := a, error(nil)
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || b < a {
			t.Fatalf("%q is not a list of core ranges", s)
		}
		for c := a; c <= b; c++ {
			out = append(out, c)
		}
	}
	return joinInts(out)
}

// checkDevices checks one process's device variables: exactly its
// vendor's, set to its devices; no other vendor's unless the job set it.
func checkDevices(t tb, where, vendor string, ds []int, e, jobEnv map[string]string) {
	t.Helper()
	want := wantDevices(vendor, ds, jobEnv)
	for _, k := range deviceVars {
		got, ok := e[k]
		w, wanted := want[k]
		switch {
		case wanted && k == "NEURON_RT_VISIBLE_CORES":
			if !ok || expandRanges(t, got) != w {
				t.Errorf("%s: %s=%q, want the cores %s", where, k, got, w)
			}
		case wanted:
			if !ok || got != w {
				t.Errorf("%s: %s=%q (set %v), want %q", where, k, got, ok, w)
			}
		case ok && jobEnv[k] != got:
			t.Errorf("%s: %s=%q set on vendor %q", where, k, got, vendor)
		}
	}
}

// TestProcsVendorDevices: every vendor of the catalog, in any case, gets
// its runtime's variables and no other's, on every node of a gang, in
// both launch modes.
func TestProcsVendorDevices(t *testing.T) {
	for _, vendor := range []string{"nvidia", "NVIDIA", "amd", "huawei", "Huawei", "kunlunxin", "baidu", "aws", "AWS", "google", "", "fake"} {
		for _, launch := range []string{store.LaunchAccelerator, store.LaunchNode} {
			checkGang(t, gang(launch), vendor, gangAddrs)
		}
	}
	// Trainium: the job's logical core configuration sets the numbering.
	j := gang(store.LaunchNode)
	j.Spec.Env = map[string]string{"NEURON_LOGICAL_NC_CONFIG": "1"}
	checkGang(t, j, "aws", gangAddrs)
	e := procsOf(t, j, "site/n-b", "aws", gangAddrs, nil)[0]
	if got := e["NEURON_RT_VISIBLE_CORES"]; got != "32-39,48-55" {
		t.Errorf("devices 4,6 at 8 cores a chip: NEURON_RT_VISIBLE_CORES=%q, want 32-39,48-55", got)
	}
	j.Spec.Env = nil
	e = procsOf(t, j, "site/n-c", "aws", gangAddrs, nil)[0]
	if got := e["NEURON_RT_VISIBLE_CORES"]; got != "4-7,12-15,20-23,28-31" {
		t.Errorf("devices 1,3,5,7 at 4 cores a chip: NEURON_RT_VISIBLE_CORES=%q", got)
	}
	e = procsOf(t, j, "site/n-a", "aws", gangAddrs, nil)[0]
	if got := e["NEURON_RT_VISIBLE_CORES"]; got != "0-11" {
		t.Errorf("devices 0,1,2 at 4 cores a chip: NEURON_RT_VISIBLE_CORES=%q, want one range 0-11", got)
	}
}

// A job cannot widen its devices on any vendor: its own value of the
// vendor's variable is replaced.
func TestProcsVendorJobCannotWiden(t *testing.T) {
	for vendor, k := range map[string]string{"huawei": "ASCEND_RT_VISIBLE_DEVICES", "kunlunxin": "XPU_VISIBLE_DEVICES",
		"aws": "NEURON_RT_VISIBLE_CORES", "google": "TPU_VISIBLE_CHIPS", "amd": "ROCR_VISIBLE_DEVICES", "nvidia": "CUDA_VISIBLE_DEVICES"} {
		j := gang(store.LaunchNode)
		j.Spec.Env = map[string]string{k: "0-63"}
		e := procsOf(t, j, "site/n-b", vendor, gangAddrs, nil)[0]
		if e[k] == "0-63" {
			t.Errorf("%s: the job's %s=0-63 came through", vendor, k)
		}
		checkDevices(t, vendor, vendor, []int{4, 6}, e, nil)
	}
}

func TestLocate(t *testing.T) {
	j := gang(store.LaunchNode)
	for i, a := range j.Placement {
		p, ok := Locate(j, a.Node, gangAddrs, "nvidia")
		if !ok || p.Rank != i || p.Node != a.Node || !slices.Equal(p.Devices, a.Accelerators) || p.Master != "10.0.0.1" {
			t.Errorf("Locate(%s) = %+v, %v; want rank %d, devices %v, master 10.0.0.1", a.Node, p, ok, i, a.Accelerators)
		}
	}
	if _, ok := Locate(j, "site/elsewhere", gangAddrs, "nvidia"); ok {
		t.Error("Locate found a share on a node outside the placement")
	}
	// Rank 0's address unknown: every node falls back alike.
	p, _ := Locate(j, "site/n-c", map[string]string{"site/n-c": "10.0.0.3"}, "nvidia")
	if p.Master != "127.0.0.1" {
		t.Errorf("master with rank 0 unregistered = %q, want 127.0.0.1", p.Master)
	}
}

func TestMasterPortPerAttempt(t *testing.T) {
	for _, job := range []string{"j-gang", "j-1", "0190c1d2-7e5f-7a3b-9c4d-5e6f7a8b9c0d"} {
		seen := map[int]int{}
		for attempt := 1; attempt <= 20; attempt++ {
			port := MasterPort(job, attempt)
			if port < 20000 || port > 39999 {
				t.Errorf("MasterPort(%s, %d) = %d, outside 20000..39999", job, attempt, port)
			}
			if port != MasterPort(job, attempt) {
				t.Errorf("MasterPort(%s, %d) not deterministic", job, attempt)
			}
			if prev, ok := seen[port]; ok {
				t.Errorf("MasterPort(%s): attempts %d and %d share port %d", job, prev, attempt, port)
			}
			seen[port] = attempt
		}
	}
	// Through Procs: another attempt of the same gang rendezvous elsewhere.
	j := gang(store.LaunchNode)
	first := procsOf(t, j, "site/n-b", "nvidia", gangAddrs, nil)[0]["MASTER_PORT"]
	j.Attempts++
	second := procsOf(t, j, "site/n-b", "nvidia", gangAddrs, nil)[0]["MASTER_PORT"]
	if first == second {
		t.Errorf("attempts %d and %d share MASTER_PORT %s", j.Attempts-1, j.Attempts, first)
	}
}

// The job's env and the base env come through, in that order of
// precedence, but neither can change what Stargate decides.
func TestProcsStargateVariablesWin(t *testing.T) {
	j := gang(store.LaunchAccelerator)
	j.Spec.Env = map[string]string{
		"CUDA_VISIBLE_DEVICES":   "0-7",
		"NVIDIA_VISIBLE_DEVICES": "all",
		"STARGATE_NODE_RANK":     "0",
		"STARGATE_JOB_ID":        "someone-else",
		"MASTER_ADDR":            "evil.example",
		"MASTER_PORT":            "1",
		"RANK":                   "0",
		"WORLD_SIZE":             "1",
		"LOCAL_RANK":             "5",
		"EPOCHS":                 "3",
		"LANG":                   "C.UTF-8", // overrides the base
	}
	base := map[string]string{"PATH": "/opt/bin:/usr/bin", "HOME": "/home/alice", "LANG": "en_US.UTF-8"}
	envs := procsOf(t, j, "site/n-c", "nvidia", gangAddrs, base)
	if len(envs) != 4 {
		t.Fatalf("%d processes, want 4", len(envs))
	}
	for local, e := range envs {
		want := map[string]string{
			"CUDA_VISIBLE_DEVICES":   "1,3,5,7",
			"NVIDIA_VISIBLE_DEVICES": "1,3,5,7",
			"STARGATE_NODE_RANK":     "2",
			"STARGATE_JOB_ID":        "j-gang",
			"MASTER_ADDR":            "10.0.0.1",
			"MASTER_PORT":            strconv.Itoa(MasterPort("j-gang", 2)),
			"RANK":                   strconv.Itoa(3 + 2 + local),
			"WORLD_SIZE":             "9",
			"LOCAL_RANK":             strconv.Itoa(local),
			"EPOCHS":                 "3",
			"LANG":                   "C.UTF-8",
			"PATH":                   "/opt/bin:/usr/bin",
			"HOME":                   "/home/alice",
		}
		for k, v := range want {
			if e[k] != v {
				t.Errorf("proc %d: %s=%q, want %q", local, k, e[k], v)
			}
		}
	}
	// The base is the caller's: Procs must not write into it.
	if len(base) != 3 || base["LANG"] != "en_US.UTF-8" {
		t.Errorf("Procs changed its base env: %v", base)
	}
}

// On AMD, the job's own ROCR_VISIBLE_DEVICES is replaced too.
func TestProcsAMDJobCannotWiden(t *testing.T) {
	j := gang(store.LaunchNode)
	j.Spec.Env = map[string]string{"ROCR_VISIBLE_DEVICES": "0,1,2,3,4,5,6,7"}
	e := procsOf(t, j, "site/n-b", "amd", gangAddrs, nil)[0]
	if e["ROCR_VISIBLE_DEVICES"] != "4,6" {
		t.Errorf("ROCR_VISIBLE_DEVICES=%q, want 4,6", e["ROCR_VISIBLE_DEVICES"])
	}
}

func TestProcsNoCommand(t *testing.T) {
	j := gang(store.LaunchAccelerator)
	j.Spec.Command = nil
	p, _ := Locate(j, "site/n-a", gangAddrs, "nvidia")
	if procs, err := Procs(p, nil); err == nil {
		t.Errorf("a job without a command gave %d processes and no error", len(procs))
	}
}

// Over random gangs: every accelerator of the job gets exactly one global
// rank, ranks follow placement order, and every node agrees on the world
// and the rendezvous.
func TestProcsRandomGangs(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		nodes := rapid.IntRange(1, 6).Draw(t, "nodes")
		j := store.Job{ID: rapid.StringMatching(`j-[a-z0-9]{1,8}`).Draw(t, "id"),
			Attempts: rapid.IntRange(1, 5).Draw(t, "attempts"),
			Spec: store.JobSpec{Command: []string{"run"},
				Launch: rapid.SampledFrom([]string{store.LaunchNode, store.LaunchAccelerator, ""}).Draw(t, "launch")}}
		addrs := map[string]string{}
		for i := range nodes {
			devs := rapid.SliceOfNDistinct(rapid.IntRange(0, 7), 1, 8, rapid.ID[int]).Draw(t, fmt.Sprintf("devs%d", i))
			name := fmt.Sprintf("n%d", i)
			j.Placement = append(j.Placement, store.Allocation{Node: name, Accelerators: devs})
			if rapid.Bool().Draw(t, fmt.Sprintf("addr%d", i)) {
				addrs[name] = fmt.Sprintf("10.1.0.%d", i)
			}
		}
		vendor := rapid.SampledFrom([]string{"nvidia", "amd", "huawei", "kunlunxin", "aws", "google", "fake", ""}).Draw(t, "vendor")
		checkGang(t, j, vendor, addrs)
	})
}

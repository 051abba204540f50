package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"stargate/agent"
)

func init() { register(newAgentCmd) }

type agentFlags struct {
	server, tokenFile, node, data, devices, address, runAs, listen string
	heartbeat                                                      time.Duration
	logLimit                                                       int64
	verbose                                                        bool
	sim                                                            simAgentFlags // --simulate: many fake nodes in one process
}

func newAgentCmd() *cobra.Command {
	var f agentFlags
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run a node: register it, heartbeat, run the jobs placed on it, apply power caps",
		Long: `Agent runs on every node of the fleet. It registers its node with a join
token (role agent, see 'stargate token create --role agent'), keeps the
credential the server answers (for this node alone) in --data, and then
heartbeats: measured draw and per-accelerator telemetry out, the jobs the
node should run back.

Each job runs under a small supervisor of its own that outlives the agent:
the job's command (argv, no shell unless it names one) in its own session,
in a working directory under DATA/jobs, with the distributed-training
environment: STARGATE_JOB_ID, STARGATE_NODE_RANK, STARGATE_NNODES, ...,
MASTER_ADDR and MASTER_PORT (the same on every node of a gang),
CUDA_VISIBLE_DEVICES (ROCR_VISIBLE_DEVICES on AMD) with exactly the
allocated accelerators, and torchrun's PET_* variables, so that a plain
'torchrun train.py' needs no flags. With 'launch: accelerator' a job runs
one process per accelerator, with RANK, LOCAL_RANK and WORLD_SIZE.

A job the server no longer assigns here (cancelled, preempted, failed on
another node) gets SIGTERM, its grace period (grace_s, default 30 s), then
SIGKILL; no process of it survives, not even one that called setsid. The
jobs' output is kept (bounded by --log-limit) and shipped to the server:
'stargate logs JOB'.

Kill the agent, or lose the server: jobs run on. A restarted agent adopts
them from --data and reports how they ended; no job attempt starts twice.

Devices: --devices auto uses NVIDIA's NVML when the binary is built with
it (go build -tags nvml) and a GPU is there, else none; fake simulates the
node's accelerators from the fleet file (for tests and demos).`,
		Example: `  stargate agent --server http://10.0.0.1:7070 --token-file /etc/stargate/join.token \
      --node abilene/hall-1/row-3/rack-7/n2 --data /var/lib/stargate-agent
  stargate agent --node lab/hall-a/row-1/rack-1/n1 --data /tmp/n1 --devices fake --address 127.0.0.1
  stargate agent --simulate all --example small     # every node of the fleet, simulated, in one process`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAgent(cmd.Context(), &f, cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.server, "server", "", "server URL (default $"+envServer+" or "+defaultServer+")")
	fl.StringVar(&f.tokenFile, "token-file", "", "file holding the join token (default $"+envTokenFile+"; $"+envToken+" gives the token itself)")
	fl.StringVar(&f.node, "node", "", "this node's name in the fleet, site/hall/row/rack/nN (required)")
	fl.StringVar(&f.data, "data", "", "directory for the node's credential and its jobs (required)")
	fl.StringVar(&f.devices, "devices", "auto", "accelerators: auto, nvml, fake or none")
	fl.StringVar(&f.address, "address", "", "address other nodes reach this one at: MASTER_ADDR of gangs whose rank 0 runs here (default: the host name)")
	fl.StringVar(&f.runAs, "run-as", "", "run jobs as this user (the agent must be root)")
	fl.DurationVar(&f.heartbeat, "heartbeat", 5*time.Second, "heartbeat period: a placed job starts within about one")
	fl.Int64Var(&f.logLimit, "log-limit", 16<<20, "bytes of output kept of each job on this node (the oldest is trimmed)")
	fl.StringVar(&f.listen, "listen", "", "serve Prometheus /metrics here (dcgm-exporter's DCGM_FI_DEV_* names), e.g. :9400")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log debug messages")
	f.sim.add(cmd)
	cmd.AddCommand(newShimCmd())
	return cmd
}

// newShimCmd is the job supervisor the agent starts for each job; it is
// not for people.
func newShimCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "shim DIR",
		Short:  "Supervise one job attempt (started by the agent)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return agent.RunShim(args[0])
		},
	}
}

func runAgent(ctx context.Context, f *agentFlags, stderr io.Writer) error {
	if f.sim.count == "" && (f.node == "" || f.data == "") {
		return fmt.Errorf("--node and --data are required (see stargate agent --help)")
	}
	srv := f.server
	if srv == "" {
		srv = os.Getenv(envServer)
	}
	if srv == "" {
		srv = defaultServer
	}
	tok := os.Getenv(envToken)
	file := f.tokenFile
	if file == "" {
		file = os.Getenv(envTokenFile)
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("token file: %w", err)
		}
		tok = strings.TrimSpace(string(b))
	}
	if tok == "" {
		return fmt.Errorf("no join token: give --token-file or set $%s (mint one with 'stargate token create --role agent')", envToken)
	}
	level := slog.LevelInfo
	if f.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if f.sim.count != "" {
		return runSimulatedAgents(ctx, f, srv, tok, log)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	a, err := agent.New(agent.Config{Server: srv, JoinToken: tok, Node: f.node, Address: f.address, DataDir: f.data,
		Devices: f.devices, Heartbeat: f.heartbeat, LogLimit: f.logLimit, RunAs: f.runAs,
		Shim: []string{self, "agent", "shim"}, Log: log, Listen: f.listen})
	if err != nil {
		return err
	}
	log.Info("agent starting", "node", f.node, "server", srv, "data", f.data)
	err = a.Run(ctx)
	if errors.Is(err, agent.ErrRefused) {
		return err
	}
	if err != nil && ctx.Err() == nil {
		return err
	}
	log.Info("agent stopped; jobs run on under their supervisors")
	return nil
}

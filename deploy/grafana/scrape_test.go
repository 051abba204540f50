package grafana_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"stargate/agent"
	"stargate/client"
	"stargate/engine"
	"stargate/examples"
	"stargate/server"
	"stargate/server/enginesched"
	"stargate/store"
	"stargate/store/sqlite"
)

// TestMain lets the agent under test start this test binary as a job's
// supervisor: with STARGATE_TEST_SHIM set, it is one.
func TestMain(m *testing.M) {
	if os.Getenv("STARGATE_TEST_SHIM") == "1" {
		if err := agent.RunShim(os.Args[len(os.Args)-1]); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// exposition is one /metrics scrape: the labels of every series, by
// sample name. A histogram's samples are its _bucket, _sum and _count
// series, which is what PromQL selects; its bare family name selects
// nothing, and so is not a sample name here.
type exposition map[string][]map[string]string

// parseExposition reads Prometheus' text format.
func parseExposition(text string) (exposition, error) {
	e := exposition{}
	for n, line := range strings.Split(text, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		labels := map[string]string{}
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name, rest = line[:i], line[i+1:]
			for {
				rest = strings.TrimLeft(rest, ",")
				if strings.HasPrefix(rest, "}") {
					break
				}
				label, after, ok := strings.Cut(rest, `="`)
				if !ok {
					return nil, fmt.Errorf("line %d: bad labels: %s", n+1, line)
				}
				j := 0
				for j < len(after) && after[j] != '"' {
					if after[j] == '\\' {
						j++
					}
					j++
				}
				if j >= len(after) {
					return nil, fmt.Errorf("line %d: unterminated label value: %s", n+1, line)
				}
				v, err := strconv.Unquote(`"` + after[:j] + `"`)
				if err != nil {
					return nil, fmt.Errorf("line %d: label %s: %w", n+1, label, err)
				}
				labels[label], rest = v, after[j+1:]
			}
		}
		e[name] = append(e[name], labels)
	}
	return e, nil
}

func TestParseExposition(t *testing.T) {
	e, err := parseExposition(`# HELP a_seconds x
# TYPE a_seconds histogram
a_seconds_bucket{code="200",route="POST /v1/nodes/{name}/heartbeat",le="0.1"} 3
a_seconds_count{code="200",route="say \"hi\", {ok}"} 3
up 1
`)
	if err != nil {
		t.Fatal(err)
	}
	want := exposition{
		"a_seconds_bucket": {{"code": "200", "route": "POST /v1/nodes/{name}/heartbeat", "le": "0.1"}},
		"a_seconds_count":  {{"code": "200", "route": `say "hi", {ok}`}},
		"up":               {{}},
	}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("got %v, want %v", e, want)
	}
}

// liveNode is the node of the small fleet that the agent runs.
const liveNode = "lab/hall-a/row-1/rack-1/n1"

// scrapeLiveFleet starts a control plane on SQLite with the engine as
// its scheduler, and a node agent with fake devices, both on 127.0.0.1.
// It brings them to where every labelled series exists (a registered node
// heartbeating its telemetry, a running job, a pending one, decisions
// committed) and scrapes the server's and the agent's /metrics.
func scrapeLiveFleet(t *testing.T) (srvMetrics, agentMetrics exposition) {
	t.Helper()
	t.Setenv("STARGATE_TEST_SHIM", "1") // the supervisors inherit it
	ctx := context.Background()
	dir := t.TempDir()

	st, err := sqlite.Open(ctx, filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	fl, err := examples.Fleet("small")
	if err != nil {
		t.Fatal(err)
	}
	sched, err := enginesched.New(fl, engine.Config{}, enginesched.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Store: st, Fleet: fl, Scheduler: sched, ReconcileEvery: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	token := func(role store.Role) string {
		secret, _, err := srv.MintToken(ctx, role, "", "dashboard test")
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	admin, operator, join := token(store.RoleAdmin), token(store.RoleOperator), token(store.RoleAgent)
	sctx, stopServer := context.WithCancel(ctx)
	serverDone := make(chan struct{})
	go func() { srv.Run(sctx); close(serverDone) }()
	hs := httptest.NewServer(srv.Handler())
	c := client.New(hs.URL, admin)

	agentDir := filepath.Join(dir, "agent")
	listen := freeAddr(t)
	a, err := agent.New(agent.Config{Server: hs.URL, JoinToken: join, Node: liveNode, Address: "127.0.0.1",
		DataDir: agentDir, Devices: "fake", Heartbeat: 50 * time.Millisecond, Shim: []string{os.Args[0]}, Listen: listen})
	if err != nil {
		t.Fatal(err)
	}
	actx, stopAgent := context.WithCancel(ctx)
	agentDone := make(chan error, 1)
	go func() { agentDone <- a.Run(actx) }()
	t.Cleanup(func() {
		// Cancel the jobs, let the agent stop their supervisors, then stop
		// the agent and the server.
		if l, err := c.Jobs(ctx, client.JobQuery{States: []string{"running", "pending"}}); err == nil {
			for _, j := range l.Jobs {
				c.Cancel(ctx, j.ID)
			}
		}
		if !poll(func() bool { return supervisorsDone(agentDir) }) {
			t.Errorf("the job supervisors under %s did not end", agentDir)
		}
		stopAgent()
		<-agentDone
		hs.Close()
		stopServer()
		<-serverDone
		st.Close()
	})

	// Half the node's accelerators busy, and a job too large for the rest.
	running, err := c.SubmitSpec(ctx, store.JobSpec{Tenant: "acme", Accelerators: 4, Power: 1,
		Command: []string{"sleep", "60"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the job to run and the node to report its telemetry", func() bool {
		j, err := c.Job(ctx, running.ID)
		if err != nil || j.State != store.JobRunning {
			return false
		}
		n, err := c.Node(ctx, liveNode)
		return err == nil && n.Telemetry != nil && len(n.Telemetry.Accelerators) > 0
	})
	waiting, err := c.SubmitSpec(ctx, store.JobSpec{Tenant: "acme", Accelerators: 8, Command: []string{"sleep", "60"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the scheduler to say why the second job waits", func() bool {
		j, err := c.Job(ctx, waiting.ID)
		return err == nil && j.State == store.JobPending && len(j.Reasons) > 0
	})

	srvMetrics = scrape(t, hs.URL+"/metrics", operator)
	agentMetrics = scrape(t, "http://"+listen+"/metrics", "")
	return srvMetrics, agentMetrics
}

// scrape gets and parses a /metrics page, with a bearer token when given.
func scrape(t *testing.T, url, token string) exposition {
	t.Helper()
	var body []byte
	waitFor(t, "a scrape of "+url, func() bool {
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return false // the agent's listener may not be up yet
		}
		defer res.Body.Close()
		body, err = io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s: %s", url, res.Status, body)
		}
		return err == nil
	})
	e, err := parseExposition(string(body))
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return e
}

// supervisorsDone reports whether every job supervisor the agent started
// under dir has recorded how its job ended.
func supervisorsDone(dir string) bool {
	specs, _ := filepath.Glob(filepath.Join(dir, "jobs", "*", "spec.json"))
	for _, s := range specs {
		if _, err := os.Stat(filepath.Join(filepath.Dir(s), "status.json")); err != nil {
			return false
		}
	}
	return true
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitFor polls cond until it holds, and fails the test if it does not
// within 30 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !poll(cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// poll calls cond until it holds, for up to 30 seconds, and reports
// whether it did.
func poll(cond func() bool) bool {
	for end := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			return false
		}
	}
	return true
}

package hostile

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"stargate/api"
	"stargate/client"
)

// Each test replays a row of the hostile table against a real server
// process, on SQLite and on PostgreSQL. A large queue is queue_test.go's,
// with 20,000 pending jobs ('stargate bench api --pass-queued' measures
// millions, and the memory per pending job). A full disk is
// diskfull_test.go's: it mounts a small file system to fill, as root.

// Row 1: a node name no store keeps, heartbeated in a loop, fails no
// other node's heartbeat.
func TestRowBadNodeNameIsolated(t *testing.T) {
	stores(t, func(t *testing.T, dsn string) {
		s := start(t, dsn)
		nodes := []string{n1, n2, "lab/hall-a/row-1/rack-2/n1", "lab/hall-a/row-2/rack-1/n1"}
		join, creds := register(t, s, nodes...)
		stop := make(chan struct{})
		var bad sync.WaitGroup
		bad.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if code, body := do(t, "POST", s.url+"/v1/nodes/a%00b/heartbeat", join, `{"draw_w":1}`); code < 400 || code >= 500 {
					t.Errorf("a NUL in a node name: %d %s", code, body)
					return
				}
			}
		})
		var good sync.WaitGroup
		for _, n := range nodes {
			good.Go(func() {
				for range 40 {
					if code, body := do(t, "POST", s.url+api.NodePath(n)+"/heartbeat", creds[n], `{"draw_w":500}`); code != 200 {
						t.Errorf("%s: %d %s", n, code, body)
						return
					}
				}
			})
		}
		good.Wait()
		close(stop)
		bad.Wait()
	})
}

// Row 3: a spec of half a megabyte is refused, and a page of large jobs
// stays bounded in bytes, whatever limit is asked.
func TestRowLargeSpecsBounded(t *testing.T) {
	stores(t, func(t *testing.T, dsn string) {
		s := start(t, dsn)
		env := map[string]string{}
		for i := range 128 {
			env[fmt.Sprintf("V%d", i)] = strings.Repeat("x", 4<<10)
		}
		spec, _ := json.Marshal(api.JobSpec{Tenant: "acme", Accelerators: 1, Env: env, Command: []string{strings.Repeat("a", 60<<10)}})
		if code, body := do(t, "POST", s.url+"/v1/jobs", s.admin, string(spec)); code != 400 && code != 413 {
			t.Fatalf("a 586 KB spec: %d %.200s", code, body)
		}
		before := s.rssMiB(t)
		big, _ := json.Marshal(api.JobSpec{Tenant: "acme", Accelerators: 1, Command: []string{strings.Repeat("a", 60<<10)}})
		for range 150 {
			if code, body := do(t, "POST", s.url+"/v1/jobs", s.admin, string(big)); code != 201 {
				t.Fatalf("a 60 KB spec: %d %.200s", code, body)
			}
		}
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				code, body := do(t, "GET", s.url+"/v1/jobs?limit=1000", s.admin, "")
				var page api.JobList
				json.Unmarshal([]byte(body), &page)
				if code != 200 || len(body) > 4<<20+200<<10 || page.Next == "" {
					t.Errorf("a page of large jobs: %d, %d bytes, next %q", code, len(body), page.Next)
				}
			})
		}
		wg.Wait()
		if grew := s.rssMiB(t) - before; grew > 300 {
			t.Errorf("the server grew %.0f MiB", grew)
		}
	})
}

// Row 4: a node registered with 900 KB of labels is refused.
func TestRowNodeLabelsBounded(t *testing.T) {
	stores(t, func(t *testing.T, dsn string) {
		s := start(t, dsn)
		labels := map[string]string{}
		for i := range 3600 {
			labels[fmt.Sprintf("k%d", i)] = strings.Repeat("v", 250)
		}
		body, _ := json.Marshal(api.NodeRegistration{Name: n1, Labels: labels})
		if code, out := do(t, "POST", s.url+"/v1/nodes", s.admin, string(body)); code != 400 && code != 413 {
			t.Errorf("900 KB of labels: %d %.200s", code, out)
		}
	})
}

// Row 6: a user who submits and cancels in a loop fails no scheduling
// pass.
func TestRowSubmitCancelChurn(t *testing.T) {
	stores(t, func(t *testing.T, dsn string) {
		s := start(t, dsn, "--reconcile-every", "50ms")
		register(t, s, n1)
		c := client.New(s.url, s.admin)
		ctx := context.Background()
		for end := time.Now().Add(4 * time.Second); time.Now().Before(end); {
			j, err := c.SubmitSpec(ctx, api.JobSpec{Tenant: "acme", Accelerators: 16}, "")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Cancel(ctx, j.ID); err != nil {
				t.Fatal(err)
			}
		}
		if log := s.logText(); strings.Contains(log, "reconcile pass failed") {
			t.Errorf("passes failed under churn:\n%s", log)
		}
	})
}

// Row 7: neither a join token nor another node's credential speaks for a
// node.
func TestRowNodeCredentials(t *testing.T) {
	stores(t, func(t *testing.T, dsn string) {
		s := start(t, dsn)
		join, creds := register(t, s, n1, n2)
		if code, _ := do(t, "POST", s.url+api.NodePath(n1)+"/heartbeat", join, `{"draw_w":1}`); code != 403 {
			t.Errorf("a join token heartbeats n1: %d", code)
		}
		if code, _ := do(t, "POST", s.url+api.NodePath(n1)+"/heartbeat", creds[n2], `{"draw_w":1}`); code != 403 {
			t.Errorf("n2's credential heartbeats n1: %d", code)
		}
	})
}

// Row 8: the last admin token cannot be revoked.
func TestRowLastAdmin(t *testing.T) {
	stores(t, func(t *testing.T, dsn string) {
		s := start(t, dsn)
		toks, err := client.New(s.url, s.admin).Tokens(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range toks {
			if tk.Role == "admin" {
				if code, body := do(t, "DELETE", s.url+"/v1/tokens/"+tk.ID, s.admin, ""); code != 409 {
					t.Errorf("revoke the last admin: %d %s", code, body)
				}
			}
		}
	})
}

// Row 9: a duration that overflows is refused.
func TestRowDurationOverflow(t *testing.T) {
	stores(t, func(t *testing.T, dsn string) {
		s := start(t, dsn)
		for _, field := range []string{"duration_s", "checkpoint_s", "time_limit_s", "grace_s"} {
			body := `{"tenant":"acme","accelerators":1,"` + field + `":9223372036854775807}`
			if code, out := do(t, "POST", s.url+"/v1/jobs", s.admin, body); code != 400 {
				t.Errorf("%s overflowing: %d %.200s", field, code, out)
			}
		}
	})
}

// Row 10: a lost node's job is requeued and waits out its backoff, not
// placed again in the same pass.
func TestRowLostNodeBackoff(t *testing.T) {
	stores(t, func(t *testing.T, dsn string) {
		s := start(t, dsn, "--reconcile-every", "100ms", "--heartbeat-timeout", "1s", "--backoff", "1h")
		_, creds := register(t, s, n1, n2)
		c := client.New(s.url, s.admin)
		ctx := context.Background()
		j, err := c.SubmitSpec(ctx, api.JobSpec{Tenant: "acme", Accelerators: 8}, "")
		if err != nil {
			t.Fatal(err)
		}
		beat := func(n string) { do(t, "POST", s.url+api.NodePath(n)+"/heartbeat", creds[n], `{"draw_w":500}`) }
		var placedOn string
		for end := time.Now().Add(10 * time.Second); placedOn == "" && time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			beat(n1)
			beat(n2)
			if got, _ := c.Job(ctx, j.ID); got.State == "running" {
				placedOn = got.Placement[0].Node
			}
		}
		if placedOn == "" {
			t.Fatal("the job was never placed")
		}
		other := n1
		if placedOn == n1 {
			other = n2
		}
		// its node goes silent; the other keeps beating
		var last api.Job
		for end := time.Now().Add(6 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			beat(other)
			last, _ = c.Job(ctx, j.ID)
			if last.State == "running" && last.Placement[0].Node == other {
				t.Fatalf("placed again on %s at once, past its backoff: %+v", other, last)
			}
		}
		if last.State != "pending" {
			t.Errorf("after its node was lost: %s %v", last.State, last.Reasons)
		}
	})
}

// Row 12: text no store keeps is a 400 on both stores: NUL and invalid
// UTF-8 in ids and query values, invalid UTF-8 in a body, a key twice.
func TestRowTextRefused(t *testing.T) {
	stores(t, func(t *testing.T, dsn string) {
		s := start(t, dsn)
		for _, path := range []string{"/v1/jobs/j%00x", "/v1/jobs/j%ffx", "/v1/jobs?tenant=a%00b", "/v1/jobs?tenant=" + url.QueryEscape("a\xffb"),
			"/v1/nodes/a%00b", "/v1/events?job=a%00b"} {
			if code, body := do(t, "GET", s.url+path, s.admin, ""); code != 400 {
				t.Errorf("GET %s: %d %.200s", path, code, body)
			}
		}
		for what, body := range map[string]string{
			"invalid UTF-8 in a name": "{\"tenant\":\"acme\",\"accelerators\":1,\"name\":\"a\xffb\"}",
			"a key twice":             `{"tenant":"acme","accelerators":1,"accelerators":2}`,
			"a NUL in a name":         `{"tenant":"acme","accelerators":1,"name":"a\u0000b"}`,
		} {
			if code, out := do(t, "POST", s.url+"/v1/jobs", s.admin, body); code != 400 {
				t.Errorf("%s: %d %.200s", what, code, out)
			}
		}
	})
}

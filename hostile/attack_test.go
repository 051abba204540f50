package hostile

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"stargate/api"
	"stargate/client"
)

// Honest submits while three attacks run at once against the same server:
// bodies of a gigabyte, slowloris connections that send a header byte at a
// time, and a user who submits and cancels as fast as the server answers.
// The server must answer every honest submit, and quickly.

// attackStats counts what the attackers did, to show that they attacked.
type attackStats struct {
	bigRefused  atomic.Int64 // gigabyte bodies answered 413
	slowOpened  atomic.Int64 // slowloris connections opened
	slowClosed  atomic.Int64 // ... that the server closed
	churn       atomic.Int64 // submits and cancels of the churning user
	churnFailed atomic.Int64
}

// endless is an io.Reader of n bytes of JSON-ish junk, made without
// holding it.
type endless struct{ left int64 }

func (e *endless) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, io.EOF
	}
	n := min(int64(len(p)), e.left)
	for i := range p[:n] {
		p[i] = 'a'
	}
	e.left -= n
	return int(n), nil
}

// attack starts the three attacks on s until ctx ends; wait waits for them.
func attack(ctx context.Context, s *server, userToken string, slow int, st *attackStats) (wait func()) {
	var wg sync.WaitGroup
	host := strings.TrimPrefix(s.url, "http://")
	// two senders of gigabyte bodies
	for range 2 {
		wg.Go(func() {
			hc := &http.Client{}
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, "POST", s.url+"/v1/jobs", &endless{left: 1 << 30})
				req.ContentLength = 1 << 30
				req.Header.Set("Authorization", "Bearer "+userToken)
				req.Header.Set("Content-Type", "application/json")
				res, err := hc.Do(req)
				if err != nil {
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode == http.StatusRequestEntityTooLarge {
					st.bigRefused.Add(1)
				}
			}
		})
	}
	// slowloris: connections that send a request line and then a header
	// byte every 2 s, opened again when the server closes them
	for range slow {
		wg.Go(func() {
			for ctx.Err() == nil {
				conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", host)
				if err != nil {
					time.Sleep(100 * time.Millisecond)
					continue
				}
				st.slowOpened.Add(1)
				closed := make(chan struct{})
				go func() { // the server's close shows as the end of reading
					io.Copy(io.Discard, conn)
					close(closed)
				}()
				io.WriteString(conn, "POST /v1/jobs HTTP/1.1\r\nHost: "+host+"\r\nX-Slow: ")
				for alive := true; alive; {
					select {
					case <-ctx.Done():
						conn.Close()
						return
					case <-closed:
						st.slowClosed.Add(1)
						alive = false
					case <-time.After(2 * time.Second):
						conn.Write([]byte("a"))
					}
				}
				conn.Close()
			}
		})
	}
	// churn: one user submits and cancels as fast as it is answered
	wg.Go(func() {
		c := client.New(s.url, userToken)
		for ctx.Err() == nil {
			j, _, err := c.Submit(ctx, []byte(`{"accelerators":1,"name":"churn"}`), "application/json", "")
			if err == nil {
				_, err = c.Cancel(ctx, j.ID)
			}
			if err != nil && ctx.Err() == nil {
				st.churnFailed.Add(1)
			}
			st.churn.Add(1)
		}
	})
	return wg.Wait
}

// honestUnderAttack starts a server and the attacks, lets them run a
// little, then sends n honest submits, one every 50 ms, and returns their
// latencies in order. Every honest submit must be accepted.
func honestUnderAttack(tb testing.TB, s *server, n, slow int) ([]time.Duration, *attackStats) {
	ctx := context.Background()
	admin := client.New(s.url, s.admin)
	mk := func(tenant string) string {
		tok, err := admin.CreateToken(ctx, api.TokenRequest{Role: "user", Tenant: tenant, Name: tenant})
		if err != nil {
			tb.Fatal(err)
		}
		return tok.Secret
	}
	attacker, honest := mk("mallory"), mk("alice")
	st := &attackStats{}
	actx, stop := context.WithCancel(ctx)
	wait := attack(actx, s, attacker, slow, st)
	defer func() { stop(); wait() }()
	time.Sleep(2 * time.Second) // the attacks under way
	c := client.New(s.url, honest)
	lat := make([]time.Duration, 0, n)
	for i := range n {
		t0 := time.Now()
		if _, _, err := c.Submit(ctx, fmt.Appendf(nil, `{"accelerators":1,"name":"honest-%d"}`, i), "application/json", ""); err != nil {
			tb.Fatalf("honest submit %d under attack: %v\nserver: %s", i, err, s.logText())
		}
		lat = append(lat, time.Since(t0))
		time.Sleep(50 * time.Millisecond)
	}
	return lat, st
}

// quantile is the q-quantile of the latencies (nearest rank).
func quantile(lat []time.Duration, q float64) time.Duration {
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// Every honest submit is answered while the attacks run, and the attacks
// did attack: gigabyte bodies refused, slowloris connections closed by the
// server (its header timeout), a user churning. The latency target (p99
// under 100 ms) is the benchmark's to measure; this test bounds it loosely,
// against an attack that blocks the server.
func TestHonestSubmitsUnderAttack(t *testing.T) {
	if testing.Short() {
		t.Skip("runs attacks against a server for about 25 s")
	}
	s := start(t, "")
	lat, st := honestUnderAttack(t, s, 200, 200)
	// the slowloris connections last the server's header timeout (10 s):
	// keep the attack up until the server has closed some
	if st.bigRefused.Load() == 0 || st.slowOpened.Load() < 200 || st.slowClosed.Load() == 0 || st.churn.Load() < 100 {
		t.Errorf("the attacks did not attack: %d gigabyte bodies refused, %d slow connections opened and %d closed by the server, %d churn requests",
			st.bigRefused.Load(), st.slowOpened.Load(), st.slowClosed.Load(), st.churn.Load())
	}
	p50, p99 := quantile(lat, 0.5), quantile(lat, 0.99)
	t.Logf("200 honest submits under attack: p50 %.1f ms, p99 %.1f ms; %d gigabyte bodies refused, %d slow connections (%d closed by the server), %d churn requests (%d failed)",
		ms(p50), ms(p99), st.bigRefused.Load(), st.slowOpened.Load(), st.slowClosed.Load(), st.churn.Load(), st.churnFailed.Load())
	if p99 > time.Second {
		t.Errorf("honest submits starved: p99 %s", p99)
	}
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// BenchmarkHonestSubmitUnderAttack measures the target: honest
// submits keep p99 under 100 ms while gigabyte bodies, 200 slowloris
// connections and a churning user attack the same server (SQLite).
//
//	go test ./hostile -run '^$' -bench HonestSubmitUnderAttack -benchtime 400x
func BenchmarkHonestSubmitUnderAttack(b *testing.B) {
	s := start(b, "")
	b.ResetTimer()
	lat, st := honestUnderAttack(b, s, b.N, 200)
	b.StopTimer()
	b.ReportMetric(ms(quantile(lat, 0.5)), "p50-ms")
	b.ReportMetric(ms(quantile(lat, 0.99)), "p99-ms")
	b.ReportMetric(float64(st.bigRefused.Load()), "gigabyte-bodies-refused")
	b.ReportMetric(float64(st.churn.Load()), "churn-requests")
	b.ReportMetric(float64(st.slowClosed.Load()), "slow-conns-closed")
}

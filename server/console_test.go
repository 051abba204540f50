package server

import (
	"bufio"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"stargate/store"
)

// cookieDo sends a request with a console session cookie instead of a token.
func (h *harness) cookieDo(cookie *http.Cookie, method, path string, headers ...string) resp {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := noRedirect.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	bufio.NewReader(res.Body).WriteTo(&b)
	return resp{status: res.StatusCode, header: res.Header, body: []byte(b.String())}
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// sessionCookieOf returns the session cookie a response set, or nil.
func sessionCookieOf(r resp) *http.Cookie {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == sessionCookie && c.Value != "" {
			return c
		}
	}
	return nil
}

func TestConsoleServesItsAssets(t *testing.T) {
	h := newHarness(t, nil)
	r := h.do("", "GET", "/", "")
	if r.status != 200 || !strings.Contains(string(r.body), "/console/app.js") || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Errorf("GET /: %d %s %.200s", r.status, r.header.Get("Content-Type"), r.body)
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("no content security policy: %q", csp)
	}
	for _, f := range []string{"app.js", "chart.js", "style.css"} {
		if r := h.do("", "GET", "/console/"+f, ""); r.status != 200 || len(r.body) < 500 {
			t.Errorf("GET /console/%s: %d, %d bytes", f, r.status, len(r.body))
		}
	}
	if r := h.do("", "GET", "/console/nope.js", ""); r.status != 404 {
		t.Errorf("a missing asset: %d", r.status)
	}
	if r := h.do("", "GET", "/console/..%2fconsole.go", ""); r.status != 404 {
		t.Errorf("a path out of the assets: %d %.100s", r.status, r.body)
	}
}

func TestConsoleSession(t *testing.T) {
	h := newHarness(t, nil)
	acmeJob := h.submit("acme", `{"accelerators":1}`)
	h.submit("blue", `{"accelerators":1}`)

	if r := h.do("", "POST", "/v1/session", `{"token":"sgt_nope_nope"}`); r.status != 401 || sessionCookieOf(r) != nil {
		t.Errorf("a bad token: %d %s", r.status, r.body)
	}
	if r := h.do("", "POST", "/v1/session", `{"token":"`+h.tokens["agent"]+`"}`); r.status != 403 || sessionCookieOf(r) != nil {
		t.Errorf("an agent token: %d %s", r.status, r.body)
	}
	if r := h.do("", "POST", "/v1/session", `{"token":1}`); r.status != 400 {
		t.Errorf("a bad body: %d %s", r.status, r.body)
	}
	r := h.do("", "POST", "/v1/session", `{"token":"`+h.tokens["acme"]+`"}`)
	c := sessionCookieOf(r)
	if r.status != 200 || c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Fatalf("sign-in: %d %s cookie %+v", r.status, r.body, c)
	}
	if strings.Contains(c.Value, h.tokens["acme"]) {
		t.Errorf("the cookie holds the token")
	}
	var st Status
	r.decode(t, &st)
	if st.Role != "user" || st.Tenant != "acme" {
		t.Errorf("sign-in answers %+v", st)
	}
	// the cookie stands for the token: a user's view, a user's rights
	var list JobList
	h.cookieDo(c, "GET", "/v1/jobs").decode(t, &list)
	if len(list.Jobs) != 1 || list.Jobs[0].Tenant != "acme" {
		t.Errorf("jobs through the session: %+v", list.Jobs)
	}
	if r := h.cookieDo(c, "GET", "/v1/events"); r.status != 403 {
		t.Errorf("a user's session reads the journal: %d", r.status)
	}
	// a state change from another site is refused; from the console it passes
	if r := h.cookieDo(c, "DELETE", "/v1/jobs/"+acmeJob.ID, "Sec-Fetch-Site", "cross-site"); r.status != 403 {
		t.Errorf("a cross-site cancel with the cookie: %d %s", r.status, r.body)
	}
	if r := h.cookieDo(c, "DELETE", "/v1/jobs/"+acmeJob.ID, "Origin", "http://evil.example"); r.status != 403 {
		t.Errorf("a cancel from another origin: %d %s", r.status, r.body)
	}
	if j, _ := h.st.Job(context.Background(), acmeJob.ID); j.State != store.JobPending {
		t.Errorf("a refused cancel cancelled: %s", j.State)
	}
	if r := h.cookieDo(c, "DELETE", "/v1/jobs/"+acmeJob.ID, "Sec-Fetch-Site", "same-origin"); r.status != 200 {
		t.Errorf("a same-origin cancel: %d %s", r.status, r.body)
	}
	// signing out ends the session
	if r := h.cookieDo(c, "DELETE", "/v1/session"); r.status != 204 {
		t.Errorf("sign-out: %d", r.status)
	}
	if r := h.cookieDo(c, "GET", "/v1/jobs"); r.status != 401 {
		t.Errorf("after sign-out: %d", r.status)
	}
	if r := h.cookieDo(&http.Cookie{Name: sessionCookie, Value: "forged"}, "GET", "/v1/jobs"); r.status != 401 {
		t.Errorf("a forged session: %d", r.status)
	}
}

func TestConsoleLoginLink(t *testing.T) {
	h := newHarness(t, nil)
	secret, tok, err := h.srv.MintToken(context.Background(), store.RoleOperator, "", "link")
	if err != nil {
		t.Fatal(err)
	}
	r := h.cookieDo(nil, "GET", "/?login="+secret)
	c := sessionCookieOf(r)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/" || c == nil {
		t.Fatalf("login link: %d %q cookie %v", r.status, r.header.Get("Location"), c)
	}
	if r := h.cookieDo(c, "GET", "/v1/status"); r.status != 200 || !strings.Contains(string(r.body), `"role":"operator"`) {
		t.Errorf("status through the link's session: %d %s", r.status, r.body)
	}
	r = h.cookieDo(nil, "GET", "/?login=sgt_bad_bad")
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/?signin=refused" || sessionCookieOf(r) != nil {
		t.Errorf("a bad link: %d %q", r.status, r.header.Get("Location"))
	}
	// a revoked token ends its sessions, once the token cache lets it go
	if r := h.do("admin", "DELETE", "/v1/tokens/"+tok.ID, ""); r.status != 200 && r.status != 204 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	h.clock.Advance(tokenCacheTTL + time.Second)
	if r := h.cookieDo(c, "GET", "/v1/status"); r.status != 401 {
		t.Errorf("the session of a revoked token: %d", r.status)
	}
}

func TestFleetReport(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Scheduler = placeFirst{} })
	h.register(node1)
	h.submit("acme", `{"accelerators":8}`)
	h.submit("blue", `{"accelerators":8}`)
	if err := h.srv.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := h.do(node1, "POST", NodePath(node1)+"/heartbeat", `{"draw_w":6000}`); r.status != 200 {
		t.Fatalf("heartbeat: %d %s", r.status, r.body)
	}
	var rep FleetReport
	h.do("admin", "GET", "/v1/fleet", "").decode(t, &rep)
	if len(rep.Sites) != 1 {
		t.Fatalf("sites: %+v", rep.Sites)
	}
	s := rep.Sites[0]
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9*max(1, math.Abs(b)) }
	// small.yaml: PUE 1.3, grid at 80 USD/MWh and 370 g/kWh
	facilityMW := 6000 * 1.3 / 1e6
	if s.Name != "lab" || s.Region != "demo" || s.DrawW != 6000 || !near(s.FacilityW, 7800) || s.Busy != 8 || s.Accelerators != 128 || s.Nodes != 1 {
		t.Errorf("site: %+v", s)
	}
	if !near(s.CostUSDPerHour, 80*facilityMW) || !near(s.EmissionsKgPerHour, 370*facilityMW) || s.PriceUSDPerMWh != 80 || s.CarbonGPerKWh != 370 {
		t.Errorf("cost %v USD/h, emissions %v kg/h, price %v, carbon %v", s.CostUSDPerHour, s.EmissionsKgPerHour, s.PriceUSDPerMWh, s.CarbonGPerKWh)
	}
	if len(s.Mix) != 1 || s.Mix[0].Source != "grid" || !near(s.Mix[0].MW, facilityMW) {
		t.Errorf("mix: %+v", s.Mix)
	}
	if rep.Jobs[store.JobRunning] != 1 || rep.Jobs[store.JobPending] != 1 || rep.Nodes[store.NodeReady] != 1 {
		t.Errorf("counts: jobs %v nodes %v", rep.Jobs, rep.Nodes)
	}
	if len(rep.History.Times) == 0 || len(rep.History.Sites["lab"]) != len(rep.History.Times) {
		t.Errorf("history: %+v", rep.History)
	}
	var mine FleetReport
	h.do("blue", "GET", "/v1/fleet", "").decode(t, &mine)
	if mine.Jobs[store.JobRunning]+mine.Jobs[store.JobPending] != 1 {
		t.Errorf("a user counts other tenants' jobs: %v", mine.Jobs)
	}
}

func TestDrawHistoryRing(t *testing.T) {
	var h drawHistory
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range historyLen + 5 {
		h.add(t0.Add(time.Duration(i)*historyStep), []float64{float64(i)})
		h.add(t0.Add(time.Duration(i)*historyStep+time.Second), []float64{-1}) // too soon: dropped
	}
	rep := h.report([]string{"a"})
	if len(rep.Times) != historyLen || rep.Sites["a"][0] != 5 || rep.Sites["a"][historyLen-1] != historyLen+4 {
		t.Fatalf("ring: %d samples, first %v last %v", len(rep.Times), rep.Sites["a"][0], rep.Sites["a"][len(rep.Sites["a"])-1])
	}
	for i := 1; i < len(rep.Times); i++ {
		if !rep.Times[i].After(rep.Times[i-1]) || rep.Sites["a"][i] != rep.Sites["a"][i-1]+1 {
			t.Fatalf("out of order at %d", i)
		}
	}
}

func TestTenantsReport(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Scheduler = placeFirst{}
		c.Tenants = map[string]TenantConfig{"acme": {Weight: 2, Quota: 16}, "idle": {Weight: 5}}
	})
	ctx := context.Background()
	if _, err := h.srv.SeedTenants(ctx); err != nil { // Run seeds too: one of them stores them
		t.Fatal(err)
	}
	if ts, err := h.st.Tenants(ctx); err != nil || len(ts) != 2 {
		t.Fatalf("the flags' tenants in the store: %+v %v", ts, err)
	}
	if n, err := h.srv.SeedTenants(ctx); err != nil || n != 0 {
		t.Errorf("seeded %d tenants again: %v", n, err)
	}
	h.register(node1)
	h.register(node2)
	h.submit("acme", `{"accelerators":8}`)
	h.submit("blue", `{"accelerators":4}`)
	h.submit("blue", `{"accelerators":8}`)
	if err := h.srv.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	var all TenantList
	h.do("operator", "GET", "/v1/tenants", "").decode(t, &all)
	by := map[string]TenantUsage{}
	for _, u := range all.Tenants {
		by[u.Name] = u
	}
	acme, blue, idle := by["acme"], by["blue"], by["idle"]
	if len(all.Tenants) != 3 || acme.Running != 8 || blue.Running != 4 || idle.Running != 0 {
		t.Fatalf("tenants: %+v", all.Tenants)
	}
	if !acme.Configured || acme.Weight != 2 || acme.Quota != 16 || blue.Configured || blue.Weight != 1 {
		t.Errorf("configuration: acme %+v blue %+v", acme, blue)
	}
	// shares among the tenants with work (idle has none): acme 2/3, blue 1/3
	if math.Abs(acme.Share-8.0/12) > 1e-9 || math.Abs(acme.FairShare-2.0/3) > 1e-9 || math.Abs(blue.FairShare-1.0/3) > 1e-9 || idle.FairShare != 0 {
		t.Errorf("shares: acme %+v blue %+v idle %+v", acme, blue, idle)
	}
	if blue.Jobs[store.JobPending] != 1 || blue.Jobs[store.JobRunning] != 1 {
		t.Errorf("blue's jobs: %v", blue.Jobs)
	}
	var mine TenantList
	h.do("blue", "GET", "/v1/tenants", "").decode(t, &mine)
	if len(mine.Tenants) != 1 || mine.Tenants[0].Name != "blue" {
		t.Errorf("a user sees other tenants: %+v", mine.Tenants)
	}
}

// sseEvent is one event read from a stream.
type sseEvent struct{ name, data string }

// readStream reads events from a server-sent event stream into a channel.
func readStream(t *testing.T, h *harness, who string) (<-chan sseEvent, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", h.url+"/v1/stream", nil)
	req.Header.Set("Authorization", "Bearer "+h.tokens[who])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	out := make(chan sseEvent, 100)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(res.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			case line == "" && ev.name != "":
				out <- ev
				ev = sseEvent{}
			}
		}
	}()
	return out, func() { cancel(); res.Body.Close() }
}

// next waits for the next event of a kind.
func next(t *testing.T, evs <-chan sseEvent, name string) sseEvent {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-evs:
			if !ok {
				t.Fatalf("the stream ended before a %s event", name)
			}
			if ev.name == name {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event within 10 s", name)
		}
	}
}

func TestStream(t *testing.T) {
	h := newHarness(t, nil)
	h.register(node1)
	h.do("operator", "POST", NodePath(node1)+"/drain", "") // an old event: not sent again
	h.submit("acme", `{"accelerators":1}`)
	ops, stopOps := readStream(t, h, "operator")
	defer stopOps()
	users, stopUsers := readStream(t, h, "blue")
	defer stopUsers()
	var tick StreamTick
	if err := json.Unmarshal([]byte(next(t, ops, "tick").data), &tick); err != nil || tick.Jobs[store.JobPending] != 1 {
		t.Errorf("an operator's tick: %+v %v", tick, err)
	}
	var blue StreamTick
	if err := json.Unmarshal([]byte(next(t, users, "tick").data), &blue); err != nil || len(blue.Jobs) != 0 {
		t.Errorf("a blue user's tick counts acme's job: %+v %v", blue, err)
	}
	if r := h.do("operator", "POST", NodePath(node1)+"/undrain", ""); r.status != 200 {
		t.Fatalf("undrain: %d %s", r.status, r.body)
	}
	var e store.Event
	if err := json.Unmarshal([]byte(next(t, ops, "journal").data), &e); err != nil || e.Node != node1 || !strings.Contains(e.Kind, "undrain") {
		t.Errorf("the journal event: %+v %v", e, err)
	}
	// users get ticks, never the journal
	for range 2 {
		if ev := next(t, users, "tick"); ev.name != "tick" {
			t.Errorf("a user got %s", ev.name)
		}
	}
	select {
	case ev := <-users:
		if ev.name == "journal" {
			t.Errorf("a user got a journal event: %s", ev.data)
		}
	default:
	}
}

func TestEventsTailAndJobsNewestFirst(t *testing.T) {
	h := newHarness(t, nil)
	h.register(node1)
	for _, verb := range []string{"drain", "undrain", "drain"} {
		h.do("operator", "POST", NodePath(node1)+"/"+verb, "")
	}
	var all, tail EventList
	h.do("operator", "GET", "/v1/events", "").decode(t, &all)
	h.do("operator", "GET", "/v1/events?last=2", "").decode(t, &tail)
	if n := len(all.Events); n < 3 || len(tail.Events) != 2 || tail.Events[0].Seq != all.Events[n-2].Seq || tail.Events[1].Seq != all.Events[n-1].Seq {
		t.Errorf("the last 2 of %+v: %+v", all.Events, tail.Events)
	}
	if r := h.do("operator", "GET", "/v1/events?last=2&limit=3", ""); r.status != 400 {
		t.Errorf("last and limit: %d", r.status)
	}
	a := h.submit("acme", `{"accelerators":1}`)
	b := h.submit("acme", `{"accelerators":1}`)
	var list JobList
	h.do("acme", "GET", "/v1/jobs?order=newest", "").decode(t, &list)
	if len(list.Jobs) != 2 || list.Jobs[0].ID != b.ID || list.Jobs[1].ID != a.ID {
		t.Errorf("newest first: %+v", list.Jobs)
	}
	h.do("acme", "GET", "/v1/jobs?order=newest&limit=1", "").decode(t, &list)
	if len(list.Jobs) != 1 || list.Jobs[0].ID != b.ID || list.Next != b.ID {
		t.Fatalf("newest first, a page of 1: %+v next %q", list.Jobs, list.Next)
	}
	h.do("acme", "GET", "/v1/jobs?order=newest&after="+list.Next, "").decode(t, &list)
	if len(list.Jobs) != 1 || list.Jobs[0].ID != a.ID {
		t.Errorf("the next page: %+v", list.Jobs)
	}
	if r := h.do("acme", "GET", "/v1/jobs?order=sideways", ""); r.status != 400 {
		t.Errorf("a bad order: %d", r.status)
	}
}

package server

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"stargate/store"
)

// handlerFunc is an authenticated handler: it writes its response, or
// returns an error that becomes one.
type handlerFunc func(w http.ResponseWriter, r *http.Request, tok store.Token) error

// route is one endpoint of the API. The table below is the authorization
// matrix, and the OpenAPI document is generated from it: the fields after
// summary say what the handler reads and answers, as the document shows
// it (the test of the document checks them against the handlers).
type route struct {
	method, path string
	allowed      roles
	h            handlerFunc
	summary      string
	// id is the operation's ID, stable: generated clients name their
	// methods after it.
	id string
	// params are the query (and header) parameters the handler reads.
	params []param
	// in is the request body's type (a zero value); nil: none. optional:
	// the body may be left out.
	in       any
	optional bool
	// out are the success answers; errs the error statuses the handler
	// answers beyond those every route may (see errorStatuses).
	out  []answer
	errs []int
	// raw serves a public route (no token): h and allowed are unset.
	raw http.HandlerFunc
}

// answer is one success answer of a route.
type answer struct {
	status int
	body   any // the body's type (a zero value); nil: none
	desc   string
	// media is the body's content type (default application/json).
	media string
	// headers are the response headers it sets (see respHeaders).
	headers []string
	// events are the data types of an event stream's events, by name.
	events map[string]any
}

// okBody is the one answer of most routes: 200 with a JSON body of body's type.
func okBody(body any) []answer { return []answer{{status: http.StatusOK, body: body}} }

func (s *Server) table() []route {
	return []route{
		{method: "POST", path: "/v1/jobs", allowed: people, h: s.submitJob, id: "submitJob",
			summary: "Submit a job (JSON or YAML spec; Idempotency-Key header). 201 once committed; a spec with array answers its elements, committed together; ?dry_run=true answers what would happen and stores nothing.",
			params:  []param{qDryRun, hIdempotency}, in: store.JobSpec{},
			out: []answer{
				{status: http.StatusCreated, body: store.Job{}, desc: "committed: the job", headers: []string{"Location", ReplayedHeader}},
				{status: http.StatusCreated, body: ArraySubmitted{}, desc: "committed: the array's elements", headers: []string{"Location", ReplayedHeader}},
				{status: http.StatusOK, body: DryRun{}, desc: "a dry run (?dry_run=true): what the next pass would do; nothing stored"},
			},
			errs: []int{409, 429, 501, 503}},
		{method: "GET", path: "/v1/jobs", allowed: people, h: s.listJobs, id: "listJobs",
			summary: "List jobs, a page at a time (users: their own tenant's).",
			params:  []param{qStates, qTenant, qArray, qJobLimit, qJobAfter, qOrder}, out: okBody(JobList{})},
		{method: "GET", path: "/v1/jobs/{id}", allowed: people, h: s.getJob, id: "getJob",
			summary: "A job: state, placement, and why it waits.", out: okBody(store.Job{})},
		{method: "DELETE", path: "/v1/jobs/{id}", allowed: people, h: s.cancelJob, id: "cancelJob",
			summary: "Cancel a job (a cancelled job again: no change; one that ended otherwise: 409).", out: okBody(store.Job{}), errs: []int{409}},
		{method: "POST", path: "/v1/jobs/{id}/hold", allowed: people, h: s.holdJob, id: "holdJob",
			summary: "Hold a pending job: it leaves the queue until released (a job submitted with hold: true starts held).", out: okBody(store.Job{}), errs: []int{409}},
		{method: "POST", path: "/v1/jobs/{id}/release", allowed: people, h: s.releaseJob, id: "releaseJob",
			summary: "Release a held job: it goes back to the queue.", out: okBody(store.Job{}), errs: []int{409}},
		{method: "POST", path: "/v1/jobs/{id}/requeue", allowed: people, h: s.requeueJob, id: "requeueJob",
			summary: "Requeue a running job: its processes are stopped and it starts again after the backoff.", out: okBody(store.Job{}), errs: []int{409}},
		{method: "GET", path: "/v1/jobs/{id}/events", allowed: people, h: s.jobEvents, id: "listJobEvents",
			summary: "A job's events, oldest first.", out: okBody(jobEventList{})},
		{method: "GET", path: "/v1/jobs/{id}/logs", allowed: people, h: s.jobLogs, id: "getJobLogs",
			summary: "A job's output (stdout and stderr of its processes) on every node, a page at a time.",
			params:  []param{qLogNode, qLogAfter, qLogLimit}, out: okBody(JobLogs{})},
		{method: "GET", path: "/v1/accounting", allowed: people, h: s.accounting, id: "getAccounting",
			summary: "What jobs cost: elapsed time, accelerator-hours, energy (IT and facility), cost and emissions at the site's hourly mix, energy lost to cut attempts; per job (newest first, a page at a time) or summed by tenant, site or day.",
			params:  []param{qTenant, qAcctStates, qSince, qUntil, qBy, qJobLimit, qJobAfter}, out: okBody(Accounting{})},
		{method: "GET", path: "/v1/events", allowed: operators, h: s.listEvents, id: "listEvents",
			summary: "The journal: placements, preemptions, caps, lost nodes, cancels; a page at a time after a sequence number, or the newest N (oldest first).",
			params:  []param{qEventAfter, qEventLimit, qLast, qEventJob}, out: okBody(EventList{})},
		{method: "POST", path: "/v1/nodes", allowed: joiners, h: s.registerNode, id: "registerNode",
			summary: "Register a node of the fleet (agents, with a join token); answers the node's own credential.",
			in:      NodeRegistration{}, out: okBody(NodeRegistered{})},
		{method: "GET", path: "/v1/nodes", allowed: people, h: s.listNodes, id: "listNodes",
			summary: "Registered nodes.", out: okBody(NodeList{})},
		{method: "GET", path: "/v1/nodes/{name}", allowed: people, h: s.getNode, id: "getNode",
			summary: "A node with its latest telemetry: per-accelerator power, utilization, memory, temperature, caps.", out: okBody(NodeDetail{})},
		{method: "POST", path: "/v1/nodes/{name}/heartbeat", allowed: nodeSpeakers, h: s.heartbeat, id: "sendHeartbeat",
			summary: "Heartbeat with the node's credential: draw, telemetry, finished jobs, cap acknowledgements; answers the node's jobs. The name's slashes are escaped (%2F).",
			in:      Heartbeat{}, optional: true, out: okBody(HeartbeatReply{}), errs: []int{503}},
		{method: "POST", path: "/v1/nodes/{name}/logs", allowed: nodeSpeakers, h: s.uploadLogs, id: "uploadLogs",
			summary: "Ship the output of the node's job processes (the node's credential).", in: LogUpload{}, out: okBody(LogStored{})},
		{method: "POST", path: "/v1/nodes/{name}/drain", allowed: operators, h: s.drainNode, id: "drainNode",
			summary: "Drain a node: it keeps its jobs and takes no new work, also after being lost and registering again.", out: okBody(store.Node{}), errs: []int{409}},
		{method: "POST", path: "/v1/nodes/{name}/undrain", allowed: operators, h: s.undrainNode, id: "undrainNode",
			summary: "Undrain a node: it takes new work again (a lost one once it is heard from).", out: okBody(store.Node{}), errs: []int{409}},
		{method: "GET", path: "/v1/fleet", allowed: people, h: s.fleetReport, id: "getFleet",
			summary: "Every site now: draw against the substation, accelerators busy, energy mix, carbon intensity, price, cost and emissions per hour, and the last hour of draw.", out: okBody(FleetReport{})},
		{method: "GET", path: "/v1/tenants", allowed: people, h: s.listTenants, id: "listTenants",
			summary: "Tenants: fair-share weight, quota, accelerators held and jobs by state (users: their own tenant).", out: okBody(TenantList{})},
		{method: "POST", path: "/v1/tenants", allowed: adminOnly, h: s.createTenant, id: "createTenant",
			summary: "Create a tenant: {name, weight (default 1), quota (accelerators, 0: none)}; the next scheduling pass honours it.",
			in:      TenantRequest{}, out: []answer{{status: http.StatusCreated, body: store.Tenant{}, desc: "created"}}, errs: []int{409}},
		{method: "PUT", path: "/v1/tenants/{name}", allowed: adminOnly, h: s.setTenant, id: "setTenant",
			summary: "Change a tenant's weight or quota (fields left out keep their value).", in: TenantRequest{}, out: okBody(store.Tenant{})},
		{method: "DELETE", path: "/v1/tenants/{name}", allowed: adminOnly, h: s.deleteTenant, id: "deleteTenant",
			summary: "Delete a tenant: its jobs stay, with weight 1 and no quota.", out: []answer{{status: http.StatusNoContent, desc: "deleted"}}},
		{method: "POST", path: "/v1/grid-events", allowed: gridders, h: s.createGridEvent, id: "createGridEvent",
			summary: "Post a grid event: cut a site's or region's draw to a target (MW at the facility, or a share of its draw at the start) from a start, for a duration; mandatory or voluntary.",
			in:      GridEventRequest{}, out: []answer{{status: http.StatusCreated, body: store.GridEvent{}, desc: "created"}}},
		{method: "GET", path: "/v1/grid-events", allowed: gridders, h: s.listGridEvents, id: "listGridEvents",
			summary: "Grid events, by start.", params: []param{qGridStates}, out: okBody(GridEventList{})},
		{method: "GET", path: "/v1/grid-events/{id}", allowed: gridders, h: s.getGridEvent, id: "getGridEvent",
			summary: "A grid event: its state, and the scope's draw at its start.", out: okBody(store.GridEvent{})},
		{method: "DELETE", path: "/v1/grid-events/{id}", allowed: gridders, h: s.cancelGridEvent, id: "cancelGridEvent",
			summary: "Cancel a grid event: its shed lifts.", out: okBody(store.GridEvent{})},
		{method: "GET", path: "/v1/stream", allowed: people, h: s.stream, id: "streamEvents",
			summary: "Server-sent events (text/event-stream): a 'tick' every 2 s with the job counts the caller may see, and (operators) each new 'journal' event.",
			out: []answer{{status: http.StatusOK, media: "text/event-stream", desc: streamDesc,
				events: map[string]any{"tick": StreamTick{}, "journal": store.Event{}}}}},
		{method: "GET", path: "/v1/power", allowed: people, h: s.power, id: "getPower",
			summary: "Draw vs limit at every level of the power tree, per site, down to a depth.", params: []param{qDepth, qSite}, out: okBody(PowerReport{})},
		{method: "POST", path: "/v1/tokens", allowed: adminOnly, h: s.createToken, id: "createToken",
			summary: "Mint a token: role admin, operator, user (with tenant) or agent (join token).", in: TokenRequest{},
			out: []answer{{status: http.StatusCreated, body: TokenCreated{}, desc: "minted: the only answer that shows the secret"}}},
		{method: "GET", path: "/v1/tokens", allowed: adminOnly, h: s.listTokens, id: "listTokens",
			summary: "List tokens (never their secrets).", out: okBody(tokenList{})},
		{method: "DELETE", path: "/v1/tokens/{id}", allowed: adminOnly, h: s.revokeToken, id: "revokeToken",
			summary: "Revoke a token (other replicas may accept it for up to a minute more).", out: okBody(tokenRevoked{}), errs: []int{409}},
		{method: "GET", path: "/v1/status", allowed: anyRole, h: s.status, id: "getStatus",
			summary: "This replica: leader or not, and the caller's role.", out: okBody(Status{})},
		{method: "GET", path: "/v1/openapi.json", allowed: anyRole, h: s.openapi, id: "getOpenAPI",
			summary: "This document.", out: okBody(map[string]any{})},
	}
}

// public are the routes that need no token.
func (s *Server) public() []route {
	return []route{
		{method: "GET", path: "/healthz", raw: s.healthz, id: "getHealth",
			summary: "Liveness: the process serves, and whether it leads; no token needed.", out: okBody(health{})},
		{method: "POST", path: "/v1/session", raw: s.createSession, id: "createSession",
			summary: "Sign in to the console: exchange an API token (admin, operator or user) for an HttpOnly, SameSite=Strict session cookie, " +
				"which then authorizes /v1 requests as the token would. GET /?login=TOKEN does the same and redirects to /.",
			in: SessionRequest{}, out: []answer{{status: http.StatusOK, body: Status{}, desc: "signed in: the caller's role and tenant, as GET /v1/status", headers: []string{"Set-Cookie"}}},
			errs: []int{400, 401, 403, 413, 415, 429}},
		{method: "DELETE", path: "/v1/session", raw: s.deleteSession, id: "deleteSession",
			summary: "Sign out of the console: the session ends.", out: []answer{{status: http.StatusNoContent, desc: "signed out", headers: []string{"Set-Cookie"}}},
			errs: []int{403}},
	}
}

// routes builds the HTTP handler from the table.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.public() {
		mux.Handle(rt.method+" "+rt.path, s.observe(rt.raw))
	}
	for _, rt := range s.table() {
		s.handle(mux, rt.method+" "+rt.path, rt.allowed, rt.h)
	}
	mux.Handle("GET /{$}", s.observe(http.HandlerFunc(s.consoleIndex)))
	mux.Handle("GET /console/{file}", s.observe(http.HandlerFunc(s.consoleFile)))
	prom := promhttp.HandlerFor(s.metrics.gatherer(), promhttp.HandlerOpts{})
	if s.cfg.MetricsPublic {
		mux.Handle("GET /metrics", s.observe(prom))
	} else {
		s.handle(mux, "GET /metrics", operators, func(w http.ResponseWriter, r *http.Request, _ store.Token) error {
			prom.ServeHTTP(w, r)
			return nil
		})
	}
	// A path that exists under other methods is a 405 with Allow; any
	// other is a 404.
	paths := http.NewServeMux()
	allow := map[string][]string{}
	for _, rt := range s.table() {
		if allow[rt.path] == nil {
			paths.Handle(rt.path, http.NotFoundHandler())
		}
		allow[rt.path] = append(allow[rt.path], rt.method)
	}
	mux.Handle("/", s.observe(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := paths.Handler(r); pattern != "" {
			w.Header().Set("Allow", strings.Join(allow[pattern], ", "))
			writeJSON(w, http.StatusMethodNotAllowed, ErrorBody{Error: r.Method + " is not allowed on " + r.URL.Path + " (allowed: " + strings.Join(allow[pattern], ", ") + ")"})
			return
		}
		writeJSON(w, http.StatusNotFound, ErrorBody{Error: "no such endpoint: " + r.Method + " " + r.URL.Path})
	})))
	return mux
}

// handle registers an authenticated route open to a set of roles.
func (s *Server) handle(mux *http.ServeMux, pattern string, allowed roles, h handlerFunc) {
	mux.Handle(pattern, s.observe(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := s.authenticate(r)
		if err == nil && !allowed.allow(tok.Role) {
			err = errorf(http.StatusForbidden, "role %s may not %s %s", tok.Role, r.Method, r.URL.Path)
		}
		if err == nil {
			err = checkURLText(r)
		}
		if err == nil {
			err = h(w, r, tok)
		}
		if err != nil {
			status, body := statusOf(err)
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="stargate"`)
			}
			var ae *apiError
			if errors.As(err, &ae) && ae.retryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(ae.retryAfter))
			} else if status == http.StatusInsufficientStorage {
				w.Header().Set("Retry-After", strconv.Itoa(noSpaceRetry))
			}
			if status >= 500 {
				s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			writeJSON(w, status, body)
		}
	})))
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (flushes and
// deadlines of the event stream).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// observe records every request's latency by route and status.
func (s *Server) observe(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now() // a latency measurement, not logic
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "/" {
			route = "other"
		}
		s.metrics.apiLatency.WithLabelValues(route, strconv.Itoa(sw.status)).Observe(time.Since(start).Seconds())
	})
}

// healthz is public: it says the process serves, and whether it leads.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "leader": s.IsLeader()})
}

func (s *Server) status(w http.ResponseWriter, r *http.Request, tok store.Token) error {
	writeJSON(w, http.StatusOK, Status{ID: s.cfg.ID, Leader: s.IsLeader(), Epoch: s.epoch.Load(), Role: string(tok.Role),
		Tenant: tok.Tenant, Nodes: len(s.fleet.Nodes), Accels: s.fleet.Accelerators})
	return nil
}

// checkURLText refuses a path or query value that no store keeps as
// text (a NUL, or invalid UTF-8): a 400 here, rather than a 500 from
// PostgreSQL or an altered name on SQLite.
func checkURLText(r *http.Request) error {
	bad := func(s string) bool { return !utf8.ValidString(s) || strings.ContainsRune(s, 0) }
	if bad(r.URL.Path) {
		return errorf(http.StatusBadRequest, "the path must be valid UTF-8 without NUL characters")
	}
	for k, vs := range r.URL.Query() {
		for _, v := range vs {
			if bad(k) || bad(v) {
				return badRequest([]Problem{{Field: strings.ToValidUTF8(k, "?"), Message: "must be valid UTF-8 without NUL characters"}})
			}
		}
	}
	return nil
}

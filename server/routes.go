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
// matrix, and the OpenAPI document is generated from it.
type route struct {
	method, path string
	allowed      roles
	h            handlerFunc
	summary      string
}

func (s *Server) table() []route {
	return []route{
		{"POST", "/v1/jobs", people, s.submitJob, "Submit a job (JSON or YAML spec; Idempotency-Key header). 201 once committed; a spec with array answers its elements, committed together."},
		{"GET", "/v1/jobs", people, s.listJobs, "List jobs: ?state=pending,running&tenant=T&array=ID&limit=N&after=CURSOR&order=oldest|newest."},
		{"GET", "/v1/jobs/{id}", people, s.getJob, "A job: state, placement, and why it waits."},
		{"DELETE", "/v1/jobs/{id}", people, s.cancelJob, "Cancel a job."},
		{"POST", "/v1/jobs/{id}/hold", people, s.holdJob, "Hold a pending job: it leaves the queue until released (a job submitted with hold: true starts held)."},
		{"POST", "/v1/jobs/{id}/release", people, s.releaseJob, "Release a held job: it goes back to the queue."},
		{"POST", "/v1/jobs/{id}/requeue", people, s.requeueJob, "Requeue a running job: its processes are stopped and it starts again after the backoff."},
		{"GET", "/v1/jobs/{id}/events", people, s.jobEvents, "A job's events."},
		{"GET", "/v1/jobs/{id}/logs", people, s.jobLogs, "A job's output (stdout and stderr of its processes) on every node: ?node=N&after=CURSOR&limit=N."},
		{"GET", "/v1/accounting", people, s.accounting, "What jobs cost: elapsed time, accelerator-hours, energy (IT and facility), cost and emissions at the site's hourly mix, energy lost to cut attempts: ?tenant=T&state=S&since=T&until=T&by=job|tenant|site|day&limit=N&after=CURSOR."},
		{"GET", "/v1/events", operators, s.listEvents, "The journal: placements, preemptions, caps, lost nodes, cancels: ?after=SEQ&limit=N&job=ID, or ?last=N for the newest N (oldest first)."},
		{"POST", "/v1/nodes", joiners, s.registerNode, "Register a node of the fleet (agents, with a join token); answers the node's own credential."},
		{"GET", "/v1/nodes", people, s.listNodes, "Registered nodes."},
		{"GET", "/v1/nodes/{name}", people, s.getNode, "A node with its latest telemetry: per-accelerator power, utilization, memory, temperature, caps."},
		{"POST", "/v1/nodes/{name}/heartbeat", nodeSpeakers, s.heartbeat, "Heartbeat with the node's credential: draw, telemetry, finished jobs, cap acknowledgements; answers the node's jobs. The name's slashes are escaped (%2F)."},
		{"POST", "/v1/nodes/{name}/logs", nodeSpeakers, s.uploadLogs, "Ship the output of the node's job processes (the node's credential)."},
		{"POST", "/v1/nodes/{name}/drain", operators, s.drainNode, "Drain a node: it keeps its jobs and takes no new work, also after being lost and registering again."},
		{"POST", "/v1/nodes/{name}/undrain", operators, s.undrainNode, "Undrain a node: it takes new work again (a lost one once it is heard from)."},
		{"GET", "/v1/fleet", people, s.fleetReport, "Every site now: draw against the substation, accelerators busy, energy mix, carbon intensity, price, cost and emissions per hour, and the last hour of draw."},
		{"GET", "/v1/tenants", people, s.listTenants, "Tenants: fair-share weight, quota, accelerators held and jobs by state (users: their own tenant)."},
		{"POST", "/v1/tenants", adminOnly, s.createTenant, "Create a tenant: {name, weight (default 1), quota (accelerators, 0: none)}; the next scheduling pass honours it."},
		{"PUT", "/v1/tenants/{name}", adminOnly, s.setTenant, "Change a tenant's weight or quota (fields left out keep their value)."},
		{"DELETE", "/v1/tenants/{name}", adminOnly, s.deleteTenant, "Delete a tenant: its jobs stay, with weight 1 and no quota."},
		{"GET", "/v1/stream", people, s.stream, "Server-sent events (text/event-stream): a 'tick' every 2 s with the job counts the caller may see, and (operators) each new 'journal' event."},
		{"GET", "/v1/power", people, s.power, "Draw vs limit at every level of the power tree, per site: ?depth=site|hall|row|rack&site=S."},
		{"POST", "/v1/tokens", adminOnly, s.createToken, "Mint a token: role admin, operator, user (with tenant) or agent (join token)."},
		{"GET", "/v1/tokens", adminOnly, s.listTokens, "List tokens (never their secrets)."},
		{"DELETE", "/v1/tokens/{id}", adminOnly, s.revokeToken, "Revoke a token (other replicas may accept it for up to a minute more)."},
		{"GET", "/v1/status", anyRole, s.status, "This replica: leader or not, and the caller's role."},
		{"GET", "/v1/openapi.json", anyRole, s.openapi, "This document."},
	}
}

// routes builds the HTTP handler from the table.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", s.observe(http.HandlerFunc(s.healthz)))
	for _, rt := range s.table() {
		s.handle(mux, rt.method+" "+rt.path, rt.allowed, rt.h)
	}
	mux.Handle("POST /v1/session", s.observe(http.HandlerFunc(s.createSession)))
	mux.Handle("DELETE /v1/session", s.observe(http.HandlerFunc(s.deleteSession)))
	mux.Handle("GET /{$}", s.observe(http.HandlerFunc(s.consoleIndex)))
	mux.Handle("GET /console/{file}", s.observe(http.HandlerFunc(s.consoleFile)))
	prom := promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})
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

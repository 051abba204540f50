// Package client is the Go client of the Stargate control plane's HTTP
// API, used by the stargate client commands, the API benchmark and the
// end-to-end tests.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"stargate/api"
)

// Client talks to one server with one token.
type Client struct {
	// Base is the server's URL, "http://127.0.0.1:7070".
	Base  string
	Token string
	HTTP  *http.Client
}

// New returns a client for a server URL (a bare host:port means http).
func New(base, token string) *Client {
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 1024
	tr.MaxIdleConnsPerHost = 1024
	return &Client{Base: strings.TrimRight(base, "/"), Token: token, HTTP: &http.Client{Transport: tr, Timeout: time.Minute}}
}

// Error is an error answer of the API.
type Error struct {
	Status int
	api.ErrorBody
}

// Error formats the status, the message and every problem.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s: %s", e.Status, http.StatusText(e.Status), e.ErrorBody.Error)
	if len(e.Problems) > 1 || (len(e.Problems) == 1 && e.Problems[0].String() != e.ErrorBody.Error) {
		for _, p := range e.Problems {
			b.WriteString("\n  " + p.String())
		}
	}
	return b.String()
}

// do sends a request and decodes a JSON answer into out (when not nil).
func (c *Client) do(ctx context.Context, method, path string, body []byte, header http.Header, out any) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode >= 300 {
		e := &Error{Status: res.StatusCode}
		if json.Unmarshal(data, &e.ErrorBody) != nil || e.ErrorBody.Error == "" {
			e.ErrorBody.Error = strings.TrimSpace(string(data))
		}
		return res.Header, e
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return res.Header, fmt.Errorf("client: decode %s %s: %w", method, path, err)
		}
	}
	return res.Header, nil
}

func jsonBody(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// Submit sends a job spec (JSON or YAML, as contentType says) with an
// optional idempotency key. replayed is true when the server answered
// with the job of an earlier submit with the same key.
func (c *Client) Submit(ctx context.Context, spec []byte, contentType, key string) (job api.Job, replayed bool, err error) {
	jobs, replayed, err := c.SubmitAll(ctx, spec, contentType, key)
	if len(jobs) > 0 {
		job = jobs[0]
	}
	return job, replayed, err
}

// SubmitAll submits a spec as Submit does and returns every job it made:
// the one job, or the elements of an array (a spec with array).
func (c *Client) SubmitAll(ctx context.Context, spec []byte, contentType, key string) (jobs []api.Job, replayed bool, err error) {
	h := http.Header{}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	if key != "" {
		h.Set(api.IdempotencyHeader, key)
	}
	// one job, or an array's answer: both decode here
	var out struct {
		api.Job
		Jobs []api.Job `json:"jobs"`
	}
	hdr, err := c.do(ctx, "POST", "/v1/jobs", spec, h, &out)
	jobs = out.Jobs
	if jobs == nil && out.ID != "" {
		jobs = []api.Job{out.Job}
	}
	return jobs, hdr.Get(api.ReplayedHeader) == "true", err
}

// SubmitSpec submits a spec value.
func (c *Client) SubmitSpec(ctx context.Context, spec api.JobSpec, key string) (api.Job, error) {
	j, _, err := c.Submit(ctx, jsonBody(spec), "application/json", key)
	return j, err
}

// Job returns one job.
func (c *Client) Job(ctx context.Context, id string) (api.Job, error) {
	var j api.Job
	_, err := c.do(ctx, "GET", api.JobPath(id), nil, nil, &j)
	return j, err
}

// JobEvents returns a job's events.
func (c *Client) JobEvents(ctx context.Context, id string) ([]api.Event, error) {
	var out struct{ Events []api.Event }
	_, err := c.do(ctx, "GET", api.JobPath(id)+"/events", nil, nil, &out)
	return out.Events, err
}

// Events returns a page of the journal after a sequence number (job: only
// that job's events).
func (c *Client) Events(ctx context.Context, after int64, limit int, job string) (api.EventList, error) {
	v := url.Values{}
	v.Set("after", fmt.Sprint(after))
	if limit > 0 {
		v.Set("limit", fmt.Sprint(limit))
	}
	if job != "" {
		v.Set("job", job)
	}
	var out api.EventList
	_, err := c.do(ctx, "GET", "/v1/events?"+v.Encode(), nil, nil, &out)
	return out, err
}

// JobQuery selects jobs for Jobs.
type JobQuery struct {
	States []string
	Tenant string
	Array  string // the elements of this array
	After  string
	Limit  int
}

// Jobs returns one page of jobs.
func (c *Client) Jobs(ctx context.Context, q JobQuery) (api.JobList, error) {
	v := url.Values{}
	if len(q.States) > 0 {
		v.Set("state", strings.Join(q.States, ","))
	}
	if q.Tenant != "" {
		v.Set("tenant", q.Tenant)
	}
	if q.Array != "" {
		v.Set("array", q.Array)
	}
	if q.After != "" {
		v.Set("after", q.After)
	}
	if q.Limit > 0 {
		v.Set("limit", fmt.Sprint(q.Limit))
	}
	path := "/v1/jobs"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	var out api.JobList
	_, err := c.do(ctx, "GET", path, nil, nil, &out)
	return out, err
}

// Cancel cancels a job and returns it.
func (c *Client) Cancel(ctx context.Context, id string) (api.Job, error) {
	var j api.Job
	_, err := c.do(ctx, "DELETE", api.JobPath(id), nil, nil, &j)
	return j, err
}

// Requeue stops a running job and puts it back in the queue.
func (c *Client) Requeue(ctx context.Context, id string) (api.Job, error) {
	var j api.Job
	_, err := c.do(ctx, "POST", api.JobPath(id)+"/requeue", nil, nil, &j)
	return j, err
}

// Register registers a node (with a join token) and returns it with the
// credential that speaks for it alone.
func (c *Client) Register(ctx context.Context, reg api.NodeRegistration) (api.NodeRegistered, error) {
	var out api.NodeRegistered
	_, err := c.do(ctx, "POST", "/v1/nodes", jsonBody(reg), nil, &out)
	return out, err
}

// Node returns one node with its latest telemetry.
func (c *Client) Node(ctx context.Context, name string) (api.NodeDetail, error) {
	var out api.NodeDetail
	_, err := c.do(ctx, "GET", api.NodePath(name), nil, nil, &out)
	return out, err
}

// UploadLogs ships pieces of a node's job output (with the node's
// credential); the answer says which pieces were refused for good.
func (c *Client) UploadLogs(ctx context.Context, node string, up api.LogUpload) (api.LogStored, error) {
	var out api.LogStored
	_, err := c.do(ctx, "POST", api.NodePath(node)+"/logs", jsonBody(up), nil, &out)
	return out, err
}

// Logs reads a job's output after a cursor (0: from the start), on one
// node or all (""), at most limit chunks (0: the server's default).
func (c *Client) Logs(ctx context.Context, job, node string, after int64, limit int) (api.JobLogs, error) {
	v := url.Values{}
	if node != "" {
		v.Set("node", node)
	}
	if after > 0 {
		v.Set("after", fmt.Sprint(after))
	}
	if limit > 0 {
		v.Set("limit", fmt.Sprint(limit))
	}
	path := api.JobPath(job) + "/logs"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	var out api.JobLogs
	_, err := c.do(ctx, "GET", path, nil, nil, &out)
	return out, err
}

// Heartbeat reports a node alive, with its draw and finished jobs when
// given; the reply lists the jobs the node should run.
func (c *Client) Heartbeat(ctx context.Context, name string, hb api.Heartbeat) (api.HeartbeatReply, error) {
	var out api.HeartbeatReply
	_, err := c.do(ctx, "POST", api.NodePath(name)+"/heartbeat", jsonBody(hb), nil, &out)
	return out, err
}

// Nodes lists the registered nodes.
func (c *Client) Nodes(ctx context.Context) (api.NodeList, error) {
	var out api.NodeList
	_, err := c.do(ctx, "GET", "/v1/nodes", nil, nil, &out)
	return out, err
}

// Drain drains a node: it takes no new work, also after being lost and
// registering again, until Undrain.
func (c *Client) Drain(ctx context.Context, name string) (api.Node, error) {
	var n api.Node
	_, err := c.do(ctx, "POST", api.NodePath(name)+"/drain", nil, nil, &n)
	return n, err
}

// Undrain returns a drained node to service.
func (c *Client) Undrain(ctx context.Context, name string) (api.Node, error) {
	var n api.Node
	_, err := c.do(ctx, "POST", api.NodePath(name)+"/undrain", nil, nil, &n)
	return n, err
}

// Power returns the power tree down to depth (site, hall, row, rack; ""
// for the server's default), for one site or all ("").
func (c *Client) Power(ctx context.Context, depth, site string) (api.PowerReport, error) {
	v := url.Values{}
	if depth != "" {
		v.Set("depth", depth)
	}
	if site != "" {
		v.Set("site", site)
	}
	path := "/v1/power"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	var out api.PowerReport
	_, err := c.do(ctx, "GET", path, nil, nil, &out)
	return out, err
}

// CreateToken mints a token (admin only).
func (c *Client) CreateToken(ctx context.Context, req api.TokenRequest) (api.TokenCreated, error) {
	var out api.TokenCreated
	_, err := c.do(ctx, "POST", "/v1/tokens", jsonBody(req), nil, &out)
	return out, err
}

// Status returns the server's status as seen with this token.
func (c *Client) Status(ctx context.Context) (api.Status, error) {
	var out api.Status
	_, err := c.do(ctx, "GET", "/v1/status", nil, nil, &out)
	return out, err
}

// Healthz returns whether the server answers and whether it leads.
func (c *Client) Healthz(ctx context.Context) (leader bool, err error) {
	var out struct{ Leader bool }
	_, err = c.do(ctx, "GET", "/healthz", nil, nil, &out)
	return out.Leader, err
}

// RevokeToken revokes a token by ID (admin only).
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	_, err := c.do(ctx, "DELETE", "/v1/tokens/"+url.PathEscape(id), nil, nil, nil)
	return err
}

// Tokens lists the tokens (admin only; never their secrets).
func (c *Client) Tokens(ctx context.Context) ([]api.Token, error) {
	var out struct{ Tokens []api.Token }
	_, err := c.do(ctx, "GET", "/v1/tokens", nil, nil, &out)
	return out.Tokens, err
}

// Tenants lists the tenants with their weights, quotas and usage (a user
// sees its own tenant).
func (c *Client) Tenants(ctx context.Context) (api.TenantList, error) {
	var out api.TenantList
	_, err := c.do(ctx, "GET", "/v1/tenants", nil, nil, &out)
	return out, err
}

// CreateTenant creates a tenant (admin only).
func (c *Client) CreateTenant(ctx context.Context, req api.TenantRequest) (api.Tenant, error) {
	var out api.Tenant
	_, err := c.do(ctx, "POST", "/v1/tenants", jsonBody(req), nil, &out)
	return out, err
}

// SetTenant changes a tenant's weight or quota (admin only); a nil field
// keeps its value.
func (c *Client) SetTenant(ctx context.Context, name string, req api.TenantRequest) (api.Tenant, error) {
	var out api.Tenant
	_, err := c.do(ctx, "PUT", "/v1/tenants/"+url.PathEscape(name), jsonBody(req), nil, &out)
	return out, err
}

// DeleteTenant deletes a tenant (admin only); its jobs stay.
func (c *Client) DeleteTenant(ctx context.Context, name string) error {
	_, err := c.do(ctx, "DELETE", "/v1/tenants/"+url.PathEscape(name), nil, nil, nil)
	return err
}

// Hold holds a pending job: it leaves the queue until released.
func (c *Client) Hold(ctx context.Context, id string) (api.Job, error) {
	var out api.Job
	_, err := c.do(ctx, "POST", api.JobPath(id)+"/hold", nil, nil, &out)
	return out, err
}

// Release releases a held job back to the queue.
func (c *Client) Release(ctx context.Context, id string) (api.Job, error) {
	var out api.Job
	_, err := c.do(ctx, "POST", api.JobPath(id)+"/release", nil, nil, &out)
	return out, err
}

// DryRun asks what would happen to a spec if it were submitted now; nothing
// is stored.
func (c *Client) DryRun(ctx context.Context, spec []byte, contentType string) (api.DryRun, error) {
	h := http.Header{}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	var out api.DryRun
	_, err := c.do(ctx, "POST", "/v1/jobs?dry_run=true", spec, h, &out)
	return out, err
}

// AccountingQuery filters GET /v1/accounting.
type AccountingQuery struct {
	Tenant       string
	States       []string
	Since, Until string // RFC 3339 times or dates
	By           string // job (default), tenant, site or day
	Limit        int
	After        string
}

// Accounting returns what jobs cost: energy, cost, emissions.
func (c *Client) Accounting(ctx context.Context, q AccountingQuery) (api.Accounting, error) {
	v := url.Values{}
	for k, s := range map[string]string{"tenant": q.Tenant, "since": q.Since, "until": q.Until, "by": q.By, "after": q.After} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if len(q.States) > 0 {
		v.Set("state", strings.Join(q.States, ","))
	}
	if q.Limit > 0 {
		v.Set("limit", fmt.Sprint(q.Limit))
	}
	path := "/v1/accounting"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	var out api.Accounting
	_, err := c.do(ctx, "GET", path, nil, nil, &out)
	return out, err
}

// CreateGridEvent posts a grid event (admins, operators, grid tokens).
func (c *Client) CreateGridEvent(ctx context.Context, req api.GridEventRequest) (api.GridEvent, error) {
	var out api.GridEvent
	_, err := c.do(ctx, "POST", "/v1/grid-events", jsonBody(req), nil, &out)
	return out, err
}

// GridEvents lists grid events, in these states (none: all).
func (c *Client) GridEvents(ctx context.Context, states ...string) ([]api.GridEvent, error) {
	path := "/v1/grid-events"
	if len(states) > 0 {
		path += "?state=" + url.QueryEscape(strings.Join(states, ","))
	}
	var out api.GridEventList
	_, err := c.do(ctx, "GET", path, nil, nil, &out)
	return out.Events, err
}

// CancelGridEvent cancels a grid event: its shed lifts.
func (c *Client) CancelGridEvent(ctx context.Context, id string) (api.GridEvent, error) {
	var out api.GridEvent
	_, err := c.do(ctx, "DELETE", "/v1/grid-events/"+url.PathEscape(id), nil, nil, &out)
	return out, err
}

package server

import (
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"stargate/store"
)

var pathParam = regexp.MustCompile(`\{(\w+)\}`)

// pathParamDocs describe the path parameters, by the path up to them.
var pathParamDocs = map[string]string{
	"/v1/jobs/{id}":        "The job's ID.",
	"/v1/nodes/{name}":     "The node's name in the fleet, site/hall/row/rack/nN, its slashes escaped (%2F).",
	"/v1/tenants/{name}":   "The tenant's name.",
	"/v1/grid-events/{id}": "The grid event's ID.",
	"/v1/tokens/{id}":      "The token's ID.",
}

// OpenAPI returns the API's OpenAPI 3.1 document, generated from the route
// tables (routes.go) and, by reflection, from the wire types of package
// api, so that it cannot drift from what is served.
func (s *Server) OpenAPI() map[string]any { return s.document(newSchemaSet()) }

// document builds the OpenAPI document, its schemas made by g.
func (s *Server) document(g *schemaSet) map[string]any {
	routes := append(s.public(), s.table()...)
	for _, rt := range routes {
		if rt.in != nil {
			g.close(reflect.TypeOf(rt.in))
		}
	}
	errRef := g.of(reflect.TypeFor[ErrorBody]())
	paths := map[string]any{}
	tags := map[string]bool{}
	for _, rt := range routes {
		item, _ := paths[rt.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.path] = item
		}
		op := operation(g, rt)
		tags[op["tags"].([]string)[0]] = true
		item[strings.ToLower(rt.method)] = op
	}
	var tagList []any
	for _, t := range sortedKeys(tags) {
		tagList = append(tagList, map[string]any{"name": t})
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "Stargate control plane",
			"version":     "v1",
			"description": apiDescription,
			"license":     map[string]any{"name": "Apache-2.0", "identifier": "Apache-2.0"},
		},
		"tags":  tagList,
		"paths": paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer",
					"description": "An API token (sgt_...): minted by an admin (POST /v1/tokens, 'stargate token create'), or a node's credential, answered by POST /v1/nodes."},
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": sessionCookie,
					"description": "The console's session, opened by POST /v1/session: it authorizes a same-origin request without an Authorization header as its token would."},
			},
			"responses": errorResponses(errRef),
			"schemas":   g.defs,
		},
	}
}

const apiDescription = "The HTTP API of Stargate, a control plane for power-bound AI datacenter fleets. " +
	"Every /v1 request but POST and DELETE /v1/session carries a token (Authorization: Bearer sgt_...) or the console's session cookie; " +
	"each token has a role (admin, operator, user bound to a tenant, agent for joining nodes, node for one node's credential), and each operation " +
	"names the roles it allows (x-stargate-roles). A user sees only its tenant's jobs: another tenant's job is a 404. " +
	"Bodies are JSON (job specs YAML too), decoded strictly: an unknown field is a 400, and a 400 lists every problem with the request."

// operation is the OpenAPI operation of a route.
func operation(g *schemaSet, rt route) map[string]any {
	tag, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(rt.path, "/v1"), "/"), "/")
	op := map[string]any{
		"operationId": rt.id,
		"summary":     shortSummary(rt.summary),
		"tags":        []string{strings.TrimSuffix(tag, ".json")},
	}
	var rs []string
	for _, r := range rt.allowed {
		rs = append(rs, string(r))
	}
	op["x-stargate-roles"] = append([]string{}, rs...)
	if rt.raw != nil {
		op["description"] = rt.summary + "\n\nNo token needed."
		op["security"] = []any{}
	} else {
		op["description"] = rt.summary + "\n\nRoles: " + strings.Join(rs, ", ") + "."
		op["security"] = []any{map[string]any{"bearer": []any{}}, map[string]any{"session": []any{}}}
	}
	var params []any
	for _, m := range pathParam.FindAllStringSubmatchIndex(rt.path, -1) {
		params = append(params, map[string]any{"name": rt.path[m[2]:m[3]], "in": "path", "required": true,
			"description": pathParamDocs[rt.path[:m[1]]], "schema": map[string]any{"type": "string"}})
	}
	for _, p := range rt.params {
		params = append(params, parameter(g, p))
	}
	if len(params) > 0 {
		op["parameters"] = params
	}
	if rt.in != nil {
		schema := g.of(reflect.TypeOf(rt.in))
		media := map[string]any{"schema": schema}
		if ex := requestExamples[rt.id]; ex != nil {
			media["examples"] = ex
		}
		content := map[string]any{"application/json": media}
		if _, spec := rt.in.(store.JobSpec); spec {
			content["application/yaml"] = map[string]any{"schema": schema}
		}
		op["requestBody"] = map[string]any{"required": !rt.optional, "content": content}
	}
	op["responses"] = responses(g, rt)
	return op
}

// parameter is the OpenAPI parameter of a query or header parameter.
func parameter(g *schemaSet, p param) map[string]any {
	in := p.in
	if in == "" {
		in = "query"
	}
	t := reflect.TypeOf(p.typ)
	schema := g.of(t)
	out := map[string]any{"name": p.name, "in": in, "description": p.desc}
	if t.Kind() == reflect.Slice {
		out["style"], out["explode"] = "form", false // state=pending,running
		if len(p.schema) > 0 {
			schema["items"] = merge(schema["items"].(map[string]any), p.schema)
		}
	} else {
		schema = merge(schema, p.schema)
	}
	out["schema"] = schema
	if p.example != "" {
		out["example"] = exampleValue(t, p.example)
	}
	return out
}

// exampleValue is a parameter's example as a value of its type.
func exampleValue(t reflect.Type, v string) any {
	switch t.Kind() {
	case reflect.Bool:
		b, _ := strconv.ParseBool(v)
		return b
	case reflect.Int, reflect.Int64:
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	case reflect.Slice:
		return strings.Split(v, ",")
	}
	return v
}

// responses are a route's answers: its success answers, by status, and
// the errors it may answer (see errorResponses).
func responses(g *schemaSet, rt route) map[string]any {
	out := map[string]any{}
	byStatus := map[int][]answer{}
	for _, a := range rt.out {
		byStatus[a.status] = append(byStatus[a.status], a)
	}
	for status, as := range byStatus {
		var descs, hdrs []string
		var schemas []any
		r := map[string]any{}
		media := ""
		for _, a := range as {
			if a.desc != "" {
				descs = append(descs, a.desc)
			}
			hdrs = append(hdrs, a.headers...)
			if a.body != nil {
				schemas = append(schemas, g.of(reflect.TypeOf(a.body)))
			}
			if a.media != "" {
				media = a.media
			}
			if a.events != nil {
				evs := map[string]any{}
				for name, v := range a.events {
					evs[name] = g.of(reflect.TypeOf(v))
				}
				r["x-stargate-events"] = evs
			}
		}
		if len(descs) == 0 {
			descs = []string{http.StatusText(status)}
		}
		r["description"] = strings.Join(descs, "; or ")
		switch {
		case media != "":
			r["content"] = map[string]any{media: map[string]any{"schema": map[string]any{"type": "string"}}}
		case len(schemas) == 1:
			r["content"] = map[string]any{"application/json": map[string]any{"schema": schemas[0]}}
		case len(schemas) > 1:
			r["content"] = map[string]any{"application/json": map[string]any{"schema": map[string]any{"oneOf": schemas}}}
		}
		if len(hdrs) > 0 {
			r["headers"] = headers(hdrs)
		}
		out[strconv.Itoa(status)] = r
	}
	for _, status := range errorStatuses(rt) {
		out[strconv.Itoa(status)] = map[string]any{"$ref": "#/components/responses/" + errorName(status)}
	}
	out["default"] = map[string]any{"$ref": "#/components/responses/Error"}
	return out
}

func headers(names []string) map[string]any {
	out := map[string]any{}
	for _, h := range names {
		schema := map[string]any{"type": "string"}
		if h == "Retry-After" {
			schema = map[string]any{"type": "integer"}
		}
		out[h] = map[string]any{"description": respHeaders[h], "schema": schema}
	}
	return out
}

// errorStatuses are the error statuses a route answers: for an
// authenticated one, a bad URL (400), no token (401) and a role that may
// not (403); 404 where the path names something; 413 and 415 where it
// reads a body; and those of its handler (route.errs).
func errorStatuses(rt route) []int {
	set := map[int]bool{}
	for _, e := range rt.errs {
		set[e] = true
	}
	if rt.raw == nil {
		set[400], set[401], set[403] = true, true, true
		if strings.Contains(rt.path, "{") {
			set[404] = true
		}
		if rt.in != nil {
			set[413], set[415] = true, true
		}
	}
	var out []int
	for e := range set {
		out = append(out, e)
	}
	sort.Ints(out)
	return out
}

// errorResponses are the error answers that operations refer to, by name.
func errorResponses(errRef map[string]any) map[string]any {
	out := map[string]any{"Error": map[string]any{"description": "Another error (500: the server failed; its log says why; 507: its store is out of disk space, nothing was written, retry after Retry-After).",
		"content": map[string]any{"application/json": map[string]any{"schema": errRef}}}}
	for status, doc := range errorDocs {
		r := map[string]any{"description": doc, "content": map[string]any{"application/json": map[string]any{"schema": errRef}}}
		switch status {
		case http.StatusUnauthorized:
			r["headers"] = headers([]string{"WWW-Authenticate"})
		case http.StatusTooManyRequests:
			r["headers"] = headers([]string{"Retry-After"})
		}
		out[errorName(status)] = r
	}
	return out
}

// errorName is the name of an error status's response: its text, as one
// word (NotFound).
func errorName(status int) string { return strings.ReplaceAll(http.StatusText(status), " ", "") }

// errorDocs say what each error status means in this API.
var errorDocs = map[int]string{
	400: "The request is invalid: the body lists every problem, each at a field.",
	401: "No token, or an unknown one.",
	403: "The token's role may not do this, or not to this (another tenant, another node).",
	404: "No such thing (another tenant's job is not found either).",
	409: "A conflict: the state does not allow it (a job that ended, a tenant that exists, the last admin token, an idempotency key used for another request), or a concurrent change won; retry.",
	413: "The body is too large.",
	415: "The body's content type is neither JSON nor YAML.",
	429: "Too many: a tenant's pending jobs, or console sessions, are at their bound; retry after Retry-After.",
	501: "This server's scheduler cannot answer dry runs.",
	503: "The server is shutting down; retry (a submit: with the same Idempotency-Key).",
}

// shortSummary is the head of a route's summary: up to its first colon,
// semicolon, period or parenthesis.
func shortSummary(s string) string {
	cut := len(s)
	for _, sep := range []string{": ", "; ", ". ", " ("} {
		if i := strings.Index(s, sep); i >= 0 && i < cut {
			cut = i
		}
	}
	return strings.TrimSuffix(s[:cut], ".")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request, _ store.Token) error {
	writeJSON(w, http.StatusOK, s.OpenAPI())
	return nil
}

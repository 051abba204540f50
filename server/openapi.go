package server

import (
	"net/http"
	"regexp"
	"strings"

	"stargate/store"
)

var pathParam = regexp.MustCompile(`\{(\w+)\}`)

// OpenAPI returns the API's OpenAPI 3 document, generated from the route
// table so that it cannot drift from what is served.
func (s *Server) OpenAPI() map[string]any {
	paths := map[string]any{}
	errResp := map[string]any{"description": "error", "content": map[string]any{"application/json": map[string]any{
		"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
	for _, rt := range s.table() {
		item, _ := paths[rt.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.path] = item
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(rt.path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		var rs []string
		for _, r := range rt.allowed {
			rs = append(rs, string(r))
		}
		op := map[string]any{
			"summary":     rt.summary,
			"description": "Roles: " + strings.Join(rs, ", ") + ".",
			"security":    []any{map[string]any{"bearer": []any{}}},
			"responses": map[string]any{
				"2XX": map[string]any{"description": "success (JSON)"},
				"4XX": errResp, "5XX": errResp,
			},
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if rt.method == "POST" && rt.path == "/v1/jobs" {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/JobSpec"}},
				"application/yaml": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/JobSpec"}},
			}}
		}
		item[strings.ToLower(rt.method)] = op
	}
	paths["/healthz"] = map[string]any{"get": map[string]any{"summary": "Liveness; no token needed.",
		"responses": map[string]any{"200": map[string]any{"description": "ok"}}}}
	if get, ok := paths["/v1/stream"].(map[string]any)["get"].(map[string]any); ok {
		get["responses"].(map[string]any)["200"] = map[string]any{
			"description": "A server-sent event stream that does not end: 'event: tick' every 2 s with data {\"at\": time, \"jobs\": {state: count}} " +
				"(the jobs the caller may see), and, for operators and admins, 'event: journal' with each new event of the journal as GET /v1/events gives it.",
			"content": map[string]any{"text/event-stream": map[string]any{"schema": map[string]any{"type": "string"}}}}
	}
	session := map[string]any{
		"post": map[string]any{"summary": "Sign in to the console: exchange an API token (admin, operator or user) for an HttpOnly, SameSite=Strict session cookie, " +
			"which then authorizes /v1 requests as the token would. GET /?login=TOKEN does the same and redirects to /.",
			"requestBody": map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{
				"type": "object", "required": []string{"token"}, "properties": map[string]any{"token": map[string]any{"type": "string"}}}}}},
			"responses": map[string]any{"200": map[string]any{"description": "signed in: the caller's role and tenant, as GET /v1/status; Set-Cookie: stargate_session"},
				"4XX": errResp}},
		"delete": map[string]any{"summary": "Sign out of the console: the session ends.",
			"responses": map[string]any{"204": map[string]any{"description": "signed out"}}},
	}
	paths["/v1/session"] = session
	return map[string]any{
		"openapi": "3.0.3",
		"info":    map[string]any{"title": "Stargate control plane", "version": "v1"},
		"paths":   paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}},
			"schemas": map[string]any{
				"Error": map[string]any{"type": "object", "properties": map[string]any{
					"error":    map[string]any{"type": "string"},
					"problems": map[string]any{"type": "array", "items": map[string]any{"type": "object", "properties": map[string]any{"field": map[string]any{"type": "string"}, "message": map[string]any{"type": "string"}}}},
				}},
				"JobSpec": specSchema(),
			},
		},
	}
}

func specSchema() map[string]any {
	str := map[string]any{"type": "string"}
	integer := map[string]any{"type": "integer"}
	return map[string]any{"type": "object", "additionalProperties": false, "required": []string{"accelerators"},
		"properties": map[string]any{
			"name": str, "tenant": str, "model": str, "region": str, "site": str,
			"kind":              map[string]any{"type": "string", "enum": kinds},
			"priority":          integer,
			"accelerators":      map[string]any{"type": "integer", "minimum": 1},
			"per_node":          integer,
			"topology":          map[string]any{"type": "string", "enum": topologies},
			"topology_required": map[string]any{"type": "boolean"},
			"duration_s":        integer, "checkpoint_s": integer,
			"power":       map[string]any{"type": "number", "minimum": 0, "maximum": 1},
			"preemptible": map[string]any{"type": "boolean"},
			"hold":        map[string]any{"type": "boolean"},
			"command":     map[string]any{"type": "array", "items": str},
			"env":         map[string]any{"type": "object", "additionalProperties": str},
		}}
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request, _ store.Token) error {
	writeJSON(w, http.StatusOK, s.OpenAPI())
	return nil
}

package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// docCheck validates JSON values against the schemas of an OpenAPI
// document: the subset of JSON Schema that the document uses ($ref, type,
// properties, required, additionalProperties, items, enum, oneOf, anyOf,
// propertyNames, formats and bounds). It is strict where the document is
// silent: an object's property that its schema does not name is a
// problem, so that a field the server writes and the document forgets is
// found.
type docCheck struct {
	doc map[string]any
}

// decodeJSON decodes b keeping numbers exact (an integer stays one).
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// resolve follows a $ref of the document ("#/components/schemas/Job").
func (c docCheck) resolve(ref string) map[string]any {
	var cur any = c.doc
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		m, _ := cur.(map[string]any)
		cur = m[part]
	}
	m, _ := cur.(map[string]any)
	if m == nil {
		panic("openapi test: unresolved $ref " + ref)
	}
	return m
}

// deref follows $refs until a map without one.
func (c docCheck) deref(m map[string]any) map[string]any {
	for {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		m = c.resolve(ref)
	}
}

// validate returns the problems of v against schema, each at a path.
func (c docCheck) validate(schema map[string]any, v any, path string) []string {
	if ref, ok := schema["$ref"].(string); ok {
		return c.validate(c.resolve(ref), v, path)
	}
	var out []string
	bad := func(format string, args ...any) { out = append(out, path+": "+fmt.Sprintf(format, args...)) }
	if alts, ok := schema["oneOf"].([]any); ok {
		n := 0
		for _, a := range alts {
			if len(c.validate(a.(map[string]any), v, path)) == 0 {
				n++
			}
		}
		if n != 1 {
			bad("matches %d of oneOf's %d schemas, not one", n, len(alts))
		}
	}
	if alts, ok := schema["anyOf"].([]any); ok {
		var why []string
		for _, a := range alts {
			ps := c.validate(a.(map[string]any), v, path)
			if len(ps) == 0 {
				why = nil
				break
			}
			why = append(why, ps...)
		}
		out = append(out, why...)
	}
	if t, ok := schema["type"]; ok {
		var types []string
		switch t := t.(type) {
		case string:
			types = []string{t}
		case []any:
			for _, x := range t {
				types = append(types, x.(string))
			}
		}
		if !slices.ContainsFunc(types, func(t string) bool { return isType(v, t) }) {
			bad("%s is not of type %v", short(v), types)
			return out
		}
	}
	if e, ok := schema["enum"].([]any); ok {
		if !slices.ContainsFunc(e, func(x any) bool { return fmt.Sprint(x) == fmt.Sprint(v) }) {
			bad("%s is not one of %v", short(v), e)
		}
	}
	switch v := v.(type) {
	case string:
		if schema["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
				bad("not a date-time: %v", err)
			}
		}
		if schema["contentEncoding"] == "base64" {
			if _, err := base64.StdEncoding.DecodeString(v); err != nil {
				bad("not base64: %v", err)
			}
		}
		if n, ok := num(schema["maxLength"]); ok && float64(len([]rune(v))) > n {
			bad("longer than %v", n)
		}
	case json.Number:
		f, _ := v.Float64()
		if n, ok := num(schema["minimum"]); ok && f < n {
			bad("%v < minimum %v", f, n)
		}
		if n, ok := num(schema["maximum"]); ok && f > n {
			bad("%v > maximum %v", f, n)
		}
		if n, ok := num(schema["exclusiveMinimum"]); ok && f <= n {
			bad("%v <= exclusive minimum %v", f, n)
		}
	case []any:
		if n, ok := num(schema["maxItems"]); ok && float64(len(v)) > n {
			bad("more than %v items", n)
		}
		if items, ok := schema["items"].(map[string]any); ok {
			for i, x := range v {
				out = append(out, c.validate(items, x, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	case map[string]any:
		props, _ := schema["properties"].(map[string]any)
		if req, ok := schema["required"].([]any); ok {
			for _, r := range req {
				if _, ok := v[r.(string)]; !ok {
					bad("lacks required %s", r)
				}
			}
		}
		if n, ok := num(schema["maxProperties"]); ok && float64(len(v)) > n {
			bad("more than %v properties", n)
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if pn, ok := schema["propertyNames"].(map[string]any); ok {
				out = append(out, c.validate(pn, k, path+"{"+k+"}")...)
			}
			if p, ok := props[k].(map[string]any); ok {
				out = append(out, c.validate(p, v[k], path+"."+k)...)
				continue
			}
			switch ap := schema["additionalProperties"].(type) {
			case map[string]any:
				out = append(out, c.validate(ap, v[k], path+"."+k)...)
			case bool:
				if !ap {
					bad("has %s, which the schema refuses", k)
				}
			default:
				if _, isObject := schema["type"]; isObject || props != nil {
					bad("has %s, which the document does not name", k)
				}
			}
		}
	}
	return out
}

func isType(v any, t string) bool {
	switch v := v.(type) {
	case nil:
		return t == "null"
	case bool:
		return t == "boolean"
	case string:
		return t == "string"
	case []any:
		return t == "array"
	case map[string]any:
		return t == "object"
	case json.Number:
		if t == "number" {
			return true
		}
		f, err := v.Float64()
		return t == "integer" && err == nil && f == math.Trunc(f)
	}
	return false
}

func num(x any) (float64, bool) {
	switch x := x.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	}
	return 0, false
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 60 {
		return string(b[:60]) + "…"
	}
	return string(b)
}

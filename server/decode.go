package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// DefaultMaxBody bounds request bodies.
const DefaultMaxBody = 1 << 20

// readBody reads a request body up to limit bytes and converts YAML to
// JSON, so that both formats take the same strict path.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		// refused on its declared length, unread: the connection is
		// closed rather than drained, so a sender of gigabytes costs the
		// server nothing but the headers
		w.Header().Set("Connection", "close")
		return nil, errorf(http.StatusRequestEntityTooLarge, "request body is larger than %d bytes", limit)
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, errorf(http.StatusRequestEntityTooLarge, "request body is larger than %d bytes", limit)
		}
		return nil, errorf(http.StatusBadRequest, "reading the body: %v", err)
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "", "application/json":
		return data, nil
	case "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml":
		var v any
		dec := yaml.NewDecoder(bytes.NewReader(data))
		if err := dec.Decode(&v); err != nil && err != io.EOF {
			return nil, badRequest([]Problem{{Message: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}})
		}
		var more any
		if err := dec.Decode(&more); err != io.EOF {
			return nil, badRequest([]Problem{{Message: "the body must hold one YAML document"}})
		}
		out, err := json.Marshal(v)
		if err != nil {
			return nil, badRequest([]Problem{{Message: "YAML must be a mapping with string keys: " + err.Error()}})
		}
		return out, nil
	default:
		// Lenient with clients that label JSON wrongly (curl -d says
		// application/x-www-form-urlencoded).
		if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
			return data, nil
		}
		return nil, errorf(http.StatusUnsupportedMediaType, "content type %q: send application/json or application/yaml", ct)
	}
}

// decodeStrict decodes a JSON object into the struct v points to and
// returns every problem: unknown fields, fields of the wrong type, and
// syntax errors. Nothing is partially trusted: on problems, discard v.
func decodeStrict(data []byte, v any) []Problem {
	// JSON is UTF-8 (RFC 8259): encoding/json would quietly turn invalid
	// bytes into U+FFFD, and a name would be stored other than sent.
	if !utf8.Valid(data) {
		return []Problem{{Message: "body is not valid UTF-8"}}
	}
	// A key given twice is refused: which one counts would be a guess.
	if ps := duplicateKeys(data); len(ps) > 0 {
		return ps
	}
	// The fast path: a well-formed body decodes in one pass.
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err == nil && !dec.More() {
		if _, err := dec.Token(); err == io.EOF && bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) && exactKeys(data, v) {
			return nil
		}
	}
	// Otherwise start again, field by field, to list every problem.
	rv := reflect.ValueOf(v).Elem()
	rv.SetZero()
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return []Problem{{Message: fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, err)}}
		}
		if bytes.Equal(bytes.TrimSpace(data), []byte("null")) || len(bytes.TrimSpace(data)) == 0 {
			return []Problem{{Message: "body is empty: expected an object"}}
		}
		return []Problem{{Message: "body must be an object"}}
	}
	if raw == nil {
		return []Problem{{Message: "body is empty: expected an object"}}
	}
	fields := map[string]int{}
	var names []string
	for i := 0; i < rv.NumField(); i++ {
		name, _, _ := strings.Cut(rv.Type().Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			fields[name] = i
			names = append(names, name)
		}
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var problems []Problem
	for _, k := range keys {
		i, ok := fields[k]
		if !ok {
			problems = append(problems, Problem{Field: k, Message: "unknown field (known: " + strings.Join(names, ", ") + ")"})
			continue
		}
		f := rv.Field(i)
		if err := json.Unmarshal(raw[k], f.Addr().Interface()); err != nil {
			problems = append(problems, Problem{Field: k, Message: "must be " + describe(f.Type())})
		}
	}
	return problems
}

// fieldNames caches, per struct type, its JSON field names.
var fieldNames sync.Map // reflect.Type → map[string]bool

// exactKeys reports whether every key of the JSON object data is the exact
// name of a field of the struct v points to. encoding/json matches names
// without regard to case; the API does not, so that "Accelerators" is an
// unknown field as the strict decoding promises.
func exactKeys(data []byte, v any) bool {
	t := reflect.TypeOf(v).Elem()
	names, ok := fieldNames.Load(t)
	if !ok {
		m := map[string]bool{}
		for i := 0; i < t.NumField(); i++ {
			if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
				m[name] = true
			}
		}
		names, _ = fieldNames.LoadOrStore(t, m)
	}
	var raw map[string]json.RawMessage
	if json.Unmarshal(data, &raw) != nil {
		return false
	}
	for k := range raw {
		if !names.(map[string]bool)[k] {
			return false
		}
	}
	return true
}

// describe names a Go type the way an API user thinks of it.
func describe(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(describe(t.Elem()), "a "), "an ") + "s"
	case reflect.Map:
		return "an object of " + strings.TrimPrefix(describe(t.Elem()), "a ") + "s"
	}
	return "a " + t.String()
}

// duplicateKeys lists the keys given twice in one object, anywhere in a
// JSON document (nothing when the document does not parse: the decoder
// reports that).
func duplicateKeys(data []byte) []Problem {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		keys   map[string]bool // nil for an array
		path   string
		last   string // an object's latest key
		expect bool   // an object expects a key next
	}
	var stack []frame
	var problems []Problem
	for {
		tok, err := dec.Token()
		if err != nil {
			return problems
		}
		top := len(stack) - 1
		if top >= 0 && stack[top].keys != nil && stack[top].expect {
			if k, ok := tok.(string); ok {
				if stack[top].keys[k] {
					problems = append(problems, Problem{Field: joinPath(stack[top].path, k), Message: "given twice"})
				}
				stack[top].keys[k] = true
				stack[top].last, stack[top].expect = k, false
				continue
			}
		}
		path := ""
		if top >= 0 {
			path = stack[top].path
			if stack[top].keys != nil {
				path = joinPath(path, stack[top].last)
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{keys: map[string]bool{}, path: path, expect: true})
			continue
		case json.Delim('['):
			stack = append(stack, frame{path: path})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:top]
		}
		// A value ended: the object around it expects a key again.
		if n := len(stack) - 1; n >= 0 && stack[n].keys != nil {
			stack[n].expect = true
		}
	}
}

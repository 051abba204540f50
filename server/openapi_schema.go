package server

import (
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode"
)

// schemaSet makes the JSON Schemas (draft 2020-12, as OpenAPI 3.1 has
// them) of the API's Go types by reflection, with encoding/json's rules:
// a field's name is its json tag's; "-" is skipped; omitempty and
// omitzero make a field optional (every pointer of the API has one), and
// a slice, map or pointer without them may be null unless the handlers
// never leave it nil (neverNull); embedded structs are
// flattened into their parent; time.Time is a date-time string and
// []byte a base64 string. Named structs and enumerated string types
// become components, referred to by $ref; what reflection cannot see
// (enums, bounds, which fields are never null, doc comments) comes from
// the tables in openapi_types.go and openapi_docs.go.
type schemaSet struct {
	defs  map[string]any          // components.schemas, by name
	names map[reflect.Type]string // the component of each named type
	// closed are the structs that request bodies reach: the server
	// refuses their unknown fields, so the document says none may be.
	closed map[reflect.Type]bool
}

func newSchemaSet() *schemaSet {
	return &schemaSet{defs: map[string]any{}, names: map[reflect.Type]string{}, closed: map[reflect.Type]bool{}}
}

var (
	timeType  = reflect.TypeFor[time.Time]()
	bytesType = reflect.TypeFor[[]byte]()
)

// close marks t's struct, and every struct it reaches, as closed. Call it
// for every request body before the first of.
func (g *schemaSet) close(t reflect.Type) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == timeType || g.closed[t] {
		return
	}
	g.closed[t] = true
	for _, f := range jsonFields(t) {
		g.close(f.typ)
	}
}

// of returns the schema of a value of type t.
func (g *schemaSet) of(t reflect.Type) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == bytesType || (t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8):
		return map[string]any{"type": "string", "contentEncoding": "base64"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.of(t.Elem())
	case reflect.String:
		if _, ok := enums[t]; ok {
			return g.ref(t, func() map[string]any {
				return map[string]any{"type": "string", "enum": enums[t]}
			})
		}
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64:
		return map[string]any{"type": "integer", "format": "int64"}
	case reflect.Int8, reflect.Int16, reflect.Int32:
		return map[string]any{"type": "integer", "format": "int32"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer", "minimum": 0}
	case reflect.Float32:
		return map[string]any{"type": "number", "format": "float"}
	case reflect.Float64:
		return map[string]any{"type": "number", "format": "double"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": g.of(t.Elem())}
	case reflect.Map:
		s := map[string]any{"type": "object", "additionalProperties": g.of(t.Elem())}
		if _, ok := enums[t.Key()]; ok {
			s["propertyNames"] = g.of(t.Key())
		}
		return s
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		if t.Name() == "" {
			return g.object(t)
		}
		return g.ref(t, func() map[string]any { return g.object(t) })
	}
	panic(fmt.Sprintf("server: openapi: no schema for Go type %s", t))
}

// ref returns a $ref to t's component, made by mk on first use.
func (g *schemaSet) ref(t reflect.Type, mk func() map[string]any) map[string]any {
	name, ok := g.names[t]
	if !ok {
		name = componentName(t)
		if _, taken := g.defs[name]; taken {
			panic(fmt.Sprintf("server: openapi: two types are named %s", name))
		}
		g.names[t] = name
		g.defs[name] = nil // taken while it is made: a type may refer to itself
		s := mk()
		if d := typeDocs[name]; d != "" {
			s["description"] = d
		}
		g.defs[name] = s
	}
	return map[string]any{"$ref": "#/components/schemas/" + name}
}

// componentName is a type's component name: its Go name, capitalized.
func componentName(t reflect.Type) string {
	r := []rune(t.Name())
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// object is the schema of a struct's JSON object.
func (g *schemaSet) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	required := []string{}
	for _, f := range jsonFields(t) {
		key := componentName(f.owner) + "." + f.name
		s := g.of(f.typ)
		nilable := f.typ.Kind() == reflect.Pointer || f.typ.Kind() == reflect.Slice || f.typ.Kind() == reflect.Map
		if nilable && !f.omit && !neverNull[key] {
			s = orNull(s)
		}
		if extra, ok := fieldSchemas[key]; ok {
			s = merge(s, extra)
		}
		if d := fieldDocs[componentName(f.owner)+"."+f.goName]; d != "" {
			s = merge(s, map[string]any{"description": d})
		}
		props[f.name] = s
		if !f.omit {
			required = append(required, f.name) // encoding/json always writes it
		}
	}
	s := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		s["required"] = required
	}
	if g.closed[t] {
		s["additionalProperties"] = false
	}
	return s
}

// orNull lets s be null too: a nil slice, map or pointer.
func orNull(s map[string]any) map[string]any {
	if typ, ok := s["type"].(string); ok {
		out := merge(s, nil)
		out["type"] = []string{typ, "null"}
		return out
	}
	return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
}

// merge returns a copy of a with b's keys added.
func merge(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// jsonField is a field of a struct's JSON object.
type jsonField struct {
	name   string       // the JSON key
	goName string       // the Go field's name
	owner  reflect.Type // the struct that declares it (an embedded one's)
	typ    reflect.Type
	omit   bool // omitempty or omitzero: it may be left out
	depth  int  // of embedding
	tagged bool
}

// jsonFields lists the fields encoding/json writes for a struct type, in
// order: embedded structs' fields flattened, and of those with the same
// name the shallowest (at one depth, the one tagged; else none), as
// encoding/json chooses.
func jsonFields(t reflect.Type) []jsonField {
	var all []jsonField
	var walk func(t reflect.Type, depth int)
	walk = func(t reflect.Type, depth int) {
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			ft := sf.Type
			if sf.Anonymous && name == "" {
				et := ft
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				if et.Kind() == reflect.Struct {
					walk(et, depth+1)
					continue
				}
			}
			if !sf.IsExported() {
				continue
			}
			f := jsonField{name: name, goName: sf.Name, owner: t, typ: ft, depth: depth, tagged: name != ""}
			if f.name == "" {
				f.name = sf.Name
			}
			for _, o := range strings.Split(opts, ",") {
				f.omit = f.omit || o == "omitempty" || o == "omitzero"
			}
			all = append(all, f)
		}
	}
	walk(t, 0)
	var out []jsonField
	for _, f := range all {
		keep := true
		for _, o := range all {
			if o.name != f.name || o == f {
				continue
			}
			if o.depth < f.depth || (o.depth == f.depth && (o.tagged || !f.tagged)) {
				keep = false
			}
		}
		if keep {
			out = append(out, f)
		}
	}
	return out
}

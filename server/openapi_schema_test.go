package server

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"stargate/store"
)

type schemaProbe struct {
	schemaEmbedded
	Name    string                 `json:"name"`
	Opt     string                 `json:"opt,omitempty"`
	When    time.Time              `json:"when"`
	Later   time.Time              `json:"later,omitzero"`
	Ptr     *float64               `json:"ptr,omitempty"`
	List    []int                  `json:"list"`
	Data    []byte                 `json:"data,omitempty"`
	Counts  map[store.JobState]int `json:"counts,omitempty"`
	Hidden  string                 `json:"-"`
	Shadow  string                 `json:"shadow"`
	Untaged bool
	private int
}

type schemaEmbedded struct {
	Inner  int    `json:"inner"`
	Shadow string `json:"shadow"` // hidden by schemaProbe's
}

// TestSchemaOf: the rules of encoding/json, one by one.
func TestSchemaOf(t *testing.T) {
	g := newSchemaSet()
	if ref := g.of(reflect.TypeFor[schemaProbe]()); ref["$ref"] != "#/components/schemas/SchemaProbe" {
		t.Fatalf("ref: %v", ref)
	}
	got, _ := json.Marshal(g.defs["SchemaProbe"])
	want := `{"properties":{` +
		`"Untaged":{"type":"boolean"},` +
		`"counts":{"additionalProperties":{"format":"int64","type":"integer"},"propertyNames":{"$ref":"#/components/schemas/JobState"},"type":"object"},` +
		`"data":{"contentEncoding":"base64","type":"string"},` +
		`"inner":{"format":"int64","type":"integer"},` +
		`"later":{"format":"date-time","type":"string"},` +
		`"list":{"items":{"format":"int64","type":"integer"},"type":["array","null"]},` +
		`"name":{"type":"string"},` +
		`"opt":{"type":"string"},` +
		`"ptr":{"format":"double","type":"number"},` +
		`"shadow":{"type":"string"},` +
		`"when":{"format":"date-time","type":"string"}},` +
		`"required":["inner","name","when","list","shadow","Untaged"],"type":"object"}`
	if string(got) != want {
		t.Errorf("schema:\n got %s\nwant %s", got, want)
	}
	states, _ := json.Marshal(g.defs["JobState"])
	if string(states) != `{"description":"`+typeDocs["JobState"]+`","enum":["pending","running","succeeded","failed","cancelled","timeout"],"type":"string"}` {
		t.Errorf("JobState: %s", states)
	}
	g = newSchemaSet()
	g.close(reflect.TypeFor[[]schemaProbe]())
	g.of(reflect.TypeFor[schemaProbe]())
	if g.defs["SchemaProbe"].(map[string]any)["additionalProperties"] != false {
		t.Errorf("a request body's struct is not closed: %v", g.defs["SchemaProbe"])
	}
}

// TestSchemasMatchEncodingJSON checks every struct of the document against
// encoding/json itself: the zero value's JSON has exactly the required
// properties, each null one may be null (or the handlers never leave it
// so), and every property it writes is in the schema.
func TestSchemasMatchEncodingJSON(t *testing.T) {
	h := newHarness(t, nil)
	g := newSchemaSet()
	h.srv.document(g)
	n := 0
	for typ, name := range g.names {
		if typ.Kind() != reflect.Struct {
			continue
		}
		n++
		schema := g.defs[name].(map[string]any)
		b, err := json.Marshal(reflect.New(typ).Elem().Interface())
		if err != nil {
			t.Fatal(err)
		}
		var zero map[string]any
		json.Unmarshal(b, &zero)
		var keys []string
		for k := range zero {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		required, _ := schema["required"].([]string)
		required = slices.Clone(required)
		sort.Strings(required)
		if !slices.Equal(keys, required) {
			t.Errorf("%s: encoding/json writes %v of the zero value, the schema requires %v", name, keys, required)
		}
		props := schema["properties"].(map[string]any)
		for _, k := range keys {
			p, ok := props[k].(map[string]any)
			if !ok {
				t.Errorf("%s.%s: written, not in the schema", name, k)
				continue
			}
			typ, _ := p["type"].([]string)
			nullable := slices.Contains(typ, "null")
			if zero[k] == nil && !nullable && !neverNull[name+"."+k] {
				t.Errorf("%s.%s: may be null, the schema says it is not", name, k)
			}
			if zero[k] != nil && nullable {
				t.Errorf("%s.%s: is never null, the schema says it may be", name, k)
			}
		}
	}
	// The tables name fields that exist.
	for _, key := range append(sortedKeys(neverNull), sortedKeys(fieldSchemas)...) {
		name, field, _ := strings.Cut(key, ".")
		s, _ := g.defs[name].(map[string]any)
		if s == nil || s["properties"].(map[string]any)[field] == nil {
			t.Errorf("%s names no field of the document", key)
		}
	}
	if n < 40 {
		t.Errorf("only %d structs in the document", n)
	}
}

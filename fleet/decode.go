package fleet

import (
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// decoder maps a YAML node tree onto the File schema, strictly: unknown
// keys, wrong types and duplicate keys are reported with path and line,
// and decoding carries on so that every problem is found in one pass.
type decoder struct {
	c         *collector
	templates map[reflect.Type]map[string]*yaml.Node
	depth     int
	values    int  // values decoded so far, aliases and templates included
	tooLarge  bool // values passed maxValues; decoding stopped
}

var (
	nodeType     = reflect.TypeOf(yaml.Node{})
	hallSpecType = reflect.TypeOf(HallSpec{})
	rowSpecType  = reflect.TypeOf(RowSpec{})
	rackSpecType = reflect.TypeOf(RackSpec{})
)

// maxDepth bounds nesting (aliases included) so that no input can recurse
// without end.
const maxDepth = 64

// maxValues bounds the values decoded, counting each use of an alias or a
// template anew, so that a short file cannot expand into an enormous one
// ("billion laughs"). Counts, not copies, make a large fleet.
const maxValues = 1_000_000

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	d.depth++
	defer func() { d.depth-- }()
	if d.depth > maxDepth {
		d.c.addAt(path, n.Line, ErrTooLarge, "nested too deeply")
		return
	}
	if d.values++; d.values > maxValues {
		d.tooLarge = true
		return
	}
	for n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			d.c.addAt(path, n.Line, ErrSyntax, "unknown alias")
			return
		}
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return
		}
		n = n.Content[0]
	}
	// Paths filled from a template count as given, at the template's line.
	d.c.lines[path] = n.Line
	if v.Type() == nodeType {
		v.Set(reflect.ValueOf(*n))
		return
	}
	if isNull(n) {
		// An explicit null leaves the zero value and counts as not given.
		d.c.nulls[path] = true
		return
	}
	if len(d.c.nulls) > 0 {
		delete(d.c.nulls, path)
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.typeErr(n, path, "a list")
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), index(path, i))
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.typeErr(n, path, "a mapping")
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		d.eachPair(n, path, func(key string, _, val *yaml.Node) {
			e := reflect.New(v.Type().Elem()).Elem()
			d.decode(val, e, join(path, key))
			v.SetMapIndex(reflect.ValueOf(key), e)
		})
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.typeErr(n, path, "a string")
			return
		}
		v.SetString(n.Value)
	case reflect.Float64:
		f, ok := number(n)
		if !ok {
			d.typeErr(n, path, "a number")
			return
		}
		v.SetFloat(f)
	case reflect.Int:
		f, ok := number(n)
		if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<31 {
			d.typeErr(n, path, "an integer")
			return
		}
		v.SetInt(int64(f))
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || err != nil {
			d.typeErr(n, path, "true or false")
			return
		}
		v.SetBool(b)
	default:
		panic("fleet: decoder has no rule for " + v.Type().String()) // programmer error
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.typeErr(n, path, "a mapping")
		return
	}
	// The item's own keys are decoded first; its template then fills the
	// fields the item does not give, so that nothing of an overridden
	// field (such as a list's items) is left from the template. The
	// template's problems, and its own `template:` key (not allowed), are
	// reported once, at the template.
	own := map[string]bool{}
	d.fields(n, v, path, own)
	if byName, ok := d.templates[v.Type()]; ok {
		if name, tn := templateRef(n); tn != nil {
			if tmpl, found := byName[name]; found {
				d.c.mute++
				d.fields(tmpl, v, path, own)
				d.c.mute--
			} else {
				d.c.addAt(join(path, "template"), tn.Line, ErrReference, "no template %q among %s", name, keys(byName))
			}
		}
	}
}

// fields decodes the keys of mapping n into the fields of struct v,
// skipping the keys in done and adding those it decodes.
func (d *decoder) fields(n *yaml.Node, v reflect.Value, path string, done map[string]bool) {
	if n.Kind != yaml.MappingNode {
		return // a template that is not a mapping: reported at the template
	}
	t := v.Type()
	d.eachPair(n, path, func(key string, k, val *yaml.Node) {
		if done[key] {
			return
		}
		f, ok := fieldByTag(t, key)
		if !ok {
			d.c.addAt(join(path, key), k.Line, ErrUnknownField, "unknown field %q (known: %s)", key, strings.Join(tags(t), ", "))
			return
		}
		done[key] = true
		d.decode(val, v.FieldByIndex(f.Index), join(path, key))
	})
}

// eachPair walks a mapping's keys, reporting non-string and duplicate keys,
// and then the keys brought in by YAML merge keys (<<) that the mapping
// does not give itself: as in YAML, a mapping's own keys win over merged
// ones, and an earlier merged mapping wins over a later one.
func (d *decoder) eachPair(n *yaml.Node, path string, fn func(key string, k, val *yaml.Node)) {
	seen := map[string]bool{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.c.addAt(path, k.Line, ErrType, "mapping keys must be strings")
			continue
		}
		if k.Tag == "!!merge" || (k.Value == "<<" && k.Tag != "!!str") {
			merges = append(merges, val)
			continue
		}
		if seen[k.Value] {
			d.c.addAt(join(path, k.Value), k.Line, ErrDuplicate, "key %q given twice", k.Value)
			continue
		}
		seen[k.Value] = true
		fn(k.Value, k, val)
	}
	for _, m := range merges {
		d.merge(m, path, seen, fn)
	}
}

// merge applies the keys of a merged mapping (or list of mappings) that
// are not in seen.
func (d *decoder) merge(val *yaml.Node, path string, seen map[string]bool, fn func(string, *yaml.Node, *yaml.Node)) {
	d.depth++
	defer func() { d.depth-- }()
	if d.depth > maxDepth {
		d.c.addAt(path, val.Line, ErrTooLarge, "nested too deeply")
		return
	}
	if d.values++; d.values > maxValues {
		d.tooLarge = true
		return
	}
	for val.Kind == yaml.AliasNode && val.Alias != nil {
		val = val.Alias
	}
	switch val.Kind {
	case yaml.MappingNode:
		// The merged mapping's own merges come after its keys, with the
		// same precedence.
		inner := map[string]bool{}
		d.eachPair(val, path, func(key string, k, v *yaml.Node) {
			inner[key] = true
			if !seen[key] {
				fn(key, k, v)
			}
		})
		for key := range inner {
			seen[key] = true
		}
	case yaml.SequenceNode:
		for _, m := range val.Content {
			d.merge(m, path, seen, fn)
		}
	default:
		d.c.addAt(path, val.Line, ErrType, "merge key (<<) needs a mapping")
	}
}

func (d *decoder) typeErr(n *yaml.Node, path, want string) {
	got := map[yaml.Kind]string{yaml.SequenceNode: "a list", yaml.MappingNode: "a mapping"}[n.Kind]
	if got == "" {
		got = strconv.Quote(truncate(n.Value, 40))
	}
	d.c.addAt(path, n.Line, ErrType, "must be %s, got %s", want, got)
	d.c.failed[path] = true
}

func templateRef(n *yaml.Node) (string, *yaml.Node) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "template" && n.Content[i+1].Kind == yaml.ScalarNode {
			return n.Content[i+1].Value, n.Content[i+1]
		}
	}
	return "", nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func number(n *yaml.Node) (float64, bool) {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
		return 0, false
	}
	// Plain decimals, the common case, without the YAML library's decoder.
	if f, err := strconv.ParseFloat(n.Value, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) &&
		strings.Trim(n.Value, "0123456789.-+eE") == "" {
		return f, true
	}
	var out any
	if err := n.Decode(&out); err != nil {
		return 0, false
	}
	switch x := out.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return 0, false
		}
		return x, true
	}
	return 0, false
}

func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if tagName(f) == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func tags(t reflect.Type) []string {
	out := make([]string, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		if name := tagName(t.Field(i)); name != "" {
			out = append(out, name)
		}
	}
	return out
}

func tagName(f reflect.StructField) string {
	tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if tag == "-" {
		return ""
	}
	return tag
}

func keys[V any](m map[string]V) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	if len(ks) == 0 {
		return "none"
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

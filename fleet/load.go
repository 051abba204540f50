package fleet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxFileBytes bounds the size of a fleet file.
const MaxFileBytes = 16 << 20

// Limits on the expanded fleet, far above any real campus, so that a typo
// in a count fails fast instead of exhausting memory.
const (
	MaxNodes        = 20_000_000
	MaxAccelerators = 100_000_000
	// MaxDomains bounds the halls, rows and racks together.
	MaxDomains = 5_000_000
)

// Load reads, validates and expands the fleet file at path. Its problems
// are Errors, as from Parse, each naming the file.
func Load(path string) (*Fleet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	defer f.Close()
	fl, err := Parse(f)
	var es Errors
	if errors.As(err, &es) {
		return nil, es.inFile(path)
	}
	return fl, err // a read error names the file already
}

// Parse reads a fleet file, validates it and expands it. On any problem it
// returns Errors listing all of them.
func Parse(r io.Reader) (*Fleet, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("fleet: read: %w", err)
	}
	if len(data) > MaxFileBytes {
		return nil, Errors{{Msg: fmt.Sprintf("file is larger than %d MiB", MaxFileBytes>>20), Kind: ErrTooLarge}}
	}
	spec, c := decodeFile(data)
	if len(c.errs) > 0 && spec == nil {
		return nil, c.errs.sorted()
	}
	v := newValidator(spec, c)
	v.validate()
	if len(c.errs) > 0 {
		return nil, c.errs.sorted()
	}
	return expand(spec, v.cat, v.oversub), nil
}

// decodeFile turns YAML bytes into a File, collecting every problem.
func decodeFile(data []byte) (*File, *collector) {
	c := newCollector()
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if err == io.EOF {
			c.addAt("", 0, ErrRequired, "file is empty: a fleet needs at least one region")
			return nil, c
		}
		c.addAt("", syntaxLine(err, data), ErrSyntax, "%s", trimYAMLErr(err))
		return nil, c
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		c.addAt("", extra.Line, ErrSyntax, "a fleet file holds one YAML document")
	}
	spec := &File{}
	d := &decoder{c: c, templates: map[reflect.Type]map[string]*yaml.Node{
		// Present even when the file has no templates, so that a use of
		// one is reported as dangling.
		hallSpecType: {}, rowSpecType: {}, rackSpecType: {},
	}}
	// Templates are gathered first so that items may use them wherever they
	// appear in the file.
	if doc := docRoot(&root); doc != nil && doc.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(doc.Content); i += 2 {
			if doc.Content[i].Value == "templates" {
				var t TemplatesSpec
				d.c.mute++
				d.decode(doc.Content[i+1], reflect.ValueOf(&t).Elem(), "templates")
				d.c.mute--
				d.templates[hallSpecType] = nodeRefs(t.Halls)
				d.templates[rowSpecType] = nodeRefs(t.Rows)
				d.templates[rackSpecType] = nodeRefs(t.Racks)
			}
		}
	}
	d.decode(&root, reflect.ValueOf(spec).Elem(), "")
	if doc := docRoot(&root); doc != nil && doc.Kind != yaml.MappingNode && !isNull(doc) {
		return nil, c
	}
	// Each template is decoded once on its own so that its problems are
	// reported at its own path.
	d.checkTemplates(spec.Templates.Halls, hallSpecType, "templates.halls.")
	d.checkTemplates(spec.Templates.Rows, rowSpecType, "templates.rows.")
	d.checkTemplates(spec.Templates.Racks, rackSpecType, "templates.racks.")
	if d.tooLarge {
		// Never muted: a file cut short must not load.
		c.errs = append(c.errs, &Error{Kind: ErrTooLarge,
			Msg: fmt.Sprintf("file expands to more than %d values through aliases and templates; use count", maxValues)})
		return nil, c
	}
	return spec, c
}

func (d *decoder) checkTemplates(m map[string]yaml.Node, t reflect.Type, prefix string) {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		n := m[name]
		if ref, tn := templateRef(&n); tn != nil {
			if ref == name {
				d.c.addAt(prefix+name+".template", tn.Line, ErrReference, "a template cannot use itself")
			} else {
				d.c.addAt(prefix+name+".template", tn.Line, ErrReference, "a template cannot use another template (%q)", ref)
			}
		}
		d.decode(&n, reflect.New(t).Elem(), prefix+name)
	}
}

func nodeRefs(m map[string]yaml.Node) map[string]*yaml.Node {
	out := make(map[string]*yaml.Node, len(m))
	for k := range m {
		n := m[k]
		out[k] = &n
	}
	return out
}

func docRoot(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		return n.Content[0]
	}
	return n
}

func syntaxLine(err error, data []byte) int {
	var line int
	if _, e := fmt.Sscanf(err.Error(), "yaml: line %d:", &line); e == nil {
		return line
	}
	// The YAML library gives no line for an unknown anchor: find its use.
	if rest, ok := strings.CutPrefix(err.Error(), "yaml: unknown anchor '"); ok {
		anchor, _, _ := strings.Cut(rest, "'")
		for i, l := range strings.Split(string(data), "\n") {
			if strings.Contains(l, "*"+anchor) {
				return i + 1
			}
		}
	}
	return 0
}

func trimYAMLErr(err error) string {
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	if i := strings.Index(s, ": "); strings.HasPrefix(s, "line ") && i > 0 {
		s = s[i+2:]
	}
	return "invalid YAML: " + s
}

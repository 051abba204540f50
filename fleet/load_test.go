package fleet_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"stargate/fleet"
)

// Paths of the base file's items.
const (
	pSite = "regions[0].sites[0]"
	pHall = pSite + ".halls[0]"
	pRow  = pHall + ".rows[0]"
	pRack = pRow + ".racks[0]"
	pNode = pRack + ".nodes[0]"
)

// badCase is one broken fleet file and the problem it must report. The
// expected line is the one marked "#<" in the file (0 when none is).
type badCase struct {
	name string
	src  string
	path string
	kind error
	msg  string // a substring of the message
	// line overrides the marked line where the YAML library reports
	// another one.
	line int
	// more allows follow-on problems after the expected one (e.g. an item
	// whose template is unknown also lacks its limit).
	more bool
}

func badCases(t testing.TB) []badCase {
	b := base
	e := func(old, new string) string { return edit(t, b, old, new) }
	// ee edits a file made by e.
	ee := func(s, old, new string) string { return edit(t, s, old, new) }
	// withTemplates puts a templates section before regions.
	withTemplates := func(tmpl, old, new string) string {
		return edit(t, e(old, new), "regions:\n", tmpl+"regions:\n")
	}
	// huge lifts every limit of a file out of the way.
	huge := func(s string) string {
		for _, l := range []string{"limit_kw: 42", "limit_kw: 500", "limit_kw: 1000"} {
			s = ee(s, l, "limit_kw: 1e12")
		}
		return ee(s, "substation_mw: 2", "substation_mw: 1e12")
	}
	return []badCase{
		// Syntax and file shape.
		{name: "syntax error", src: e("name: rack", "name: rack: x #<"),
			kind: fleet.ErrSyntax, msg: "mapping values are not allowed"},
		// The YAML library gives a flow sequence's start line 0-based.
		{name: "unclosed list", src: e("limit_kw: 1000", "limit_kw: [1000\n            x: 1"),
			kind: fleet.ErrSyntax, msg: "did not find expected ',' or ']'", line: 12},
		{name: "empty file", src: "",
			kind: fleet.ErrRequired, msg: "file is empty"},
		{name: "only a comment", src: "# nothing\n",
			kind: fleet.ErrRequired, msg: "file is empty"},
		{name: "two documents", src: b + "--- #<\nregions: []\n",
			kind: fleet.ErrSyntax, msg: "one YAML document"},
		{name: "root is a list", src: "- regions #<\n",
			kind: fleet.ErrType, msg: "must be a mapping, got a list"},
		{name: "root is a scalar", src: "fleet #<\n",
			kind: fleet.ErrType, msg: `must be a mapping, got "fleet"`},
		{name: "no regions", src: "oversubscription: 1\n",
			path: "regions", kind: fleet.ErrRequired, msg: "at least one region"},
		{name: "region without sites", src: "regions:\n  - name: r #<\n",
			path: "regions[0].sites", kind: fleet.ErrRequired, msg: "at least one site"},
		{name: "duplicate key", src: e("limit_kw: 42", "limit_kw: 42\n                    limit_kw: 43 #<"),
			path: pRack + ".limit_kw", kind: fleet.ErrDuplicate, msg: `key "limit_kw" given twice`},
		{name: "unknown alias", src: e("limit_kw: 42", "limit_kw: *nope #<"),
			kind: fleet.ErrSyntax, msg: "unknown anchor"},

		// Unknown fields, at several levels.
		{name: "unknown field at top", src: e("oversubscription: 1.0", "oversubscription: 1.0\ncolour: red #<"),
			path: "colour", kind: fleet.ErrUnknownField, msg: `unknown field "colour" (known: oversubscription, catalog, templates, regions)`},
		{name: "unknown field in region", src: e("  - name: r", "  - name: r\n    zone: x #<"),
			path: "regions[0].zone", kind: fleet.ErrUnknownField, msg: `unknown field "zone"`},
		{name: "unknown field in site", src: e("pue: 1.25", "pue: 1.25\n        pue_target: 1.1 #<"),
			path: pSite + ".pue_target", kind: fleet.ErrUnknownField, msg: `unknown field "pue_target"`},
		{name: "unknown field in energy", src: e("share: 1", "share: 1\n            price: 40 #<"),
			path: pSite + ".energy[0].price", kind: fleet.ErrUnknownField, msg: "price_usd_mwh"},
		{name: "unknown field in hall", src: e("limit_kw: 1000", "limit_kw: 1000\n            limit_mw: 1 #<"),
			path: pHall + ".limit_mw", kind: fleet.ErrUnknownField, msg: `unknown field "limit_mw"`},
		{name: "unknown field in rack", src: e("limit_kw: 42", "limit_kw: 42\n                    limit_w: 42000 #<"),
			path: pRack + ".limit_w", kind: fleet.ErrUnknownField, msg: `unknown field "limit_w"`},
		{name: "unknown field in node group", src: e("count: 4", "count: 4\n                        gpus: 8 #<"),
			path: pNode + ".gpus", kind: fleet.ErrUnknownField, msg: `unknown field "gpus" (known: model, count)`},
		{name: "unknown field with a block value", src: e("limit_kw: 42", "limit_kw: 42\n                    extra: #<\n                      a: 1"),
			path: pRack + ".extra", kind: fleet.ErrUnknownField, msg: `unknown field "extra"`},
		{name: "unknown field in catalog", src: e("regions:", "catalog:\n  gpus: [] #<\nregions:"),
			path: "catalog.gpus", kind: fleet.ErrUnknownField, msg: `unknown field "gpus"`},
		{name: "unknown field in template", src: withTemplates("templates:\n  racks:\n    t:\n      limit_kw: 42\n      colour: red #<\n", "name: rack", "template: t"),
			path: "templates.racks.t.colour", kind: fleet.ErrUnknownField, msg: `unknown field "colour"`},
		{name: "unknown template kind", src: e("regions:", "templates:\n  pods: {} #<\nregions:"),
			path: "templates.pods", kind: fleet.ErrUnknownField, msg: "halls, rows, racks"},

		// Wrong types.
		{name: "string for a number", src: e("limit_kw: 42", "limit_kw: forty #<"),
			path: pRack + ".limit_kw", kind: fleet.ErrType, msg: `must be a number, got "forty"`},
		{name: "quoted number", src: e("pue: 1.25", `pue: "1.25" #<`),
			path: pSite + ".pue", kind: fleet.ErrType, msg: `must be a number, got "1.25"`},
		{name: "bool for a number", src: e("substation_mw: 2", "substation_mw: true #<"),
			path: pSite + ".substation_mw", kind: fleet.ErrType, msg: "must be a number"},
		{name: "infinite number", src: e("substation_mw: 2", "substation_mw: .inf #<"),
			path: pSite + ".substation_mw", kind: fleet.ErrType, msg: "must be a number"},
		{name: "fraction for a count", src: e("count: 4", "count: 2.5 #<"),
			path: pNode + ".count", kind: fleet.ErrType, msg: `must be an integer, got "2.5"`},
		{name: "huge count", src: e("count: 4", "count: 1e12 #<"),
			path: pNode + ".count", kind: fleet.ErrType, msg: "must be an integer"},
		{name: "list for a mapping", src: e("regions:", "catalog: [] #<\nregions:"),
			path: "catalog", kind: fleet.ErrType, msg: "must be a mapping, got a list"},
		{name: "list for a site", src: "regions:\n  - name: r\n    sites: [[s]] #<\n",
			path: pSite, kind: fleet.ErrType, msg: "must be a mapping, got a list"},
		{name: "mapping for a list", src: e("    sites:", "    sites: {a: 1} #<\n    x:"),
			path: "regions[0].sites", kind: fleet.ErrType, msg: "must be a list, got a mapping", more: true},
		{name: "scalar for a list", src: e("            rows:", "            rows: none #<\n            x:"),
			path: pHall + ".rows", kind: fleet.ErrType, msg: `must be a list, got "none"`, more: true},
		{name: "mapping for a string", src: e("name: rack", "name: {a: b} #<"),
			path: pRack + ".name", kind: fleet.ErrType, msg: "must be a string, got a mapping"},
		{name: "list for a number", src: e("pue: 1.25", "pue: [1.25] #<"),
			path: pSite + ".pue", kind: fleet.ErrType, msg: "must be a number, got a list"},
		{name: "non-string key", src: e("pue: 1.25", "pue: 1.25\n        [a]: 1 #<"),
			path: pSite, kind: fleet.ErrType, msg: "mapping keys must be strings"},
		{name: "merge of a scalar", src: e("name: rack", "<<: 5 #<"),
			path: pRack, kind: fleet.ErrType, msg: "merge key (<<) needs a mapping"},

		// Missing and negative limits.
		{name: "missing substation_mw", src: e("      - name: s\n        substation_mw: 2\n", "      - name: s #<\n"),
			path: pSite + ".substation_mw", kind: fleet.ErrRequired, msg: "required"},
		{name: "negative substation_mw", src: e("substation_mw: 2", "substation_mw: -150 #<"),
			path: pSite + ".substation_mw", kind: fleet.ErrRange, msg: "must be > 0, got -150"},
		{name: "zero substation_mw", src: e("substation_mw: 2", "substation_mw: 0 #<"),
			path: pSite + ".substation_mw", kind: fleet.ErrRange, msg: "must be > 0, got 0"},
		{name: "null substation_mw", src: e("substation_mw: 2", "substation_mw: ~ #<"),
			path: pSite + ".substation_mw", kind: fleet.ErrRequired, msg: "required"},
		{name: "missing hall limit", src: e("          - name: hall\n            limit_kw: 1000\n", "          - name: hall #<\n"),
			path: pHall + ".limit_kw", kind: fleet.ErrRequired, msg: "required"},
		{name: "negative hall limit", src: e("limit_kw: 1000", "limit_kw: -1000 #<"),
			path: pHall + ".limit_kw", kind: fleet.ErrRange, msg: "must be > 0, got -1000"},
		{name: "missing row limit", src: e("              - name: row\n                limit_kw: 500\n", "              - name: row #<\n"),
			path: pRow + ".limit_kw", kind: fleet.ErrRequired, msg: "required"},
		{name: "negative row limit", src: e("limit_kw: 500", "limit_kw: -0.5 #<"),
			path: pRow + ".limit_kw", kind: fleet.ErrRange, msg: "must be > 0, got -0.5"},
		{name: "missing rack limit", src: e("                  - name: rack\n                    limit_kw: 42\n", "                  - name: rack #<\n"),
			path: pRack + ".limit_kw", kind: fleet.ErrRequired, msg: "required"},
		{name: "zero rack limit", src: e("limit_kw: 42", "limit_kw: 0 #<"),
			path: pRack + ".limit_kw", kind: fleet.ErrRange, msg: "must be > 0, got 0"},
		{name: "missing pue", src: e("      - name: s\n        substation_mw: 2\n        pue: 1.25\n", "      - name: s #<\n        substation_mw: 2\n"),
			path: pSite + ".pue", kind: fleet.ErrRequired, msg: "required (facility power / IT power"},
		{name: "pue below 1", src: e("pue: 1.25", "pue: 0.9 #<"),
			path: pSite + ".pue", kind: fleet.ErrRange, msg: "must be between 1 and 3, got 0.9"},
		{name: "file oversubscription below 1", src: e("oversubscription: 1.0", "oversubscription: 0.5 #<"),
			path: "oversubscription", kind: fleet.ErrRange, msg: "must be between 1 and 10"},
		{name: "site oversubscription above 10", src: e("pue: 1.25", "pue: 1.25\n        oversubscription: 11 #<"),
			path: pSite + ".oversubscription", kind: fleet.ErrRange, msg: "must be between 1 and 10, got 11"},
		{name: "missing name", src: e("  - name: r\n", "  - sites: #<\n"),
			path: "regions[0].name", kind: fleet.ErrRequired, msg: "required", more: true},

		// Counts.
		{name: "zero count", src: e("count: 4", "count: 0 #<"),
			path: pNode + ".count", kind: fleet.ErrRange, msg: "must be >= 1, got 0"},
		{name: "negative hall count", src: e("limit_kw: 1000", "limit_kw: 1000\n            count: -2 #<"),
			path: pHall + ".count", kind: fleet.ErrRange, msg: "must be >= 1, got -2"},
		{name: "negative rack count", src: e("limit_kw: 42", "limit_kw: 42\n                    count: -1 #<"),
			path: pRack + ".count", kind: fleet.ErrRange, msg: "must be >= 1, got -1"},

		// References.
		{name: "unknown node model", src: e("model: dgx-h100", "model: dgx-h900 #<"),
			path: pNode + ".model", kind: fleet.ErrReference, msg: `unknown node model or accelerator "dgx-h900"`},
		{name: "accelerator without node model", src: edit(t, e("model: dgx-h100", "model: tpu #<"), "regions:", "catalog:\n  accelerators:\n    - {name: tpu, tdp_w: 300}\nregions:"),
			path: pNode + ".model", kind: fleet.ErrReference, msg: `accelerator "tpu" is in the catalog but has no node model: set node: on the accelerator, or name a node model`},
		{name: "missing node model", src: e("- model: dgx-h100\n", "- count: 4 #<\n"),
			path: pNode + ".model", kind: fleet.ErrRequired, msg: "required", more: true},
		{name: "unknown template", src: e("name: rack", "template: nope #<"),
			path: pRack + ".template", kind: fleet.ErrReference, msg: `no template "nope" among none`},
		{name: "unknown template among some", src: withTemplates("templates:\n  racks:\n    t: {limit_kw: 42}\n", "name: rack", "template: tt #<"),
			path: pRack + ".template", kind: fleet.ErrReference, msg: `no template "tt" among t`},
		{name: "template naming itself", src: withTemplates("templates:\n  racks:\n    t:\n      template: t #<\n      limit_kw: 42\n", "name: rack", "template: t"),
			path: "templates.racks.t.template", kind: fleet.ErrReference, msg: `cannot use itself`},
		{name: "template naming another", src: withTemplates("templates:\n  racks:\n    t:\n      template: u #<\n    u:\n      limit_kw: 42\n", "name: rack", "template: t"),
			path: "templates.racks.t.template", kind: fleet.ErrReference, msg: `cannot use another template ("u")`},
		{name: "catalog node of unknown accelerator", src: e("regions:", "catalog:\n  nodes:\n    - name: box\n      accelerator: tpu #<\n      accelerators: 4\nregions:"),
			path: "catalog.nodes[0].accelerator", kind: fleet.ErrReference, msg: `unknown accelerator "tpu"`},
		{name: "duplicate catalog node", src: e("regions:", "catalog:\n  nodes:\n    - {name: box, accelerator: h100, accelerators: 4}\n    - {name: Box, accelerator: h100, accelerators: 8} #<\nregions:"),
			path: "catalog.nodes[1].name", kind: fleet.ErrDuplicate, msg: `"box" is also the name of catalog.nodes[0]`},
		{name: "catalog accelerator without tdp", src: e("regions:", "catalog:\n  accelerators:\n    - name: tpu #<\nregions:"),
			path: "catalog.accelerators[0].tdp_w", kind: fleet.ErrRequired, msg: "required"},

		// Duplicate names.
		{name: "duplicate region", src: b + "  - name: r #<\n    sites:\n      - name: s2\n        substation_mw: 1\n        pue: 1.2\n        energy: [{source: wind, share: 1}]\n",
			path: "regions[1].name", kind: fleet.ErrDuplicate, msg: `"r" is also the name of regions[0]`},
		{name: "duplicate site across regions", src: b + "  - name: r2\n    sites:\n      - name: s #<\n        substation_mw: 1\n        pue: 1.2\n        energy: [{source: wind, share: 1}]\n",
			path: "regions[1].sites[0].name", kind: fleet.ErrDuplicate, msg: `"s" is also the name of regions[0].sites[0]`},
		{name: "duplicate hall", src: e("            rows:", "          - name: hall #<\n            limit_kw: 10\n          - name: x\n            limit_kw: 1000\n            rows:"),
			path: pSite + ".halls[1].name", kind: fleet.ErrDuplicate, msg: `"hall" is also the name of ` + pHall},
		{name: "expanded sibling clashes", src: e("                  - name: rack\n", "                  - name: rack-2\n                    limit_kw: 1\n                  - name: rack #<\n                    count: 3\n"),
			path: pRow + ".racks[1].name", kind: fleet.ErrDuplicate, msg: `"rack-2" is also the name of ` + pRack},
		{name: "named sibling clashes with an unnamed one", src: e("                  - name: rack\n", "                  - limit_kw: 1\n                  - name: rack-1 #<\n"),
			path: pRow + ".racks[1].name", kind: fleet.ErrDuplicate, msg: `"rack-1" is also the name of ` + pRack},

		// Energy mix.
		{name: "shares not summing to 1", src: e("share: 1", "share: 0.5\n          - source: gas\n            share: 0.3"),
			path: pSite + ".energy", kind: fleet.ErrRange, msg: "shares must add up to 1, got 0.8"},
		{name: "share and mw", src: e("share: 1", "share: 1\n            mw: 10"),
			path: pSite + ".energy[0]", kind: fleet.ErrRange, msg: "give share or mw, not both"},
		{name: "neither share nor mw", src: e("            share: 1\n", "            price_usd_mwh: 50\n"),
			path: pSite + ".energy[0].share", kind: fleet.ErrRequired, msg: "give share"},
		{name: "share above 1", src: e("share: 1", "share: 1.5 #<"),
			path: pSite + ".energy[0].share", kind: fleet.ErrRange, msg: "must be in (0, 1], got 1.5", more: true},
		{name: "negative mw", src: e("share: 1", "mw: -3 #<"),
			path: pSite + ".energy[0].mw", kind: fleet.ErrRange, msg: "must be > 0, got -3"},
		{name: "no energy mix", src: e("        energy:\n          - source: nuclear\n            share: 1\n", ""),
			path: pSite + ".energy", kind: fleet.ErrRequired, msg: "needs an energy mix"},
		{name: "missing source", src: e("          - source: nuclear\n            share: 1", "          - share: 1 #<"),
			path: pSite + ".energy[0].source", kind: fleet.ErrRequired, msg: "required"},
		{name: "grid without carbon", src: e("source: nuclear", "source: grid #<"),
			path: pSite + ".energy[0].carbon_g_kwh", kind: fleet.ErrRequired, msg: `required for source "grid"`},
		{name: "negative carbon", src: e("share: 1", "share: 1\n            carbon_g_kwh: -5 #<"),
			path: pSite + ".energy[0].carbon_g_kwh", kind: fleet.ErrRange, msg: "must be >= 0, got -5"},
		{name: "negative ramp", src: e("pue: 1.25", "pue: 1.25\n        ramp_mw_per_min: -5 #<"),
			path: pSite + ".ramp_mw_per_min", kind: fleet.ErrRange, msg: "must be >= 0 (0: no limit), got -5"},
		{name: "negative price", src: e("share: 1", "share: 1\n            price_usd_mwh: -5 #<"),
			path: pSite + ".energy[0].price_usd_mwh", kind: fleet.ErrRange, msg: "must be >= 0, got -5"},
		{name: "bad profile length", src: e("share: 1", "mw: 5\n            profile:\n              output: [0, 0.5, 1] #<"),
			path: pSite + ".energy[0].profile.output", kind: fleet.ErrRange, msg: "24 (a day) or 8760 (a year) hourly values, got 3"},
		{name: "profile value out of range", src: e("share: 1", "mw: 5\n            profile:\n              output: [0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,\n                1.5] #<"),
			path: pSite + ".energy[0].profile.output[23]", kind: fleet.ErrRange, msg: "must be between 0 and 1, got 1.5"},
		{name: "output profile without mw", src: e("share: 1", "share: 1\n            profile:\n              output: [0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0] #<"),
			path: pSite + ".energy[0].profile.output", kind: fleet.ErrRange, msg: "needs mw"},

		// Oversubscribed trees: 4 DGX H100 need 22.4 kW at TDP.
		{name: "rack oversubscribed", src: e("limit_kw: 42", "limit_kw: 20 #<"),
			path: pRack + ".limit_kw", kind: fleet.ErrOversubscribed, msg: "need 22.4 kW at TDP, more than the limit 20 kW × oversubscription 1"},
		{name: "row oversubscribed", src: ee(e("limit_kw: 500", "limit_kw: 60 #<"), "limit_kw: 42", "limit_kw: 42\n                    count: 3"),
			path: pRow + ".limit_kw", kind: fleet.ErrOversubscribed, msg: "need 67.2 kW at TDP, more than the limit 60 kW"},
		{name: "hall oversubscribed", src: ee(e("limit_kw: 1000", "limit_kw: 50 #<"), "limit_kw: 500", "limit_kw: 500\n                count: 3"),
			path: pHall + ".limit_kw", kind: fleet.ErrOversubscribed, msg: "need 67.2 kW at TDP, more than the limit 50 kW"},
		{name: "substation oversubscribed", src: e("substation_mw: 2", "substation_mw: 0.02 #<"),
			path: pSite + ".substation_mw", kind: fleet.ErrOversubscribed, msg: "more than the limit 16 kW (its IT share at PUE 1.25)"},
		{name: "oversubscription not enough", src: ee(e("oversubscription: 1.0", "oversubscription: 1.1"), "limit_kw: 42", "limit_kw: 20 #<"),
			path: pRack + ".limit_kw", kind: fleet.ErrOversubscribed, msg: "× oversubscription 1.1"},

		// Absurd sizes.
		{name: "too many accelerators", src: huge(e("count: 4", "count: 2000000000")),
			path: "regions", kind: fleet.ErrTooLarge, msg: "the limits are", more: true},
		{name: "too many nodes by multiplying counts", src: huge(ee(e("limit_kw: 1000", "limit_kw: 1000\n            count: 100000"), "limit_kw: 500", "limit_kw: 500\n                count: 100000")),
			path: "regions", kind: fleet.ErrTooLarge, msg: "the limits are"},
		{name: "too many empty halls", src: e("            rows:\n", "            count: 2000000000\n            rows: []\n            x:\n"),
			path: "regions", kind: fleet.ErrTooLarge, msg: "the limits are", more: true},
		{name: "too many nodes in a rack", src: huge(ee(e("count: 4", "count: 70000"), "name: rack", "name: rack #<")),
			path: pRack, kind: fleet.ErrTooLarge, msg: "nodes in one rack"},
	}
}

func TestParseBad(t *testing.T) {
	for _, tc := range badCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			es := parseErrs(t, tc.src)
			got := es[0]
			if tc.more {
				for _, e := range es {
					if e.Path == tc.path && errors.Is(e, tc.kind) {
						got = e
						break
					}
				}
			} else if len(es) != 1 {
				t.Errorf("want one problem, got %d:\n%v", len(es), es)
			}
			if got.Path != tc.path {
				t.Errorf("path = %q, want %q (%v)", got.Path, tc.path, es)
			}
			if !errors.Is(got, tc.kind) {
				t.Errorf("kind = %v, want %v (%v)", got.Kind, tc.kind, got)
			}
			if !errors.Is(es, tc.kind) {
				t.Errorf("errors.Is(Errors, %v) = false", tc.kind)
			}
			if !strings.Contains(got.Msg, tc.msg) {
				t.Errorf("message = %q, want it to contain %q", got.Msg, tc.msg)
			}
			want := markedLine(tc.src)
			if tc.line != 0 {
				want = tc.line
			}
			if want != 0 && got.Line != want {
				t.Errorf("line = %d, want %d (%v)", got.Line, want, got)
			}
			if !strings.Contains(es.Error(), got.Error()) || !strings.HasPrefix(es.Error(), "fleet: ") {
				t.Errorf("Errors.Error() = %q does not list %q", es.Error(), got.Error())
			}
		})
	}
}

// TestParseReportsEveryProblem checks that one pass finds all the problems
// of a file, in file order, each with its own path, kind and line.
func TestParseReportsEveryProblem(t *testing.T) {
	src := edit(t, base, "oversubscription: 1.0", "oversubscription: 1.0\ncolour: red")
	src = edit(t, src, "pue: 1.25", "pue: 0.5")
	src = edit(t, src, "source: nuclear", "source: grid")
	src = edit(t, src, "limit_kw: 500", "limit_kw: -500")
	src = edit(t, src, "limit_kw: 42", "limit_kw: 42\n                    count: 0")
	src = edit(t, src, "model: dgx-h100", "model: tpu-v5")
	src += "  - name: r\n    sites: []\n"
	es := parseErrs(t, src)
	want := []struct {
		line int
		path string
		kind error
	}{
		{2, "colour", fleet.ErrUnknownField},
		{8, pSite + ".pue", fleet.ErrRange},
		{10, pSite + ".energy[0].carbon_g_kwh", fleet.ErrRequired},
		{17, pRow + ".limit_kw", fleet.ErrRange},
		{21, pRack + ".count", fleet.ErrRange},
		{23, pNode + ".model", fleet.ErrReference},
		{25, "regions[1].name", fleet.ErrDuplicate},
		{26, "regions[1].sites", fleet.ErrRequired},
	}
	if len(es) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(es), len(want), es)
	}
	for i, w := range want {
		if e := es[i]; e.Line != w.line || e.Path != w.path || !errors.Is(e, w.kind) {
			t.Errorf("problem %d = %v (%v), want line %d: %s (%v)", i, e, e.Kind, w.line, w.path, w.kind)
		}
	}
}

// TestParseAliasBomb checks that a short file whose aliases expand into
// millions of values is refused quickly instead of exhausting memory.
func TestParseAliasBomb(t *testing.T) {
	// list is 50 items: first, then 49 times rest (which aliases first's
	// anchored list).
	list := func(first, rest string) string {
		return "[" + first + strings.Repeat(", "+rest, 49) + "]"
	}
	nodes := list("{model: dgx-h100, count: 1}", "{model: dgx-h100, count: 1}")
	racks := list("{limit_kw: 1, nodes: &n "+nodes+"}", "{limit_kw: 1, nodes: *n}")
	rows := list("{limit_kw: 1, racks: &k "+racks+"}", "{limit_kw: 1, racks: *k}")
	halls := list("{limit_kw: 1, rows: &w "+rows+"}", "{limit_kw: 1, rows: *w}")
	src := "regions:\n  - name: r\n    sites:\n      - name: s\n        substation_mw: 1\n        pue: 1.2\n" +
		"        energy: [{source: wind, share: 1}]\n        halls: " + halls + "\n"
	if len(src) > 16<<10 {
		t.Fatalf("the bomb is %d bytes, want a short file", len(src))
	}
	start := time.Now()
	es := parseErrs(t, src)
	if !errors.Is(es, fleet.ErrTooLarge) || !strings.Contains(es.Error(), "aliases and templates") {
		t.Fatalf("want a too-large problem, got %v", es)
	}
	t.Logf("%d bytes refused in %v", len(src), time.Since(start))
}

// TestParseNull checks that an explicit null is "not given".
func TestParseNull(t *testing.T) {
	es := parseErrs(t, edit(t, base, "limit_kw: 42", "limit_kw: null"))
	if len(es) != 1 || es[0].Path != pRack+".limit_kw" || !errors.Is(es[0], fleet.ErrRequired) {
		t.Fatalf("got %v, want one required problem at the rack's limit_kw", es)
	}
	// A null count is a count of one, as if it were absent.
	f := mustParse(t, edit(t, base, "limit_kw: 42", "limit_kw: 42\n                    count: ~"))
	if len(f.Racks) != 1 {
		t.Fatalf("racks = %d, want 1", len(f.Racks))
	}
}

// Load names the file in its report, and its problems stay Errors whose
// kinds errors.Is and errors.As find.
func TestLoadNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.yaml")
	src := edit(t, edit(t, base, "substation_mw: 2", "substation_mw: -5"), "pue: 1.25", "pue: 1.25\n        colour: red")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := fleet.Load(path)
	if err == nil {
		t.Fatal("Load succeeded")
	}
	msg := err.Error()
	for _, want := range []string{
		"fleet: " + path + ": 2 problem(s):\n",
		"\n  line 6: regions[0].sites[0].substation_mw: must be > 0, got -5",
		"\n  line 8: regions[0].sites[0].colour: unknown field",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	var es fleet.Errors
	if !errors.As(err, &es) || len(es) != 2 {
		t.Fatalf("errors.As(fleet.Errors) = %v", err)
	}
	var one *fleet.Error
	if !errors.As(err, &one) || one.File != path || one.Line != 6 {
		t.Fatalf("errors.As(*fleet.Error) = %+v", one)
	}
	if want := path + ": line 6: regions[0].sites[0].substation_mw: must be > 0, got -5"; one.Error() != want {
		t.Errorf("one problem reads %q, want %q", one.Error(), want)
	}
	if !errors.Is(err, fleet.ErrRange) || !errors.Is(err, fleet.ErrUnknownField) {
		t.Errorf("errors.Is misses a sentinel: %v", err)
	}
	// Parse knows no file name and says none.
	_, err = fleet.Parse(strings.NewReader(src))
	if err == nil || !strings.HasPrefix(err.Error(), "fleet: 2 problem(s):\n  line 6: ") {
		t.Errorf("Parse error = %v", err)
	}
	if _, err := fleet.Load(filepath.Join(t.TempDir(), "none.yaml")); err == nil || !strings.Contains(err.Error(), "none.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

// TestRampIsOptional: a site's ramp limit is read when given and 0 (no
// limit) when not.
func TestRampIsOptional(t *testing.T) {
	for _, c := range []struct {
		src  string
		want float64
	}{{base, 0}, {edit(t, base, "pue: 1.25", "pue: 1.25\n        ramp_mw_per_min: 12.5"), 12.5}} {
		f, err := fleet.Parse(strings.NewReader(c.src))
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Sites[0].RampMWPerMin; got != c.want {
			t.Errorf("ramp_mw_per_min = %g, want %g", got, c.want)
		}
	}
}

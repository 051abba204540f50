package grafana_test

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// query is what the test checks of one PromQL expression: the series it
// selects and the labels it groups or matches by.
type query struct {
	selectors []selector
	grouping  []string // the labels of by, without, on, ignoring, group_left and group_right
}

// selector is one series selector: a metric name and its label matchers.
type selector struct {
	metric   string
	matchers []matcher
}

// matcher is one label matcher: label op "value", op one of = != =~ !~.
type matcher struct{ label, op, value string }

type tokenKind int

const (
	tIdent  tokenKind = iota // a metric, label, function or keyword
	tString                  // a quoted string, unquoted
	tNumber                  // a number or a duration
	tVar                     // a Grafana variable: $x, ${x}, $__rate_interval
	tPunct                   // an operator or a bracket
)

type token struct {
	kind tokenKind
	text string
}

// keywords are PromQL's aggregation operators, binary operators and
// modifiers: identifiers that are neither metrics nor labels.
var keywords = map[string]bool{
	"sum": true, "avg": true, "count": true, "min": true, "max": true, "group": true,
	"stddev": true, "stdvar": true, "topk": true, "bottomk": true, "quantile": true,
	"count_values": true, "limitk": true, "limit_ratio": true,
	"and": true, "or": true, "unless": true, "atan2": true,
	"offset": true, "bool": true, "inf": true, "nan": true,
}

// groupings are the keywords followed by a list of labels.
var groupings = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

// lex splits a PromQL expression, with Grafana's variables, into tokens.
func lex(expr string) ([]token, error) {
	var out []token
	isIdent := func(c byte, first bool) bool {
		return c == '_' || c == ':' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || !first && '0' <= c && c <= '9'
	}
	isDigit := func(c byte) bool { return '0' <= c && c <= '9' }
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#':
			for i < len(expr) && expr[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for j < len(expr) && expr[j] != c {
				if expr[j] == '\\' && c != '`' {
					j++
				}
				j++
			}
			if j >= len(expr) {
				return nil, fmt.Errorf("unterminated string at %d", i)
			}
			s := expr[i+1 : j]
			if c == '"' {
				u, err := strconv.Unquote(expr[i : j+1])
				if err != nil {
					return nil, fmt.Errorf("string at %d: %w", i, err)
				}
				s = u
			}
			out = append(out, token{tString, s})
			i = j + 1
		case c == '$':
			j := i + 1
			if j < len(expr) && expr[j] == '{' {
				for j < len(expr) && expr[j] != '}' {
					j++
				}
				j++
			} else {
				for j < len(expr) && isIdent(expr[j], false) {
					j++
				}
			}
			if j > len(expr) || j == i+1 {
				return nil, fmt.Errorf("bad variable at %d", i)
			}
			out = append(out, token{tVar, expr[i:j]})
			i = j
		case isIdent(c, true):
			j := i
			for j < len(expr) && isIdent(expr[j], false) {
				j++
			}
			out = append(out, token{tIdent, expr[i:j]})
			i = j
		case isDigit(c) || c == '.' && i+1 < len(expr) && isDigit(expr[i+1]):
			j := i
			for j < len(expr) && (isIdent(expr[j], false) || expr[j] == '.') {
				j++
			}
			out = append(out, token{tNumber, expr[i:j]})
			i = j
		case strings.ContainsRune("(){}[],:+-*/%^@", rune(c)):
			out = append(out, token{tPunct, string(c)})
			i++
		case strings.ContainsRune("=!<>", rune(c)):
			j := i + 1
			if j < len(expr) && (expr[j] == '=' || expr[j] == '~') {
				j++
			}
			out = append(out, token{tPunct, expr[i:j]})
			i = j
		default:
			return nil, fmt.Errorf("unexpected %q at %d", c, i)
		}
	}
	return out, nil
}

// parseQuery finds the selectors and grouping labels of a PromQL
// expression. It is no PromQL parser: it knows enough of the grammar to
// tell metric names from functions, keywords and labels, and it insists
// that every selector names its metric.
func parseQuery(expr string) (query, error) {
	toks, err := lex(expr)
	if err != nil {
		return query{}, err
	}
	var q query
	is := func(i int, text string) bool { return i < len(toks) && toks[i].kind == tPunct && toks[i].text == text }
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch {
		case is(i, "["): // a range, a subquery's range and step: durations and variables
			for i < len(toks) && !is(i, "]") {
				i++
			}
			if i == len(toks) {
				return query{}, fmt.Errorf("unterminated [")
			}
		case is(i, "{"):
			return query{}, fmt.Errorf("a selector without a metric name")
		case t.kind != tIdent:
		case groupings[strings.ToLower(t.text)]:
			if !is(i+1, "(") {
				continue // group_left without labels
			}
			for i += 2; i < len(toks) && !is(i, ")"); i++ {
				switch {
				case toks[i].kind == tIdent:
					q.grouping = append(q.grouping, toks[i].text)
				case !is(i, ","):
					return query{}, fmt.Errorf("%s (...): unexpected %q", t.text, toks[i].text)
				}
			}
		case keywords[strings.ToLower(t.text)]:
		case is(i+1, "("): // a function
		default:
			sel := selector{metric: t.text}
			if is(i+1, "{") {
				ms, end, err := parseMatchers(toks, i+1)
				if err != nil {
					return query{}, fmt.Errorf("%s: %w", t.text, err)
				}
				sel.matchers, i = ms, end
			}
			q.selectors = append(q.selectors, sel)
		}
	}
	if len(q.selectors) == 0 {
		return query{}, fmt.Errorf("selects no metric")
	}
	return q, nil
}

// parseMatchers reads the matchers of the selector whose { is toks[i],
// and returns them and the index of the closing }.
func parseMatchers(toks []token, i int) ([]matcher, int, error) {
	var ms []matcher
	for j := i + 1; j < len(toks); {
		switch t := toks[j]; {
		case t.kind == tPunct && t.text == "}":
			return ms, j, nil
		case t.kind == tPunct && t.text == ",":
			j++
		case t.kind == tIdent && j+2 < len(toks) && toks[j+2].kind == tString:
			op := toks[j+1].text
			if toks[j+1].kind != tPunct || (op != "=" && op != "!=" && op != "=~" && op != "!~") {
				return nil, 0, fmt.Errorf("label %s: bad operator %q", t.text, op)
			}
			ms = append(ms, matcher{label: t.text, op: op, value: toks[j+2].text})
			j += 3
		default:
			return nil, 0, fmt.Errorf("bad matcher at %q", t.text)
		}
	}
	return nil, 0, fmt.Errorf("unterminated {")
}

// TestParseQuery pins what the tokenizer takes for metrics and labels, on
// the shapes the dashboard uses, and what it refuses.
func TestParseQuery(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want query
	}{
		{`histogram_quantile(0.99, sum by (le, route) (rate(x_bucket{route="POST /v1/nodes/{name}/heartbeat"}[$__rate_interval])))`,
			query{selectors: []selector{{"x_bucket", []matcher{{"route", "=", "POST /v1/nodes/{name}/heartbeat"}}}},
				grouping: []string{"le", "route"}}},
		{`max by (domain) (a{level="hall", domain=~"($site)/.*"}) / max by (domain) (b{level!="row"}) * 100`,
			query{selectors: []selector{{"a", []matcher{{"level", "=", "hall"}, {"domain", "=~", "($site)/.*"}}},
				{"b", []matcher{{"level", "!=", "row"}}}}, grouping: []string{"domain", "domain"}}},
		{`count(h == 0) or vector(0)`, query{selectors: []selector{{"h", nil}}}},
		{`go_goroutines and on (instance, job) leader`,
			query{selectors: []selector{{"go_goroutines", nil}, {"leader", nil}}, grouping: []string{"instance", "job"}}},
		{`sum(rate(e_total[5m] offset 1h)) / 1e3 + topk(10, DCGM_FI_DEV_GPU_TEMP{Hostname=~"$host"}) - delta(g[1h:1m])`,
			query{selectors: []selector{{"e_total", nil}, {"DCGM_FI_DEV_GPU_TEMP", []matcher{{"Hostname", "=~", "$host"}}}, {"g", nil}}}},
		{`a * on (x) group_left b`, query{selectors: []selector{{"a", nil}, {"b", nil}}, grouping: []string{"x"}}},
	} {
		got, err := parseQuery(tc.expr)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.expr, got, tc.want)
		}
	}
	for _, bad := range []string{`vector(1)`, `{__name__="x"}`, `x{a="b"`, `x{a~"b"}`, `x[5m`, `sum by (le, "x") (y)`, `x{a="b}`} {
		if q, err := parseQuery(bad); err == nil {
			t.Errorf("%s: accepted as %+v", bad, q)
		}
	}
}

package chart

// The offline reports' page: one HTML file that needs no network. Its
// charts are drawn by Script from a <script type="application/json">
// block; its tables are plain HTML that sgSortable makes sortable, with
// sgBar gauges where a cell asks for one.

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
)

// Page is a report before it is written.
type Page struct {
	Title string
	// Lead says in a few sentences what the report found.
	Lead []string
	// Cards are key figures, each a value with its unit and a name.
	Cards []Param
	// Params say what was computed, from what, under ParamsTitle
	// (default "What ran").
	Params      []Param
	ParamsTitle string
	Sections    []Section
	// Charts are drawn into the figures of the same ID; a series' Xs may
	// name an entry of Xs, x values that several series share.
	Charts []Line
	Xs     map[string][]Num
}

// Param is a name and a value with its unit.
type Param struct {
	Name, Value string
}

// Section is a part of a page under its heading: notes, figures (each
// drawn from the Line of its ID), then tables.
type Section struct {
	ID, Title string
	Notes     []string
	Figures   []Figure
	Tables    []Table
}

// Figure is where a chart goes, with the caption that says what it shows.
type Figure struct{ ID, Caption string }

// Line is the options of one sgLineChart (see chart.js), as JSON.
type Line struct {
	ID         string   `json:"id"`
	Label      string   `json:"label"`
	Unit       string   `json:"unit"`
	XUnit      string   `json:"xUnit,omitempty"`
	LogX       bool     `json:"logX,omitempty"`
	XMin       *float64 `json:"xMin,omitempty"`
	XMax       *float64 `json:"xMax,omitempty"`
	YMax       float64  `json:"yMax,omitempty"`
	Limit      float64  `json:"limit,omitempty"`
	LimitLabel string   `json:"limitLabel,omitempty"`
	Refs       []Ref    `json:"refs,omitempty"`
	Spans      []Span   `json:"spans,omitempty"`
	Stack      bool     `json:"stack,omitempty"`
	Series     []Series `json:"series"`
}

// Ref is a dashed reference line at Y.
type Ref struct {
	Y     float64 `json:"y"`
	Label string  `json:"label"`
}

// Span is a shaded window of x, from X0 to X1 (numeric x only), such as
// the time a grid event holds.
type Span struct {
	X0    float64 `json:"x0"`
	X1    float64 `json:"x1"`
	Label string  `json:"label"`
}

// Series is one line (or stacked area) of a chart. Xs is either the name
// of an entry of Page.Xs or the x values themselves.
type Series struct {
	Name   string `json:"name"`
	Xs     any    `json:"xs"`
	Values []Num  `json:"values"`
	Cls    string `json:"cls,omitempty"`
}

// Num is a number written with four significant digits, which is all a
// chart shows and keeps a page small. NaN and infinities are null.
type Num float64

// MarshalJSON writes x to four significant digits.
func (x Num) MarshalJSON() ([]byte, error) {
	f := float64(x)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	v, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'g', 4, 64), 64)
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// Table is a sortable table.
type Table struct {
	Caption string
	Head    []Cell
	Rows    [][]Cell
}

// Cell is a table cell: Text shown; V its number, to sort by (HasV) and,
// with Bar, drawn as a gauge of V against 1 before the text (coloured by
// how close to 1 it is, or plainly with Part: a part of a whole). Num
// aligns it right.
type Cell struct {
	Text string
	V    float64
	HasV bool
	Num  bool
	Bar  bool
	Part bool
}

// Text is a cell of text.
func Text(s string) Cell { return Cell{Text: s} }

// Number is a right-aligned cell that sorts by v.
func Number(text string, v float64) Cell { return Cell{Text: text, V: v, HasV: true, Num: true} }

// Gauge is a fraction of a limit as a percentage after a gauge that warns
// as it nears 1; gauges line up on the left.
func Gauge(f float64) Cell {
	return Cell{Text: fmt.Sprintf("%.1f%%", 100*f), V: f, HasV: true, Bar: true}
}

// Share is a part of a whole as a percentage after a plain gauge.
func Share(f float64) Cell {
	c := Gauge(f)
	c.Part = true
	return c
}

// Head returns a table's head row.
func Head(names ...string) []Cell {
	out := make([]Cell, len(names))
	for i, n := range names {
		out[i] = Cell{Text: n}
	}
	return out
}

// AlignHead right-aligns the heads of the columns whose first cell is a
// number.
func (t *Table) AlignHead() {
	if len(t.Rows) == 0 {
		return
	}
	for i := range t.Head {
		t.Head[i].Num = i < len(t.Rows[0]) && t.Rows[0][i].Num
	}
}

// Write writes the page.
func (p *Page) Write(w io.Writer) error {
	data, err := json.Marshal(struct {
		Charts []Line           `json:"charts"`
		Xs     map[string][]Num `json:"xs"`
	}{p.Charts, p.Xs})
	if err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	return pageTmpl.Execute(w, map[string]any{
		"P":      p,
		"Style":  template.CSS(ReportStyle),
		"Script": template.JS(Script),
		"Data":   template.JS(data), // json.Marshal escapes <, > and &: no </script> in it
	})
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.P.Title}}</title>
<style>{{.Style}}</style>
</head><body><main id="main">
<h1>{{.P.Title}}</h1>
{{range .P.Lead}}<p class="lead">{{.}}</p>{{end}}
{{if .P.Cards}}<div class="cards">{{range .P.Cards}}<div class="card"><b>{{.Value}}</b><span>{{.Name}}</span></div>{{end}}</div>{{end}}
{{if .P.Params}}<h2 id="params">{{or .P.ParamsTitle "What ran"}}</h2>
<dl class="params">{{range .P.Params}}<dt>{{.Name}}</dt><dd>{{.Value}}</dd>{{end}}</dl>{{end}}
{{range .P.Sections}}<section aria-labelledby="{{.ID}}">
<h2 id="{{.ID}}">{{.Title}}</h2>
{{range .Notes}}<p class="note">{{.}}</p>{{end}}
{{if .Figures}}<div class="charts">{{range .Figures}}<figure id="{{.ID}}"><figcaption>{{.Caption}}</figcaption></figure>{{end}}</div>{{end}}
{{range .Tables}}<div class="scroll"><table class="sortable">{{if .Caption}}<caption>{{.Caption}}</caption>{{end}}
<thead><tr>{{range .Head}}<th scope="col"{{if .Num}} class="num"{{end}}>{{.Text}}</th>{{end}}</tr></thead>
<tbody>{{range .Rows}}<tr>{{range .}}<td{{if .Bar}} class="bar" data-bar="{{.V}}"{{if .Part}} data-part{{end}}{{else if .Num}} class="num"{{end}}{{if .HasV}} data-v="{{.V}}"{{end}}>{{.Text}}</td>{{end}}</tr>
{{end}}</tbody></table></div>
{{end}}</section>
{{end}}</main>
<script>{{.Script}}</script>
<script type="application/json" id="sg-data">{{.Data}}</script>
<script>
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("sg-data").textContent);
  const sep = (v) => Math.abs(v) >= 1000 ? Math.round(v).toLocaleString("en-US") : sgFormatTick(v);
  for (const c of D.charts) {
    const fig = document.getElementById(c.id);
    if (!fig) { continue; }
    const opts = Object.assign({ width: 600, height: 250, yFormat: sep, unitAbove: true, legend: c.series.length > 1 }, c);
    opts.series = c.series.map((s) => Object.assign({}, s, { xs: typeof s.xs === "string" ? D.xs[s.xs] : s.xs }));
    fig.insertBefore(sgLineChart(opts), fig.firstChild);
  }
  for (const td of document.querySelectorAll("td[data-bar]")) {
    td.insertBefore(document.createTextNode(" "), td.firstChild);
    td.insertBefore(sgBar(Number(td.dataset.bar), 1, td.closest("tr").cells[0].textContent, { plain: td.dataset.part !== undefined }), td.firstChild);
  }
  document.querySelectorAll("table.sortable").forEach(sgSortable);
  document.body.dataset.drawn = String(D.charts.length);
})();
</script>
</body></html>
`))

package plan

import (
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"
)

// WriteHTML writes a self-contained page (inline SVG, no scripts, no
// network) with the site table, each site's power budget and energy mix.
func (r *Report) WriteHTML(w io.Writer, title string) error {
	var table strings.Builder
	if err := r.WriteTable(&table); err != nil {
		return err
	}
	return pageTmpl.Execute(w, map[string]any{
		"Title":        title,
		"Budget":       template.HTML(budgetChart(r)),
		"Mix":          template.HTML(mixChart(r)),
		"Table":        table.String(),
		"Totals":       r.Totals,
		"LF":           r.LoadFactor,
		"Accelerators": float64(r.Totals.Accelerators),
	})
}

var pageTmpl = template.Must(template.New("plan").Funcs(template.FuncMap{"mw": mw, "count": count, "usd": usd}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em}
.kpi{display:flex;gap:1.5em;flex-wrap:wrap}.kpi div{background:#f4f6f8;padding:.6em 1em;border-radius:6px}
.kpi b{display:block;font-size:1.3em}
pre{font-size:12px;overflow-x:auto;background:#fafafa;padding:1em}
svg text{font:12px system-ui,sans-serif}
</style></head><body>
<h1>{{.Title}}</h1>
<div class="kpi">
<div><b>{{mw .Totals.SubstationMW}} MW</b>substation</div>
<div><b>{{mw .Totals.ITMW}} MW</b>IT power</div>
<div><b>{{count .Accelerators}}</b>accelerators installed</div>
<div><b>{{mw .Totals.AnnualGWh}} GWh</b>a year ({{count .Totals.Households}} households)</div>
<div><b>{{count .Totals.EmissionsTCO2}} t</b>CO2 a year</div>
<div><b>{{usd .Totals.EnergyCostUSD}} USD</b>energy a year</div>
</div>
<h2>Power budget by site (MW)</h2>
<p>Substation rating, the IT power it leaves at the site's PUE, the rated power of installed nodes and their expected draw at load factor {{printf "%.2f" .LF}}.</p>
{{.Budget}}
<h2>Energy mix by site (GWh per year)</h2>
{{.Mix}}
<h2>Figures</h2>
<pre>{{.Table}}</pre>
</body></html>
`))

var budgetSeries = []struct {
	name, color string
	get         func(*Figures) float64
}{
	{"substation", "#9aa5b1", func(f *Figures) float64 { return f.SubstationMW }},
	{"IT power", "#4c78a8", func(f *Figures) float64 { return f.ITMW }},
	{"nameplate", "#f58518", func(f *Figures) float64 { return f.NameplateMW }},
	{"expected draw", "#54a24b", func(f *Figures) float64 { return f.DrawMW }},
}

func budgetChart(r *Report) string {
	const left, width, barH, gap = 140, 700, 10, 14
	var maxV float64
	for i := range r.Sites {
		for _, s := range budgetSeries {
			maxV = max(maxV, s.get(&r.Sites[i].Figures))
		}
	}
	if maxV == 0 {
		maxV = 1
	}
	group := len(budgetSeries)*barH + gap
	h := len(r.Sites)*group + 40
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img">`, left+width+120, h)
	for i := range r.Sites {
		s := &r.Sites[i]
		y := 10 + i*group
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, left-8, y+len(budgetSeries)*barH/2+4, template.HTMLEscapeString(s.Name))
		for k, ser := range budgetSeries {
			v := ser.get(&s.Figures)
			wpx := v / maxV * width
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: %s MW</title></rect>`,
				left, y+k*barH, wpx, barH-1, ser.color, ser.name, mw(v))
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="10">%s</text>`, float64(left)+wpx+4, y+k*barH+barH-2, mw(v))
		}
	}
	legend(&b, 10, h-14, budgetNames(), budgetColors())
	b.WriteString(`</svg>`)
	return b.String()
}

func budgetNames() []string {
	out := make([]string, len(budgetSeries))
	for i, s := range budgetSeries {
		out[i] = s.name
	}
	return out
}

func budgetColors() []string {
	out := make([]string, len(budgetSeries))
	for i, s := range budgetSeries {
		out[i] = s.color
	}
	return out
}

var sourceColors = map[string]string{
	"coal": "#4d4d4d", "gas": "#e45756", "nuclear": "#b279a2", "solar": "#eeca3b",
	"wind": "#72b7b2", "hydro": "#4c78a8", "grid": "#9d755d", "storage": "#54a24b",
}

func mixChart(r *Report) string {
	const left, width, barH = 140, 700, 18
	seen := map[string]bool{}
	var maxV float64
	for i := range r.Sites {
		maxV = max(maxV, r.Sites[i].AnnualGWh)
		for _, m := range r.Sites[i].Mix {
			seen[strings.ToLower(m.Source)] = true
		}
	}
	if maxV == 0 {
		maxV = 1
	}
	var sources []string
	for s := range seen {
		sources = append(sources, s)
	}
	sort.Strings(sources)
	colors := make([]string, len(sources))
	for i, s := range sources {
		colors[i] = colorOf(s)
	}
	h := len(r.Sites)*(barH+8) + 40
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img">`, left+width+260, h)
	for i := range r.Sites {
		s := &r.Sites[i]
		y := 10 + i*(barH+8)
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, left-8, y+barH-5, template.HTMLEscapeString(s.Name))
		x := float64(left)
		for _, m := range s.Mix {
			wpx := m.GWh / maxV * width
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: %s GWh (%.0f%%), %s tCO2</title></rect>`,
				x, y, wpx, barH, colorOf(m.Source), template.HTMLEscapeString(m.Source), mw(m.GWh), m.Share*100, count(m.EmissionsTCO2))
			x += wpx
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="10">%s GWh, %s tCO2</text>`, x+4, y+barH-5, mw(s.AnnualGWh), count(s.EmissionsTCO2))
	}
	legend(&b, 10, h-14, sources, colors)
	b.WriteString(`</svg>`)
	return b.String()
}

func colorOf(source string) string {
	if c, ok := sourceColors[strings.ToLower(source)]; ok {
		return c
	}
	return "#bab0ac"
}

func legend(b *strings.Builder, x, y int, names, colors []string) {
	for i, n := range names {
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`,
			x, y, colors[i], x+14, y+9, template.HTMLEscapeString(n))
		x += 24 + 7*len(n)
	}
}

package sim

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strings"
)

// WriteHTML writes an offline page (inline SVG, no scripts) with power
// against limit per site, utilization, queue length and the JCT CDF; when
// several results are given (a --compare run), their curves are overlaid.
func WriteHTML(w io.Writer, title string, rs []*Result) error {
	var table strings.Builder
	if err := WriteTable(&table, rs); err != nil {
		return err
	}
	var charts []template.HTML
	if len(rs) > 0 {
		for si, name := range rs[0].SiteNames {
			var ss []series
			for k, r := range rs {
				ss = append(ss, series{name: label(r, "draw", len(rs)), color: palette[k%len(palette)],
					xs: times(r), ys: column(r, func(p *Sample) float64 { return p.SiteMW[si] })})
			}
			charts = append(charts, lineChart(fmt.Sprintf("Site %s: IT draw vs limit (MW)", name), "hours", ss,
				[]hline{{rs[0].SiteLimitMW[si], "limit"}}))
		}
	}
	charts = append(charts, lineChart("Utilization (allocated / all accelerators)", "hours", overlay(rs, func(p *Sample) float64 { return p.Utilization }), nil))
	charts = append(charts, lineChart("Queue length (jobs waiting)", "hours", overlay(rs, func(p *Sample) float64 { return float64(p.Queued) }), nil))
	var cdf []series
	for k, r := range rs {
		xs, ys := jctCDF(r)
		cdf = append(cdf, series{name: r.Policy, color: palette[k%len(palette)], xs: xs, ys: ys})
	}
	charts = append(charts, lineChart("Job completion time CDF", "hours (log scale)", cdf, nil))
	return simPage.Execute(w, map[string]any{"Title": title, "Charts": charts, "Table": table.String()})
}

var simPage = template.Must(template.New("sim").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
h1{font-size:1.5em} pre{font-size:12px;background:#fafafa;padding:1em;overflow-x:auto}
svg{display:block;margin:1.5em 0} svg text{font:12px system-ui,sans-serif}
</style></head><body>
<h1>{{.Title}}</h1>
<pre>{{.Table}}</pre>
{{range .Charts}}{{.}}{{end}}
</body></html>
`))

var palette = []string{"#4c78a8", "#f58518", "#54a24b", "#e45756", "#b279a2", "#72b7b2"}

type series struct {
	name   string
	color  string
	xs, ys []float64
}

type hline struct {
	y    float64
	name string
}

func label(r *Result, what string, n int) string {
	if n > 1 {
		return r.Policy
	}
	return what
}

func times(r *Result) []float64 {
	out := make([]float64, len(r.Series))
	for i, p := range r.Series {
		out[i] = p.T / 3600
	}
	return out
}

func column(r *Result, f func(*Sample) float64) []float64 {
	out := make([]float64, len(r.Series))
	for i := range r.Series {
		out[i] = f(&r.Series[i])
	}
	return out
}

func overlay(rs []*Result, f func(*Sample) float64) []series {
	var ss []series
	for k, r := range rs {
		ss = append(ss, series{name: r.Policy, color: palette[k%len(palette)], xs: times(r), ys: column(r, f)})
	}
	return ss
}

// jctCDF returns the completion times (hours, log10) and their cumulative
// fraction, thinned to at most 500 points.
func jctCDF(r *Result) ([]float64, []float64) {
	var jct []float64
	for _, j := range r.Jobs {
		if j.Finish >= 0 {
			jct = append(jct, math.Max(j.Finish-j.Submit, 1))
		}
	}
	sort.Float64s(jct)
	step := max(1, len(jct)/500)
	var xs, ys []float64
	for i := 0; i < len(jct); i += step {
		xs = append(xs, math.Log10(jct[i]/3600))
		ys = append(ys, float64(i+1)/float64(len(jct)))
	}
	if n := len(jct); n > 0 {
		xs = append(xs, math.Log10(jct[n-1]/3600))
		ys = append(ys, 1)
	}
	return xs, ys
}

// lineChart draws series as polylines on shared axes, thinning each to at
// most 1,000 points, with optional horizontal reference lines.
func lineChart(title, xLabel string, ss []series, hs []hline) template.HTML {
	const W, H, L, R, T, B = 960, 260, 60, 110, 28, 36
	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), 0.0, math.Inf(-1)
	for _, s := range ss {
		for i := range s.xs {
			xmin, xmax = math.Min(xmin, s.xs[i]), math.Max(xmax, s.xs[i])
			ymin, ymax = math.Min(ymin, s.ys[i]), math.Max(ymax, s.ys[i])
		}
	}
	for _, h := range hs {
		ymax = math.Max(ymax, h.y)
	}
	if math.IsInf(xmin, 0) {
		xmin, xmax = 0, 1
	}
	if xmax == xmin {
		xmax = xmin + 1
	}
	if math.IsInf(ymax, 0) || ymax <= ymin {
		ymax = ymin + 1
	}
	ymax *= 1.05
	px := func(x float64) float64 { return L + (x-xmin)/(xmax-xmin)*(W-L-R) }
	py := func(y float64) float64 { return H - B - (y-ymin)/(ymax-ymin)*(H-T-B) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img">`, W, H)
	fmt.Fprintf(&b, `<text x="%d" y="16" font-weight="bold">%s</text>`, L, template.HTMLEscapeString(title))
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#999"/>`, L, H-B, W-R, H-B)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#999"/>`, L, T, L, H-B)
	for i := 0; i <= 4; i++ {
		y := ymin + (ymax-ymin)*float64(i)/4
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" font-size="10">%s</text>`, L-4, py(y)+3, short(y))
		x := xmin + (xmax-xmin)*float64(i)/4
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" font-size="10">%s</text>`, px(x), H-B+14, short(x))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" font-size="11">%s</text>`, (L+W-R)/2, H-4, template.HTMLEscapeString(xLabel))
	for _, h := range hs {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e45756" stroke-dasharray="6 4"/><text x="%d" y="%.1f" fill="#e45756" font-size="11">%s %s</text>`,
			L, py(h.y), W-R, py(h.y), W-R+4, py(h.y)+4, template.HTMLEscapeString(h.name), short(h.y))
	}
	for k, s := range ss {
		step := max(1, len(s.xs)/1000)
		var pts strings.Builder
		for i := 0; i < len(s.xs); i += step {
			fmt.Fprintf(&pts, "%.1f,%.1f ", px(s.xs[i]), py(s.ys[i]))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`, s.color, pts.String())
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d" font-size="11">%s</text>`,
			W-R+4, T+16*k+20, s.color, W-R+18, T+16*k+29, template.HTMLEscapeString(s.name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func short(x float64) string {
	a := math.Abs(x)
	switch {
	case a >= 1e6:
		return fmt.Sprintf("%.3gM", x/1e6)
	case a >= 1e3:
		return fmt.Sprintf("%.3gk", x/1e3)
	}
	return fmt.Sprintf("%.3g", x)
}

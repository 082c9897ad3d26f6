package main

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"time"

	"github.com/leakguard/leakguard"
)

// writeHTML renders a self-contained report: no scripts, no external
// assets, one inline SVG plot per flagged stack.
func writeHTML(w io.Writer, rep *report) error {
	type item struct {
		N      int
		A      leakguard.Alert
		Plot   template.HTML
		Growth string
		InUse  string
		Leaf   string
	}
	var items []item
	for i, a := range rep.alerts {
		items = append(items, item{
			N: i + 1, A: a, Plot: plot(a),
			Growth: human(a.Evidence.GrowthBytesPerSecond) + "/s",
			InUse:  human(float64(a.Evidence.InUseBytes)),
			Leaf:   a.Leaf().Function,
		})
	}
	return page.Execute(w, map[string]any{
		"Rep":   rep,
		"Items": items,
		"Span":  rep.End.Sub(rep.Start).Round(time.Second).String(),
	})
}

// plot draws the stack's in-use history with the fitted trend over the
// decisive window and a marker at the detection time.
func plot(a leakguard.Alert) template.HTML {
	const w, h, pad = 640.0, 220.0, 44.0
	hist := a.History
	if len(hist) < 2 {
		return ""
	}
	t0, t1 := hist[0].Time, hist[len(hist)-1].Time
	if a.Time.After(t1) {
		t1 = a.Time
	}
	span := t1.Sub(t0).Seconds()
	if span <= 0 {
		span = 1
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range hist {
		lo, hi = math.Min(lo, p.InUseBytes), math.Max(hi, p.InUseBytes)
	}
	for _, p := range a.Trend {
		lo, hi = math.Min(lo, p.InUseBytes), math.Max(hi, p.InUseBytes)
	}
	if hi <= lo {
		hi = lo + 1
	}
	x := func(t time.Time) float64 { return pad + (w-2*pad)*t.Sub(t0).Seconds()/span }
	y := func(v float64) float64 { return h - pad/2 - (h-pad)*(v-lo)/(hi-lo) }
	var pts []string
	for _, p := range hist {
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.Time), y(p.InUseBytes)))
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img" aria-label="in-use bytes over time">`, w, h, w, h)
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%.0f" height="%.0f" fill="#fff" stroke="#ddd"/>`, w, h)
	fmt.Fprintf(&b, `<text x="4" y="14" font-size="11" fill="#555">%s</text>`, template.HTMLEscapeString(human(hi)))
	fmt.Fprintf(&b, `<text x="4" y="%.0f" font-size="11" fill="#555">%s</text>`, h-pad/2, template.HTMLEscapeString(human(lo)))
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="11" fill="#555" text-anchor="end">%s</text>`, w-pad, h-4, template.HTMLEscapeString((time.Duration(span) * time.Second).String()))
	fmt.Fprintf(&b, `<polyline fill="none" stroke="#1f6feb" stroke-width="1.5" points="%s"/>`, strings.Join(pts, " "))
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#d1242f" stroke-width="2" stroke-dasharray="6 3"/>`,
		x(a.Trend[0].Time), y(a.Trend[0].InUseBytes), x(a.Trend[1].Time), y(a.Trend[1].InUseBytes))
	dx := x(a.Time)
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#9a6700" stroke-width="1"/>`, dx, pad/2, dx, h-pad/2)
	fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" font-size="11" fill="#9a6700" text-anchor="end">detected</text>`, dx-3, pad/2+10)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

var page = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"/><title>leakguard report</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#1f2328;max-width:60em}
table{border-collapse:collapse}td,th{padding:.25em .6em;border-bottom:1px solid #ddd;text-align:left}
.alert{color:#d1242f;font-weight:bold}.warning{color:#9a6700;font-weight:bold}
pre{background:#f6f8fa;padding:.6em;overflow-x:auto;font-size:.85em}
.legend{font-size:.85em;color:#555}
section{margin-top:2em}
</style></head><body>
<h1>leakguard report</h1>
<p>{{.Rep.Profiles}} profiles from {{.Rep.Start.Format "2006-01-02 15:04:05 MST"}} to {{.Rep.End.Format "2006-01-02 15:04:05 MST"}} ({{.Span}}).
{{if not .Items}}<strong>No leak found.</strong>{{else}}{{len .Items}} growing stack(s).{{end}}</p>
{{if .Items}}
<table><thead><tr><th>#</th><th>Severity</th><th>Confidence</th><th>Pattern</th><th>Growth</th><th>In use</th><th>Function</th></tr></thead><tbody>
{{range .Items}}<tr><td><a href="#s{{.N}}">{{.N}}</a></td><td class="{{.A.Severity}}">{{.A.Severity}}</td><td>{{printf "%.4f" .A.Confidence}}</td><td>{{.A.Pattern}}</td><td>{{.Growth}}</td><td>{{.InUse}}</td><td>{{.Leaf}}</td></tr>
{{end}}</tbody></table>
<p class="legend">Plots: blue, the stack's in-use bytes; dashed red, the fitted growth over the window that decided; brown line, the profile at which the stack was flagged.</p>
{{end}}
{{range .Items}}<section id="s{{.N}}">
<h2>#{{.N}} <span class="{{.A.Severity}}">{{.A.Severity}}</span> — {{.Leaf}}</h2>
<p>{{.A.Pattern}} growth of {{.Growth}} (95% interval {{printf "%.0f" .A.Evidence.SlopeLow}}–{{printf "%.0f" .A.Evidence.SlopeHigh}} B/s), {{.InUse}} in use,
confidence {{printf "%.4f" .A.Confidence}} (family-wise p = {{printf "%.2g" .A.Evidence.PValue}}), detected at profile {{.A.Index}}.</p>
{{.Plot}}
<pre>{{range .A.Frames}}{{.Function}}
    {{.File}}:{{.Line}}
{{end}}</pre>
</section>
{{end}}
</body></html>
`))

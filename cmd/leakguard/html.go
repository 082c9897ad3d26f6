package main

import (
	"html/template"
	"io"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/render"
)

// writeHTML renders a self-contained report: no scripts, no external
// assets, one inline SVG plot per flagged stack.
func writeHTML(w io.Writer, rep *report) error {
	type item struct {
		N      int
		A      leakguard.Alert
		Plot   template.HTML
		Growth string
		Low    string
		High   string
		InUse  string
		Leaf   string
	}
	var items []item
	for i, a := range rep.alerts {
		items = append(items, item{
			N: i + 1, A: a, Plot: plot(a),
			Growth: render.Bytes(a.Evidence.GrowthBytesPerSecond) + "/s",
			Low:    render.Bytes(a.Evidence.SlopeLow) + "/s",
			High:   render.Bytes(a.Evidence.SlopeHigh) + "/s",
			InUse:  render.Bytes(float64(a.Evidence.InUseBytes)),
			Leaf:   a.Leaf().Function,
		})
	}
	return page.Execute(w, map[string]any{
		"Style": render.Style,
		"Rep":   rep,
		"Items": items,
		"Span":  rep.End.Sub(rep.Start).Round(time.Second).String(),
	})
}

// plot draws the stack's in-use history with the fitted trend over the
// decisive window and a marker at the detection time.
func plot(a leakguard.Alert) template.HTML {
	return render.SVG(render.NewPlot(a.History, a.Trend, a.Time, func(q leakguard.Point) render.Point {
		return render.Point{Time: q.Time, Value: q.InUseBytes}
	}))
}

var page = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"/><title>leakguard report</title>
<style>{{.Style}}</style></head><body>
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
<p>{{.A.Pattern}} growth of {{.Growth}} (95% interval of the fitted slope {{.Low}} to {{.High}}), {{.InUse}} in use,
confidence {{printf "%.4f" .A.Confidence}} (family-wise p = {{printf "%.2g" .A.Evidence.PValue}}), detected at profile {{.A.Index}}.</p>
{{.Plot}}
<pre>{{range .A.Frames}}{{.Function}}{{if .File}}
    {{.File}}:{{.Line}}{{end}}
{{end}}</pre>
</section>
{{end}}
</body></html>
`))

package leakguard

import (
	"encoding/json"
	"html/template"
	"net/http"
	"time"

	"github.com/leakguard/leakguard/internal/render"
)

// Handler serves the Guard's Report for people and programs: an HTML page
// listing alerts and the most suspicious stacks, each with its in-use
// history drawn as an inline SVG (the fitted trend dashed, the detection
// marked), its evidence and its stack; with ?format=json, the Report as
// JSON. The page has no scripts and loads nothing from the network.
//
// Mount it next to net/http/pprof:
//
//	mux.Handle("/debug/leakguard", leakguard.Handler(g))
//
// It shows allocation stacks, function names and file paths — what the
// heap profile shows — so it belongs behind the same access control as
// /debug/pprof. Only GET and HEAD are served.
func Handler(g *Guard) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		rep := g.Report()
		w.Header().Set("Cache-Control", "no-store")
		if r.URL.Query().Get("format") == "json" {
			w.Header().Set("Content-Type", "application/json")
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			_ = enc.Encode(rep)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = reportPage.Execute(w, pageData(rep))
	})
}

type pageItem struct {
	Severity   Severity
	Confidence float64
	Pattern    PatternType
	Growth     string
	InUse      string
	Leaf       string
	Evidence   Evidence
	Detected   string
	Low, High  string
	Plot       template.HTML
	Frames     any
}

func pageData(rep Report) map[string]any {
	growth := func(e Evidence) string { return render.Bytes(e.GrowthBytesPerSecond) + "/s" }
	var alerts, top []pageItem
	flagged := map[uint64]bool{}
	for _, a := range rep.Alerts {
		flagged[a.Stack] = true
		alerts = append(alerts, pageItem{
			Severity: a.Severity, Confidence: a.Confidence, Pattern: a.Pattern,
			Growth: growth(a.Evidence), InUse: render.Bytes(float64(a.Evidence.InUseBytes)),
			Leaf: a.Leaf().Function, Evidence: a.Evidence, Frames: a.Frames,
			Detected: a.Time.Format(time.DateTime),
			Low:      render.Bytes(a.Evidence.SlopeLow) + "/s", High: render.Bytes(a.Evidence.SlopeHigh) + "/s",
			Plot: render.SVG(render.NewPlot(a.History, a.Trend, a.Time, plotPoint)),
		})
	}
	for _, p := range rep.Top {
		if flagged[p.Stack] {
			continue
		}
		var inUse float64
		if n := len(p.History); n > 0 {
			inUse = p.History[n-1].InUseBytes
		}
		top = append(top, pageItem{
			Severity: p.Severity, Confidence: p.Confidence, Pattern: p.Type,
			Growth: growth(p.Evidence), InUse: render.Bytes(inUse),
			Leaf: leafOf(p.Frames).Function, Evidence: p.Evidence, Frames: p.Frames,
			Plot: render.SVG(render.NewPlot(p.History, p.Trend, time.Time{}, plotPoint)),
		})
	}
	return map[string]any{"R": rep, "Alerts": alerts, "Top": top, "Style": render.Style,
		"Last": rep.Cost.LastAnalysis.Round(time.Microsecond), "Mean": rep.Cost.MeanAnalysis.Round(time.Microsecond),
		"Storage": render.Bytes(float64(rep.Cost.StorageBytes))}
}

// plotPoint reads a Point as the page plots it: in-use bytes over time.
func plotPoint(q Point) render.Point { return render.Point{Time: q.Time, Value: q.InUseBytes} }

var reportPage = template.Must(template.New("leakguard").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"/><title>leakguard</title>
<style>{{.Style}}</style></head><body>
<h1>leakguard</h1>
<p class="meta">As of {{.R.Time.Format "2006-01-02 15:04:05 MST"}}: {{.R.Samples}} samples analysed in {{.R.Cycles}} cycles, {{.R.Tracked}} stacks tracked ({{.R.Evicted}} evicted).
Analysis of the last sample took {{.Last}} (mean {{.Mean}}); histories hold about {{.Storage}}.
{{if .R.Cost.SampleErrors}}<strong>{{.R.Cost.SampleErrors}} samples failed.</strong>{{end}}
{{if .R.Cost.DroppedAlerts}}<strong>{{.R.Cost.DroppedAlerts}} alerts dropped (callback queue full).</strong>{{end}}</p>
{{if .Alerts}}
<h2>{{len .Alerts}} growing stack(s)</h2>
<table><thead><tr><th>Severity</th><th>Confidence</th><th>Pattern</th><th>Growth</th><th>In use when flagged</th><th>Function</th></tr></thead><tbody>
{{range $i, $a := .Alerts}}<tr><td class="{{.Severity}}"><a href="#a{{$i}}">{{.Severity}}</a></td><td>{{printf "%.4f" .Confidence}}</td><td>{{.Pattern}}</td><td>{{.Growth}}</td><td>{{.InUse}}</td><td>{{.Leaf}}</td></tr>
{{end}}</tbody></table>
{{else}}<p><strong>No leak found so far.</strong> A stack is flagged once its growth has persisted through the detection window.</p>{{end}}
<p class="legend">Plots: blue, the stack's in-use bytes; dashed red, the fitted growth over the window that decided; brown line, when the stack was flagged.</p>
{{range $i, $a := .Alerts}}<section id="a{{$i}}">
<h3><span class="{{.Severity}}">{{.Severity}}</span> — {{.Leaf}}</h3>
<p>{{.Pattern}} growth of {{.Growth}} (95% interval of the fitted slope {{.Low}} to {{.High}}), {{.InUse}} in use when flagged,
confidence {{printf "%.4f" .Confidence}} (family-wise p = {{printf "%.2g" .Evidence.PValue}}), flagged {{.Detected}}.</p>
{{.Plot}}
<pre>{{range .Frames}}{{.Function}}{{if .File}}
    {{.File}}:{{.Line}}{{end}}
{{end}}</pre>
</section>
{{end}}
{{if .Top}}<h2>Most suspicious stacks not flagged</h2>
<p class="legend">The stacks closest to a decision. Confidence below the warning level is not evidence of a leak.</p>
{{range .Top}}<section>
<h3>{{.Leaf}} — confidence {{printf "%.4f" .Confidence}}</h3>
<p>{{.InUse}} in use now{{if .Pattern}}, {{.Pattern}} growth of {{.Growth}} at its most significant test{{end}}.</p>
{{.Plot}}
<pre>{{range .Frames}}{{.Function}}{{if .File}}
    {{.File}}:{{.Line}}{{end}}
{{end}}</pre>
</section>
{{end}}{{end}}
</body></html>
`))

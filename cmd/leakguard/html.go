package main

import (
	"html/template"
	"io"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/render"
	"github.com/leakguard/leakguard/sampler"
)

// writeHTML renders a self-contained report: no scripts, no external
// assets, one inline SVG plot per flagged stack, as of when each was
// flagged.
func writeHTML(w io.Writer, rep *report) error { return writeHTMLAt(w, rep, nil) }

// writeHTMLAt is writeHTML showing, beside what each flagged stack held
// when flagged, what it holds at the last profile, its history continued
// to there: current holds the stacks' state after the last profile
// (Detector.Patterns), matched to the alerts by resource and fingerprint.
// A flagged stack missing from current was forgotten to respect the stack
// bound; the report says so and shows it as flagged.
func writeHTMLAt(w io.Writer, rep *report, current []leakguard.Pattern) error {
	type key struct {
		r sampler.Resource
		s uint64
	}
	now := make(map[key]leakguard.Pattern, len(current))
	for _, p := range current {
		now[key{p.Resource, p.Stack}] = p
	}
	type item struct {
		N        int
		A        leakguard.Alert
		Plot     template.HTML
		Growth   string
		Low      string
		High     string
		InUse    string
		Leaf     string
		Location string
		Path     string
		Frames   []sampler.Frame
		Start    string
		// Known says whether the stack's state at the last profile is
		// known; Now is its latest in-use bytes then, NowAt its time, and
		// Since what it gained from the flag to there.
		Known      bool
		Now, NowAt string
		Since      string
		SinceRate  string
	}
	var items []item
	for i, a := range rep.alerts {
		leaf := a.Leaf()
		it := item{
			N: i + 1, A: a,
			Growth:   render.Bytes(a.Evidence.GrowthBytesPerSecond) + "/s",
			Low:      render.Bytes(a.Evidence.SlopeLow) + "/s",
			High:     render.Bytes(a.Evidence.SlopeHigh) + "/s",
			InUse:    render.Bytes(float64(a.Evidence.InUseBytes)),
			Leaf:     leaf.Function,
			Location: render.Location(leaf.File, leaf.Line),
		}
		if leaf.File != "" {
			it.Path = fileLine(leaf.File, leaf.Line)
		}
		for _, f := range a.Frames {
			if !render.Hidden(f.Function) {
				it.Frames = append(it.Frames, f)
			}
		}
		if !a.Evidence.GrowthStart.IsZero() {
			it.Start = a.Evidence.GrowthStart.UTC().Format(stamp)
		}
		hist := a.History
		if p, ok := now[key{a.Resource, a.Stack}]; ok && len(p.History) > 0 {
			hist = render.Continue(a.History, p.History, func(q leakguard.Point) time.Time { return q.Time })
			last := p.History[len(p.History)-1]
			it.Known, it.Now, it.NowAt = true, render.Bytes(last.InUseBytes), last.Time.UTC().Format(stamp)
			if dt := last.Time.Sub(a.Time); dt > 0 {
				gain := last.InUseBytes - float64(a.Evidence.InUseBytes)
				it.Since = render.SignedBytes(gain)
				it.SinceRate = render.SignedBytes(gain/dt.Seconds()) + "/s"
			}
		}
		it.Plot = render.SVG(render.NewPlot(hist, a.Trend, a.Time, func(q leakguard.Point) render.Point {
			return render.Point{Time: q.Time, Value: q.InUseBytes}
		}))
		items = append(items, it)
	}
	type suspect struct {
		Leaf, Location, Path, Growth, InUse, Lacks string
	}
	var suspects []suspect
	for _, a := range rep.suspects {
		leaf := site(a)
		sp := suspect{Leaf: leaf.Function, Location: render.Location(leaf.File, leaf.Line),
			Growth: render.Bytes(a.Evidence.GrowthBytesPerSecond) + "/s", InUse: render.Bytes(float64(a.Evidence.InUseBytes)), Lacks: a.Evidence.Lacks}
		if leaf.File != "" {
			sp.Path = fileLine(leaf.File, leaf.Line)
		}
		suspects = append(suspects, sp)
	}
	return page.Execute(w, map[string]any{
		"Style":    render.Style,
		"Rep":      rep,
		"Suspects": suspects,
		"Items":    items,
		"Current":  current != nil,
		"Span":     rep.End.Sub(rep.Start).Round(time.Second).String(),
		"Limit":    rep.detectionLimit(),
	})
}

// stamp is how the report writes a moment.
const stamp = "2006-01-02 15:04:05 MST"

var page = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"/><meta name="viewport" content="width=device-width, initial-scale=1"/><title>leakguard report</title>
<style>{{.Style}}</style></head><body>
<h1>leakguard report</h1>
<p>{{.Rep.Profiles}} profiles from {{.Rep.Start.Format "2006-01-02 15:04:05 MST"}} to {{.Rep.End.Format "2006-01-02 15:04:05 MST"}} ({{.Span}}).
{{if not .Items}}<strong>No leak found.</strong>{{with .Limit}} {{.}}.{{end}}{{else}}{{len .Items}} flagged {{if eq (len .Items) 1}}stack{{else}}stacks{{end}}.{{end}}
{{if eq .Rep.Verdict "inconclusive"}}<strong>Inconclusive:</strong> {{.Rep.Reason}}.{{end}}</p>
{{if .Suspects}}<h2>{{len .Suspects}} {{if eq (len .Suspects) 1}}suspect{{else}}suspects{{end}}: growing, not yet confirmed</h2>
<div class="scroll"><table><thead><tr><th class="num">In use</th><th class="num">Growth</th><th>Function</th><th>Location</th><th>What it lacks</th></tr></thead><tbody>
{{range .Suspects}}<tr><td class="num">{{.InUse}}</td><td class="num">{{.Growth}}</td><td>{{.Leaf}}</td><td class="location" title="{{.Path}}">{{.Location}}</td><td>{{.Lacks}}</td></tr>
{{end}}</tbody></table></div>{{end}}
{{if .Items}}
<div class="scroll"><table><thead><tr><th>#</th><th>Severity</th>{{if .Current}}<th class="num">In use at the last profile</th>{{end}}<th class="num">When flagged</th><th class="num">Growth</th><th>Function</th><th>Location</th><th>Pattern</th><th class="num">Confidence</th></tr></thead><tbody>
{{range .Items}}<tr><td><a href="#s{{.N}}">{{.N}}</a></td><td class="{{.A.Severity}}">{{.A.Severity}}</td>{{if $.Current}}<td class="num now">{{if .Known}}{{.Now}}{{else}}no longer tracked{{end}}</td>{{end}}<td class="num flagged">{{.InUse}}</td><td class="num">{{.Growth}}</td><td>{{.Leaf}}</td><td class="location" title="{{.Path}}">{{.Location}}</td><td>{{.A.Pattern}}</td><td class="num">{{printf "%.4f" .A.Confidence}}</td></tr>
{{end}}</tbody></table></div>
<p class="legend">Plots: blue, the stack's in-use bytes up to its latest point (the dot); dashed red, the fitted growth over the window that decided; brown line, the profile at which the stack was flagged.</p>
{{end}}
{{range .Items}}<section id="s{{.N}}">
<h2>#{{.N}} <span class="{{.A.Severity}}">{{.A.Severity}}</span> — {{.Leaf}}{{if .Location}} <small title="{{.Path}}">({{.Location}})</small>{{end}}</h2>
<p>{{if .Known}}<strong>{{.Now}} in use at the last profile</strong> ({{.NowAt}}){{if .Since}}, {{.Since}} since it was flagged ({{.SinceRate}} on average){{end}}.
{{else if $.Current}}<span class="note">No longer tracked at the last profile: the stack was forgotten to keep within the stack bound; the figures and plot are as of when it was flagged.</span>
{{end}}Flagged at profile {{.A.Index}} ({{.A.Time.UTC.Format "2006-01-02 15:04:05 MST"}}) with {{.InUse}} in use{{if .Start}}, growing since about {{.Start}}{{end}}:
{{.A.Pattern}} growth of {{.Growth}} (95% interval of the fitted slope {{.Low}} to {{.High}}),
confidence {{printf "%.4f" .A.Confidence}} (family-wise p = {{printf "%.2g" .A.Evidence.PValue}}).</p>
{{.Plot}}
<pre>{{range .Frames}}{{.Function}}{{if .File}}
    {{.File}}:{{.Line}}{{end}}
{{end}}</pre>
</section>
{{end}}
</body></html>
`))

package leakguard

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/leakguard/leakguard/internal/render"
	"github.com/leakguard/leakguard/sampler"
)

// Handler serves the Guard's Report for people and programs: an HTML page
// listing flagged stacks and the most suspicious others, each with what it
// holds now beside what it held when flagged, its in-use history up to now
// drawn as an inline SVG over a time axis (the fitted trend dashed, the
// flag marked), its evidence and its stack; with ?format=json, the Report
// as JSON (whose Alerts are snapshots taken when they were raised, and
// whose Top is current). The page has no scripts, loads nothing from the
// network and fits a narrow window.
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
		_ = reportPage.Execute(w, pageData(rep, g.Patterns))
	})
}

// maxPageAlerts bounds the flagged stacks the page shows in full; the
// JSON has them all.
const maxPageAlerts = 100

// pageItem is one stack as the page shows it.
type pageItem struct {
	Severity   Severity
	Confidence float64
	Pattern    PatternType
	Evidence   Evidence
	Growth     string
	Low, High  string
	Leaf       string
	// Location is the leaf's short file:line, Path its full one.
	Location, Path string
	Frames         []sampler.Frame
	Plot           template.HTML

	// Flagged is when the stack was flagged, FlaggedBytes what it held
	// then (FlaggedInUse formatted); zero for a stack not flagged.
	Flagged      string
	FlaggedBytes int64
	FlaggedInUse string
	// Current says whether the Guard still tracks the stack; NowBytes is
	// its latest in-use value (NowInUse formatted), observed at NowAt.
	Current  bool
	NowBytes int64
	NowInUse string
	NowAt    string
	// Newer says whether the latest value is newer than the flag, and
	// Since and SinceRate what the stack gained from the flag to it.
	Newer            bool
	Since, SinceRate string
	GrowthStart      string
}

// stackKey identifies a tracked stack across a Report and the Guard's
// current patterns.
type stackKey struct {
	resource sampler.Resource
	stack    uint64
}

// pageData lays the Report out for the page. An alert is a snapshot taken
// when it was raised; what the stack holds now comes from the Guard's
// current patterns — the Report's Top, or, for flagged stacks not among
// them, all patterns (read once, and only then).
func pageData(rep Report, patterns func() []Pattern) map[string]any {
	current := map[stackKey]Pattern{}
	for _, p := range rep.Top {
		current[stackKey{p.Resource, p.Stack}] = p
	}
	shown := rep.Alerts[:min(len(rep.Alerts), maxPageAlerts)]
	for _, a := range shown {
		if _, ok := current[stackKey{a.Resource, a.Stack}]; !ok {
			for _, p := range patterns() {
				current[stackKey{p.Resource, p.Stack}] = p
			}
			break
		}
	}
	var alerts, top []pageItem
	flagged := map[stackKey]bool{}
	for _, a := range rep.Alerts {
		flagged[stackKey{a.Resource, a.Stack}] = true
	}
	for _, a := range shown {
		it := newPageItem(a.Frames, a.Evidence)
		it.Severity, it.Confidence, it.Pattern = a.Severity, a.Confidence, a.Pattern
		it.Flagged = a.Time.Format(time.DateTime)
		it.FlaggedBytes = a.Evidence.InUseBytes
		it.FlaggedInUse = render.Bytes(float64(a.Evidence.InUseBytes))
		hist := a.History
		if p, ok := current[stackKey{a.Resource, a.Stack}]; ok && len(p.History) > 0 {
			hist = render.Continue(a.History, p.History, func(q Point) time.Time { return q.Time })
			it.Current = true
			last := p.History[len(p.History)-1]
			it.NowBytes, it.NowInUse, it.NowAt = int64(last.InUseBytes), render.Bytes(last.InUseBytes), last.Time.Format(time.TimeOnly)
			if dt := last.Time.Sub(a.Time); dt > 0 {
				gain := last.InUseBytes - float64(a.Evidence.InUseBytes)
				it.Newer = true
				it.Since = render.SignedBytes(gain)
				it.SinceRate = render.SignedBytes(gain/dt.Seconds()) + "/s"
			}
		}
		it.Plot = render.SVG(render.NewPlot(hist, a.Trend, a.Time, plotPoint))
		alerts = append(alerts, it)
	}
	for _, p := range rep.Top {
		if flagged[stackKey{p.Resource, p.Stack}] {
			continue
		}
		it := newPageItem(p.Frames, p.Evidence)
		it.Severity, it.Confidence, it.Pattern = p.Severity, p.Confidence, p.Type
		if n := len(p.History); n > 0 {
			last := p.History[n-1]
			it.Current = true
			it.NowBytes, it.NowInUse, it.NowAt = int64(last.InUseBytes), render.Bytes(last.InUseBytes), last.Time.Format(time.TimeOnly)
		}
		it.Plot = render.SVG(render.NewPlot(p.History, p.Trend, time.Time{}, plotPoint))
		top = append(top, it)
	}
	var suspects []pageItem
	for _, a := range rep.Suspects {
		it := newPageItem(a.Frames, a.Evidence)
		it.NowInUse = render.Bytes(float64(a.Evidence.InUseBytes))
		suspects = append(suspects, it)
	}
	return map[string]any{"R": rep, "Alerts": alerts, "More": len(rep.Alerts) - len(shown), "Top": top, "Suspects": suspects, "Style": render.Style,
		"Last": rep.Stats.LastAnalysis.Round(time.Microsecond), "Mean": rep.Stats.MeanAnalysis.Round(time.Microsecond),
		"Storage": render.Bytes(float64(rep.Stats.StorageBytes))}
}

// newPageItem fills what every stack shows: where it allocates, its
// frames without the runtime's plumbing, and its evidence.
func newPageItem(frames []sampler.Frame, ev Evidence) pageItem {
	leaf := leafOf(frames)
	it := pageItem{
		Evidence: ev, Leaf: leaf.Function, Location: render.Location(leaf.File, leaf.Line),
		Growth: render.Bytes(ev.GrowthBytesPerSecond) + "/s",
		Low:    render.Bytes(ev.SlopeLow) + "/s", High: render.Bytes(ev.SlopeHigh) + "/s",
	}
	if leaf.File != "" {
		it.Path = fmt.Sprintf("%s:%d", leaf.File, leaf.Line)
	}
	for _, f := range frames {
		if !render.Hidden(f.Function) {
			it.Frames = append(it.Frames, f)
		}
	}
	if !ev.GrowthStart.IsZero() {
		it.GrowthStart = ev.GrowthStart.Format(time.TimeOnly)
	}
	return it
}

// plotPoint reads a Point as the page plots it: in-use bytes over time.
func plotPoint(q Point) render.Point { return render.Point{Time: q.Time, Value: q.InUseBytes} }

var reportPage = template.Must(template.New("leakguard").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"/><meta name="viewport" content="width=device-width, initial-scale=1"/><title>leakguard</title>
<style>{{.Style}}</style></head><body>
<h1>leakguard</h1>
<p class="meta">As of {{.R.Time.Format "2006-01-02 15:04:05 MST"}}: {{.R.Stats.Samples}} samples analysed in {{.R.Stats.Cycles}} cycles, {{.R.Stats.Tracked}} stacks tracked ({{.R.Stats.Evicted}} evicted).
Analysis of the last sample took {{.Last}} (mean {{.Mean}}); histories hold about {{.Storage}}.
{{if .R.Stats.SampleErrors}}<strong>{{.R.Stats.SampleErrors}} samples failed.</strong>{{end}}
{{if .R.Stats.DroppedAlerts}}<strong>{{.R.Stats.DroppedAlerts}} alerts dropped (callback queue full).</strong>{{end}}</p>
{{if .Alerts}}
<h2>{{len .Alerts}} flagged {{if eq (len .Alerts) 1}}stack{{else}}stacks{{end}}</h2>
<div class="scroll"><table><thead><tr><th>Severity</th><th class="num">In use now</th><th class="num">When flagged</th><th class="num">Growth</th><th>Function</th><th>Location</th><th>Pattern</th><th class="num">Confidence</th></tr></thead><tbody>
{{range $i, $a := .Alerts}}<tr><td class="{{.Severity}}"><a href="#a{{$i}}">{{.Severity}}</a></td><td class="num now" data-bytes="{{if .Current}}{{.NowBytes}}{{end}}">{{if .Current}}{{.NowInUse}}{{else}}no longer tracked{{end}}</td><td class="num flagged" data-bytes="{{.FlaggedBytes}}">{{.FlaggedInUse}}</td><td class="num">{{.Growth}}</td><td>{{.Leaf}}</td><td class="location" title="{{.Path}}">{{.Location}}</td><td>{{.Pattern}}</td><td class="num">{{printf "%.4f" .Confidence}}</td></tr>
{{end}}</tbody></table></div>
{{if .More}}<p>{{.More}} more flagged {{if eq .More 1}}stack{{else}}stacks{{end}}: see <a href="?format=json">the JSON</a>.</p>{{end}}
{{else}}<p><strong>No leak found so far.</strong> A stack is flagged once its growth has persisted beyond the {{.R.Verdict.Horizon}} horizon with enough sampled objects.{{if .R.Verdict.Inconclusive}} {{.R.Verdict.Reason}}.{{else if .R.Verdict.AlertNeeds}} At the newest look a stack growing steadily would have had to retain at least {{.R.Verdict.AlertNeeds}} sampled objects to be alerted, {{.R.Verdict.SuspectNeeds}} to be a suspect.{{end}}</p>{{end}}
{{if .Suspects}}<h2>{{len .Suspects}} {{if eq (len .Suspects) 1}}suspect{{else}}suspects{{end}}: growing, not yet confirmed</h2>
<div class="scroll"><table><thead><tr><th class="num">In use</th><th class="num">Growth</th><th>Function</th><th>Location</th><th>What it lacks</th></tr></thead><tbody>
{{range .Suspects}}<tr><td class="num">{{.NowInUse}}</td><td class="num">{{.Growth}}</td><td>{{.Leaf}}</td><td class="location" title="{{.Path}}">{{.Location}}</td><td>{{.Evidence.Lacks}}</td></tr>
{{end}}</tbody></table></div>{{end}}
<p class="legend">Plots: blue, the stack's in-use bytes up to the latest point (the dot); dashed red, the fitted growth over the window that decided; brown line, when the stack was flagged. "In use now" is the stack's latest recorded point.</p>
{{range $i, $a := .Alerts}}<section id="a{{$i}}">
<h3><span class="{{.Severity}}">{{.Severity}}</span> — {{.Leaf}}{{if .Location}} <small title="{{.Path}}">({{.Location}})</small>{{end}}</h3>
<p>{{if .Current}}<strong>{{.NowInUse}} in use now</strong> (as of {{.NowAt}}){{if .Newer}}, {{.Since}} since it was flagged ({{.SinceRate}} on average){{else}}; no newer point than the flag yet{{end}}.
{{else}}<span class="note">No longer tracked: the stack was forgotten to keep within WithMaxStacks, so what it holds now is unknown; the figures and plot are as of when it was flagged.</span>
{{end}}Flagged {{.Flagged}} with {{.FlaggedInUse}} in use{{if .GrowthStart}}, growing since about {{.GrowthStart}}{{end}}:
{{.Pattern}} growth of {{.Growth}} (95% interval of the fitted slope {{.Low}} to {{.High}}),
confidence {{printf "%.4f" .Confidence}} (family-wise p = {{printf "%.2g" .Evidence.PValue}}).</p>
{{.Plot}}
<pre>{{range .Frames}}{{.Function}}{{if .File}}
    {{.File}}:{{.Line}}{{end}}
{{end}}</pre>
</section>
{{end}}
{{if .Top}}<h2>Most suspicious stacks not flagged</h2>
<p class="legend">The stacks closest to a decision. Confidence below the warning level is not evidence of a leak.</p>
{{range .Top}}<section>
<h3>{{.Leaf}}{{if .Location}} <small title="{{.Path}}">({{.Location}})</small>{{end}} — confidence {{printf "%.4f" .Confidence}}</h3>
<p>{{if .Current}}{{.NowInUse}} in use now (as of {{.NowAt}}){{end}}{{if .Pattern}}, {{.Pattern}} growth of {{.Growth}} at its most significant test{{end}}.</p>
{{.Plot}}
<pre>{{range .Frames}}{{.Function}}{{if .File}}
    {{.File}}:{{.Line}}{{end}}
{{end}}</pre>
</section>
{{end}}{{end}}
</body></html>
`))

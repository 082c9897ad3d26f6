// Package render draws leakguard's findings for people: human byte units
// and the inline SVG plot of a stack's history shared by the CLI's HTML
// report and the library's HTTP handler. It depends on nothing in
// leakguard, so both can import it.
package render

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"
)

// Bytes formats a byte count in binary units ("14.3 MiB").
func Bytes(v float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for (v >= 1024 || v <= -1024) && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f %s", v, units[i])
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}

// Style is the stylesheet the HTML page and the CLI's report share.
const Style template.CSS = `body{font-family:system-ui,sans-serif;margin:2em;color:#1f2328;max-width:62em}
table{border-collapse:collapse}td,th{padding:.25em .6em;border-bottom:1px solid #ddd;text-align:left}
.alert{color:#d1242f;font-weight:bold}.warning{color:#9a6700;font-weight:bold}
pre{background:#f6f8fa;padding:.6em;overflow-x:auto;font-size:.85em}
.legend,.meta{font-size:.85em;color:#555}
section{margin-top:2em}`

// Point is one observation of a stack's in-use bytes.
type Point struct {
	Time  time.Time
	Value float64
}

// Plot is what one stack's picture shows.
type Plot struct {
	// History is the in-use series, oldest first.
	History []Point
	// Trend holds the end points of the fitted growth line; zero times
	// mean there is none.
	Trend [2]Point
	// Detected is when the stack was flagged; zero if it was not.
	Detected time.Time
}

// NewPlot builds a Plot from a history and trend of any point type, read
// through at.
func NewPlot[P any](hist []P, trend [2]P, detected time.Time, at func(P) Point) Plot {
	p := Plot{Detected: detected, History: make([]Point, len(hist))}
	for i, q := range hist {
		p.History[i] = at(q)
	}
	for i, q := range trend {
		p.Trend[i] = at(q)
	}
	return p
}

// SVG draws the history as a line, the fitted trend as a dashed line and
// the detection time as a marker, with the value range and time span
// labelled. It needs no script and no external asset. Fewer than two
// points draw nothing.
func SVG(p Plot) template.HTML {
	const w, h, pad = 640.0, 220.0, 44.0
	hist := p.History
	if len(hist) < 2 {
		return ""
	}
	t0, t1 := hist[0].Time, hist[len(hist)-1].Time
	if p.Detected.After(t1) {
		t1 = p.Detected
	}
	span := t1.Sub(t0).Seconds()
	if span <= 0 {
		span = 1
	}
	hasTrend := !p.Trend[0].Time.IsZero() && !p.Trend[1].Time.IsZero()
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, q := range hist {
		lo, hi = math.Min(lo, q.Value), math.Max(hi, q.Value)
	}
	if hasTrend {
		for _, q := range p.Trend {
			lo, hi = math.Min(lo, q.Value), math.Max(hi, q.Value)
		}
	}
	if hi <= lo {
		hi = lo + 1
	}
	x := func(t time.Time) float64 { return pad + (w-2*pad)*t.Sub(t0).Seconds()/span }
	y := func(v float64) float64 { return h - pad/2 - (h-pad)*(v-lo)/(hi-lo) }
	pts := make([]string, 0, len(hist))
	for _, q := range hist {
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(q.Time), y(q.Value)))
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img" aria-label="in-use bytes over time">`, w, h, w, h)
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%.0f" height="%.0f" fill="#fff" stroke="#ddd"/>`, w, h)
	fmt.Fprintf(&b, `<text x="4" y="14" font-size="11" fill="#555">%s</text>`, template.HTMLEscapeString("max "+Bytes(hi)))
	// The minimum goes under the plot area, where a line starting low
	// cannot run through it.
	fmt.Fprintf(&b, `<text x="4" y="%.0f" font-size="11" fill="#555">%s</text>`, h-4, template.HTMLEscapeString("min "+Bytes(lo)))
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="11" fill="#555" text-anchor="end">%s</text>`, w-pad, h-4,
		template.HTMLEscapeString("span "+(time.Duration(span*float64(time.Second))).Round(time.Millisecond).String()))
	fmt.Fprintf(&b, `<polyline fill="none" stroke="#1f6feb" stroke-width="1.5" points="%s"/>`, strings.Join(pts, " "))
	if hasTrend {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#d1242f" stroke-width="2" stroke-dasharray="6 3"/>`,
			x(p.Trend[0].Time), y(p.Trend[0].Value), x(p.Trend[1].Time), y(p.Trend[1].Value))
	}
	if !p.Detected.IsZero() {
		dx := x(p.Detected)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#9a6700" stroke-width="1"/>`, dx, pad/2, dx, h-pad/2)
		// Bottom right: a growing line ends top right.
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" font-size="11" fill="#9a6700" text-anchor="end">flagged</text>`, dx-3, h-pad/2-4)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

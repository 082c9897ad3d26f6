// Package render draws leakguard's findings for people: human byte units,
// stack locations and the inline SVG plot of a stack's history shared by
// the CLI's HTML report and the library's HTTP handler. It depends on
// nothing in leakguard, so both can import it.
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

// SignedBytes formats a byte difference with its sign ("+14.3 MiB").
func SignedBytes(v float64) string {
	if v >= 0 {
		return "+" + Bytes(v)
	}
	return "−" + Bytes(-v)
}

// ShortFile keeps the last two elements of a slash-separated path
// ("leaky/main.go"): enough to tell files apart in a table, short enough
// for a narrow window.
func ShortFile(path string) string {
	parts := strings.Split(path, "/")
	if len(parts) > 2 {
		return strings.Join(parts[len(parts)-2:], "/")
	}
	return path
}

// Location formats a frame's position as short file:line, or "" when the
// frame has no file.
func Location(file string, line int) string {
	if file == "" {
		return ""
	}
	return fmt.Sprintf("%s:%d", ShortFile(file), line)
}

// Hidden reports whether a stack frame of this function is the runtime's
// plumbing beneath every goroutine rather than anything a reader can act
// on.
func Hidden(function string) bool { return function == "runtime.goexit" }

// Style is the stylesheet the HTML page and the CLI's report share. It
// fits a phone's width: tables scroll inside their box and plots scale.
const Style template.CSS = `body{font-family:system-ui,sans-serif;margin:2em;color:#1f2328;max-width:62em}
@media (max-width:40em){body{margin:.6em}}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:.92em}td,th{padding:.25em .5em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
td.num,th.num{text-align:right}td.num{white-space:nowrap}
.alert{color:#d1242f;font-weight:bold}.warning{color:#9a6700;font-weight:bold}
pre{background:#f6f8fa;padding:.6em;overflow-x:auto;font-size:.85em}
.legend,.meta{font-size:.85em;color:#555}
.note{background:#fff8c5;padding:.4em .6em}
svg.plot{display:block;width:100%;max-width:40em;height:auto}
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

// Continue joins a history recorded up to some moment (an alert's) with
// the stack's history as it stands now, both oldest first and timed by
// at: the older points the newer history no longer holds, then the newer
// history. Either may be empty.
func Continue[P any](then, now []P, at func(P) time.Time) []P {
	if len(now) == 0 {
		return then
	}
	start := at(now[0])
	out := make([]P, 0, len(then)+len(now))
	for _, q := range then {
		if at(q).Before(start) {
			out = append(out, q)
		}
	}
	return append(out, now...)
}

// Plot geometry, in the SVG's own units: the picture scales to the width
// of its container, so these set proportions and the text's relative size.
const (
	plotW, plotH            = 600.0, 240.0
	padLeft, padRight       = 76.0, 14.0
	padTop, padBottom       = 14.0, 34.0
	fontSize                = 13
	maxTimeTicks, valueRows = 5, 4
)

// SVG draws the history as a line ending in a dot (the latest point), the
// fitted trend as a dashed line and the detection time as a marked
// vertical line, over a time axis (clock times) and a bytes axis. It scales to its container's width (a viewBox
// and no fixed size), needs no script and no external asset. Fewer than
// two points draw nothing.
func SVG(p Plot) template.HTML {
	hist := p.History
	if len(hist) < 2 {
		return ""
	}
	t0, t1 := hist[0].Time, hist[len(hist)-1].Time
	if !p.Detected.IsZero() {
		if p.Detected.Before(t0) {
			t0 = p.Detected
		}
		if p.Detected.After(t1) {
			t1 = p.Detected
		}
	}
	span := t1.Sub(t0).Seconds()
	if !(span > 0) {
		span = 1
	}
	hasTrend := !p.Trend[0].Time.IsZero() && !p.Trend[1].Time.IsZero()
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, q := range hist {
		lo, hi = math.Min(lo, q.Value), math.Max(hi, q.Value)
	}
	trend := p.Trend
	if hasTrend {
		// A fitted line may start below zero; bytes in use cannot, so the
		// axis stops at zero and the line is cut there.
		floor := math.Inf(-1)
		if lo >= 0 {
			floor = 0
		}
		trend = clipBelow(trend, floor)
		for _, q := range trend {
			lo, hi = math.Min(lo, q.Value), math.Max(hi, q.Value)
		}
	}
	if hi == lo {
		hi = lo + 1
	}
	if !(hi > lo) || math.IsInf(hi, 0) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsNaN(lo) {
		return ""
	}
	innerW, innerH := plotW-padLeft-padRight, plotH-padTop-padBottom
	x := func(t time.Time) float64 { return padLeft + innerW*t.Sub(t0).Seconds()/span }
	y := func(v float64) float64 { return padTop + innerH*(1-(v-lo)/(hi-lo)) }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="plot" width="100%%" viewBox="0 0 %.0f %.0f" preserveAspectRatio="xMidYMid meet" role="img" aria-label="%s">`,
		plotW, plotH, template.HTMLEscapeString(fmt.Sprintf("in-use bytes from %s to %s, %s to %s", clock(t0, span), clock(t1, span), Bytes(lo), Bytes(hi))))
	fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="#fff" stroke="#ddd"/>`, padLeft, padTop, innerW, innerH)
	// Bytes axis: evenly spaced gridlines, labelled at the left.
	for i := 0; i <= valueRows; i++ {
		v := lo + (hi-lo)*float64(i)/valueRows
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#eee"/>`, padLeft, y(v), plotW-padRight, y(v))
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" font-size="%d" fill="#555" text-anchor="end" dominant-baseline="middle">%s</text>`,
			padLeft-6, y(v), fontSize, template.HTMLEscapeString(Bytes(v)))
	}
	// Time axis: clock times at a round step.
	step := tickStep(span)
	first := t0.Truncate(step)
	if first.Before(t0) {
		first = first.Add(step)
	}
	for t := first; !t.After(t1); t = t.Add(step) {
		tx := x(t)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#999"/>`, tx, plotH-padBottom, tx, plotH-padBottom+4)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" font-size="%d" fill="#555" text-anchor="middle">%s</text>`,
			tx, plotH-padBottom+18, fontSize, template.HTMLEscapeString(clock(t, step.Seconds())))
	}
	pts := make([]string, 0, len(hist))
	for _, q := range hist {
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(q.Time), y(q.Value)))
	}
	fmt.Fprintf(&b, `<polyline class="history" fill="none" stroke="#1f6feb" stroke-width="2" points="%s"/>`, strings.Join(pts, " "))
	last := hist[len(hist)-1]
	fmt.Fprintf(&b, `<circle class="latest" cx="%.1f" cy="%.1f" r="3.5" fill="#1f6feb"/>`, x(last.Time), y(last.Value))
	if hasTrend {
		fmt.Fprintf(&b, `<line class="trend" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#d1242f" stroke-width="2" stroke-dasharray="6 3"/>`,
			x(trend[0].Time), y(trend[0].Value), x(trend[1].Time), y(trend[1].Value))
	}
	if !p.Detected.IsZero() {
		dx := x(p.Detected)
		fmt.Fprintf(&b, `<line class="flag" x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#9a6700" stroke-width="1.5"/>`, dx, padTop, dx, plotH-padBottom)
		// The label sits on the side with more room, at the top: a growing
		// line is low on the left.
		anchor, lx := "start", dx+4
		if dx > padLeft+innerW/2 {
			anchor, lx = "end", dx-4
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" font-size="%d" fill="#9a6700" text-anchor="%s">flagged %s</text>`,
			lx, padTop+fontSize+2, fontSize, anchor, template.HTMLEscapeString(clock(p.Detected, 1)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// clipBelow cuts the segment where it crosses floor, keeping the part at
// or above it (a segment wholly below is flattened onto the floor).
func clipBelow(seg [2]Point, floor float64) [2]Point {
	a, b := seg[0], seg[1]
	switch {
	case a.Value >= floor && b.Value >= floor:
		return seg
	case a.Value < floor && b.Value < floor:
		a.Value, b.Value = floor, floor
		return [2]Point{a, b}
	}
	f := (floor - a.Value) / (b.Value - a.Value)
	cut := Point{Time: a.Time.Add(time.Duration(f * float64(b.Time.Sub(a.Time)))), Value: floor}
	if a.Value < floor {
		return [2]Point{cut, b}
	}
	return [2]Point{a, cut}
}

// tickSteps are the round steps a time axis may use.
var tickSteps = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// tickStep is the smallest round step that puts at most maxTimeTicks
// ticks over span seconds.
func tickStep(span float64) time.Duration {
	for _, s := range tickSteps {
		if span/s.Seconds() <= maxTimeTicks {
			return s
		}
	}
	return time.Duration(math.Ceil(span/maxTimeTicks/86400)) * 24 * time.Hour
}

// clock formats a time as precisely as a resolution of res seconds needs.
func clock(t time.Time, res float64) string {
	switch {
	case res >= 86400:
		return t.Format("Jan 2")
	case res >= 60:
		return t.Format("15:04")
	}
	return t.Format("15:04:05")
}

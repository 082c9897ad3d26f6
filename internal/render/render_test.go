package render

import (
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func series(n int, step time.Duration, f func(i int) float64) []Point {
	out := make([]Point, n)
	for i := range out {
		out[i] = Point{Time: t0.Add(time.Duration(i) * step), Value: f(i)}
	}
	return out
}

// elements parses an SVG as strict XML and returns its elements by name.
func elements(t *testing.T, svg string) map[string][]xml.StartElement {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(svg))
	dec.Strict = true
	out := map[string][]xml.StartElement{}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		if se, ok := tok.(xml.StartElement); ok {
			out[se.Name.Local] = append(out[se.Name.Local], se)
		}
	}
}

func attr(se xml.StartElement, name string) string {
	for _, a := range se.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func TestRenderSVG(t *testing.T) {
	linear := series(31, time.Second, func(i int) float64 { return float64(i) * (1 << 20) })
	tests := []struct {
		name     string
		plot     Plot
		empty    bool
		contains []string
	}{
		{"one point", Plot{History: linear[:1]}, true, nil},
		{"not a number", Plot{History: series(5, time.Second, func(int) float64 { return math.NaN() })}, true, nil},
		{"infinite", Plot{History: series(5, time.Second, func(i int) float64 { return math.Inf(i%2*2 - 1) })}, true, nil},
		{"same time", Plot{History: series(5, 0, func(i int) float64 { return float64(i) })}, false, nil},
		{"flat", Plot{History: series(5, time.Second, func(int) float64 { return 7 })}, false, nil},
		{"flagged inside", Plot{History: linear, Detected: t0.Add(10 * time.Second), Trend: [2]Point{linear[0], linear[10]}},
			false, []string{"flagged 12:00:10", "12:00:00", "12:00:30", "30.0 MiB", `class="trend"`, `class="flag"`}},
		{"flagged after the history", Plot{History: linear[:10], Detected: t0.Add(20 * time.Second)}, false, []string{"flagged 12:00:20"}},
		{"trend below zero", Plot{History: linear, Trend: [2]Point{{Time: t0, Value: -(4 << 20)}, {Time: t0.Add(30 * time.Second), Value: 30 << 20}}},
			false, []string{">0 B<"}},
		{"days", Plot{History: series(10, 12*time.Hour, func(i int) float64 { return float64(i) })}, false, []string{"Mar 2"}},
		{"minutes", Plot{History: series(10, time.Minute, func(i int) float64 { return float64(i) })}, false, []string{">12:04<"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svg := string(SVG(tc.plot))
			if tc.empty {
				require.Empty(t, svg)
				return
			}
			els := elements(t, svg)
			require.Len(t, els["svg"], 1)
			root := els["svg"][0]
			require.Equal(t, "100%", attr(root, "width"), "scales to its container")
			require.Empty(t, attr(root, "height"), "no fixed size")
			require.Equal(t, "0 0 600 240", attr(root, "viewBox"))
			require.Len(t, els["polyline"], 1)
			require.Len(t, strings.Fields(attr(els["polyline"][0], "points")), len(tc.plot.History))
			for _, s := range tc.contains {
				require.Contains(t, svg, s)
			}
			// Every x inside the viewBox: nothing drawn off the picture.
			for _, name := range []string{"line", "text", "circle"} {
				for _, el := range els[name] {
					for _, a := range []string{"x", "x1", "x2", "cx"} {
						if v := attr(el, a); v != "" {
							require.NotContains(t, v, "NaN")
						}
					}
				}
			}
		})
	}
}

func TestRenderClipBelow(t *testing.T) {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	tests := []struct {
		name string
		in   [2]Point
		want [2]Point
	}{
		{"above", [2]Point{{at(0), 1}, {at(10), 5}}, [2]Point{{at(0), 1}, {at(10), 5}}},
		{"starts below", [2]Point{{at(0), -5}, {at(10), 5}}, [2]Point{{at(5), 0}, {at(10), 5}}},
		{"ends below", [2]Point{{at(0), 5}, {at(10), -5}}, [2]Point{{at(0), 5}, {at(5), 0}}},
		{"below", [2]Point{{at(0), -5}, {at(10), -1}}, [2]Point{{at(0), 0}, {at(10), 0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, clipBelow(tc.in, 0))
		})
	}
}

func TestRenderTickStep(t *testing.T) {
	tests := []struct {
		span float64
		want time.Duration
	}{
		{1, time.Second},
		{30, 10 * time.Second},
		{600, 2 * time.Minute},
		{7200, 30 * time.Minute},
		{86400, 6 * time.Hour},
		{30 * 86400, 6 * 24 * time.Hour},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, tickStep(tc.span), "span %v s", tc.span)
	}
}

func TestRenderContinue(t *testing.T) {
	at := func(p Point) time.Time { return p.Time }
	then := series(10, time.Second, func(i int) float64 { return float64(i) })
	now := series(20, time.Second, func(i int) float64 { return float64(i) })[5:]
	tests := []struct {
		name      string
		then, now []Point
		want      int
	}{
		{"overlap", then, now, 20},
		{"nothing now", then, nil, 10},
		{"nothing then", nil, now, 15},
		{"now older", now, then, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Continue(tc.then, tc.now, at)
			require.Len(t, got, tc.want)
			for i := 1; i < len(got); i++ {
				require.True(t, got[i].Time.After(got[i-1].Time), "oldest first, no repeats")
			}
		})
	}
}

func TestRenderText(t *testing.T) {
	require.Equal(t, "leaky/main.go:36", Location("/work/repo/examples/leaky/main.go", 36))
	require.Equal(t, "main.go:3", Location("main.go", 3))
	require.Empty(t, Location("", 0))
	require.True(t, Hidden("runtime.goexit"))
	require.False(t, Hidden("runtime.main"))
	require.Equal(t, "+1.5 KiB", SignedBytes(1536))
	require.Equal(t, "−2 B", SignedBytes(-2))
	require.Equal(t, "1.0 TiB", Bytes(1<<40))
}

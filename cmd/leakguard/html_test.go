package main

import (
	"encoding/xml"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/sampler"
)

// htmlRun feeds a Detector a stack that leaks 1 MiB a second for two
// minutes, flagged well before the end.
func htmlRun(t *testing.T) (*leakguard.Detector, *report) {
	t.Helper()
	det, err := leakguard.NewDetector(leakguard.WithHorizon(30 * time.Second))
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(3, 3))
	var live int64
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	frames := []sampler.Frame{
		{Function: "main.handleRequest", File: "/src/examples/leaky/main.go", Line: 36},
		{Function: "runtime.goexit", File: "/go/src/runtime/asm_amd64.s", Line: 1771},
	}
	const n = 120
	for i := range n {
		live += rng.Int64N(4)
		det.Observe(&sampler.Sample{
			Time: start.Add(time.Duration(i) * time.Second), Resource: sampler.Heap, Seq: uint64(i + 1), Rate: 512 << 10,
			Records: []sampler.Record{{Stack: 1, Frames: frames, InUseBytes: live << 19, InUseObjects: live, InUseSampled: live, AllocSampled: live}},
		})
	}
	rep := buildReport(det, n, start, start.Add((n-1)*time.Second), 0)
	require.NotEmpty(t, rep.alerts)
	return det, rep
}

// TestRenderHTMLReport checks the CLI's HTML report parsed as strict XML:
// with the stacks' state at the last profile it shows what each flagged
// stack holds there beside what it held when flagged, and plots past the
// flag; without, it shows the alerts as flagged; a stack missing from the
// state is said to be no longer tracked. Stacks name file:line and leave
// out runtime.goexit.
func TestRenderHTMLReport(t *testing.T) {
	det, rep := htmlRun(t)
	tests := []struct {
		name      string
		current   []leakguard.Pattern
		want      []string
		wantNone  []string
		pastFlag  bool
		nowColumn bool
	}{
		{"at the last profile", det.Patterns(), []string{"in use at the last profile</strong>", "since it was flagged"}, []string{"No longer tracked"}, true, true},
		{"as flagged", nil, nil, []string{"last profile", "No longer tracked"}, false, false},
		{"forgotten", []leakguard.Pattern{}, []string{"No longer tracked at the last profile", "no longer tracked</td>"}, nil, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			require.NoError(t, writeHTMLAt(&b, rep, tc.current))
			body := b.String()
			require.NotContains(t, body, "runtime.goexit")
			require.NotContains(t, body, "<script")
			require.Contains(t, body, `>leaky/main.go:36</td>`)
			for _, s := range tc.want {
				require.Contains(t, body, s)
			}
			for _, s := range tc.wantNone {
				require.NotContains(t, body, s)
			}
			require.Equal(t, tc.nowColumn, strings.Contains(body, `class="num now"`))

			dec := xml.NewDecoder(strings.NewReader(strings.Replace(body, "<!DOCTYPE html>", "", 1)))
			dec.Strict = true
			var flagX float64
			var xs []float64
			for {
				tok, err := dec.Token()
				if err == io.EOF {
					break
				}
				require.NoError(t, err)
				se, ok := tok.(xml.StartElement)
				if !ok {
					continue
				}
				attr := map[string]string{}
				for _, a := range se.Attr {
					attr[a.Name.Local] = a.Value
				}
				switch {
				case se.Name.Local == "svg":
					require.Equal(t, "100%", attr["width"])
				case se.Name.Local == "line" && attr["class"] == "flag":
					_, err := fmt.Sscan(attr["x1"], &flagX)
					require.NoError(t, err)
				case se.Name.Local == "polyline":
					for xy := range strings.FieldsSeq(attr["points"]) {
						var x float64
						_, err := fmt.Sscan(strings.Split(xy, ",")[0], &x)
						require.NoError(t, err)
						xs = append(xs, x)
					}
				}
			}
			require.Positive(t, flagX)
			require.NotEmpty(t, xs)
			require.Equal(t, tc.pastFlag, xs[len(xs)-1] > flagX+1, "the history goes on past the flag")
		})
	}

	// writeHTML is the report as flagged.
	var a, b strings.Builder
	require.NoError(t, writeHTML(&a, rep))
	require.NoError(t, writeHTMLAt(&b, rep, nil))
	require.Equal(t, b.String(), a.String())
}

package leakguard

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"expvar"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/leakguard/leakguard/sampler"
	"github.com/leakguard/leakguard/sampler/heap"
)

var handlerLeak [][]byte

//go:noinline
func leakForObservability() { handlerLeak = append(handlerLeak, make([]byte, 16<<10)) }

// syncBuffer is a log sink the logging goroutines and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestObservability runs a Guard on this process's real heap while a
// function leaks, and checks everything an operator sees once it is
// caught: the HTML page and its JSON, expvar, the periodic report and the
// structured logs.
func TestObservability(t *testing.T) {
	defer goleak.VerifyNone(t)
	// Every 16 KiB allocation sampled, so the leak is seen in a few
	// hundred milliseconds rather than many seconds of a growing heap.
	old := runtime.MemProfileRate
	runtime.MemProfileRate = 4096
	t.Cleanup(func() { runtime.MemProfileRate = old; handlerLeak = nil })
	hs, err := heap.New(heap.WithForceGC(true))
	require.NoError(t, err)
	var logs syncBuffer
	caught := make(chan Alert, 1)
	reports := make(chan Report, 1)
	g, err := Start(
		WithSampler(hs),
		WithInterval(5*time.Millisecond),
		WithHorizon(100*time.Millisecond),
		WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))),
		OnAlert(func(a Alert) {
			if a.Severity == SeverityAlert && a.Leaf().Function == "github.com/leakguard/leakguard.leakForObservability" {
				select {
				case caught <- a:
				default:
				}
			}
		}),
		WithReportEvery(time.Millisecond, func(r Report) {
			select {
			case reports <- r:
			default:
			}
		}),
	)
	require.NoError(t, err)
	defer g.Stop()

	stopLeak := paced(leakForObservability)
	alert := <-caught
	// The leak goes on after it is flagged: wait (polling, with a deadline)
	// until the Guard's current state of the stack has a point after the
	// flag holding more than the alert recorded.
	grown := func() bool {
		for _, p := range g.Patterns() {
			if p.Stack == alert.Stack && p.Resource == alert.Resource && len(p.History) > 0 {
				last := p.History[len(p.History)-1]
				return last.Time.After(alert.Time) && last.InUseBytes > float64(alert.Evidence.InUseBytes)
			}
		}
		return false
	}
	require.Eventually(t, grown, time.Minute, 5*time.Millisecond, "the stack's history does not go on past the flag")
	stopLeak()
	<-reports // the periodic report runs

	srv := httptest.NewServer(Handler(g))
	defer srv.Close()
	get := func(url string) (string, *http.Response) {
		resp, err := http.Get(url)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return string(b), resp
	}

	// JSON: the Report, with the leak among its alerts.
	body, resp := get(srv.URL + "?format=json")
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var rep Report
	require.NoError(t, json.Unmarshal([]byte(body), &rep))
	require.Positive(t, rep.Stats.Samples)
	require.Positive(t, rep.Stats.Tracked)
	require.Positive(t, rep.AlertsBySeverity[SeverityAlert])
	require.Positive(t, rep.Stats.LastAnalysis)
	require.Positive(t, rep.Stats.StorageBytes)
	stacks := 0
	for _, b := range rep.Confidence {
		stacks += b.Stacks
	}
	require.Equal(t, rep.Stats.Tracked+1, stacks, "every tracked stack and the process total fall in one bucket")
	var found bool
	for _, a := range rep.Alerts {
		if a.Stack == alert.Stack {
			found = true
			require.NotEmpty(t, a.History)
		}
	}
	require.True(t, found, "the report lists the alert")
	require.LessOrEqual(t, len(rep.Top), DefaultReportTop)

	// HTML: well-formed, self-contained, one plot per alert and per top stack.
	body, resp = get(srv.URL)
	require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	require.NotContains(t, body, "<script")
	for _, external := range []string{"src=", "<link", "@import", "url("} {
		require.NotContains(t, body, external, "no external assets")
	}
	require.Contains(t, body, "leakForObservability")
	require.NotContains(t, body, "runtime.goexit", "the runtime's plumbing is left out of stacks")
	page := parseXML(t, body)
	svgs, polylines := page.all("svg"), page.all("polyline")
	require.NotEmpty(t, svgs)
	require.Len(t, polylines, len(svgs), "each plot draws its history")
	for _, svg := range svgs {
		require.Equal(t, "100%", svg.attr["width"], "plots scale to the window")
		require.NotEmpty(t, svg.attr["viewBox"])
	}

	// The flagged stack's row: what it holds now beside what it held when
	// flagged, and where it allocates.
	const leaf = "github.com/leakguard/leakguard.leakForObservability"
	var row *node
	for _, tr := range page.all("tr") {
		if strings.Contains(tr.text(), leaf) {
			row = tr
		}
	}
	require.NotNil(t, row, "the alert's row")
	cell := func(class string) *node {
		for _, td := range row.all("td") {
			if strings.Contains(" "+td.attr["class"]+" ", " "+class+" ") {
				return td
			}
		}
		t.Fatalf("no %s cell in %q", class, row.text())
		return nil
	}
	now, err := strconv.ParseInt(cell("now").attr["data-bytes"], 10, 64)
	require.NoError(t, err, "in use now is known")
	then, err := strconv.ParseInt(cell("flagged").attr["data-bytes"], 10, 64)
	require.NoError(t, err)
	require.Equal(t, alert.Evidence.InUseBytes, then)
	require.Greater(t, now, then, "in use now exceeds in use when flagged")
	require.Regexp(t, `(^|/)observability_test\.go:\d+$`, cell("location").text())

	// Its plot goes on past the flag.
	var section *node
	for _, s := range page.all("section") {
		if h := s.all("h3"); len(h) > 0 && strings.Contains(h[0].text(), leaf) {
			section = s
		}
	}
	require.NotNil(t, section, "the alert's section")
	flags, lines := section.all("line"), section.all("polyline")
	require.Len(t, lines, 1)
	var flagX float64
	for _, l := range flags {
		if l.attr["class"] == "flag" {
			flagX, err = strconv.ParseFloat(l.attr["x1"], 64)
			require.NoError(t, err)
		}
	}
	require.Positive(t, flagX, "the flag is marked inside the plot")
	after := 0
	for xy := range strings.FieldsSeq(lines[0].attr["points"]) {
		x, err := strconv.ParseFloat(strings.Split(xy, ",")[0], 64)
		require.NoError(t, err)
		if x > flagX {
			after++
		}
	}
	require.Positive(t, after, "points after the flag")

	resp, err = http.Post(srv.URL, "text/plain", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)

	// expvar: this Guard's metrics, as JSON.
	var metrics []Stats
	require.NoError(t, json.Unmarshal([]byte(expvar.Get(ExpvarName).String()), &metrics))
	require.NotEmpty(t, metrics)
	var mine *Stats
	for i := range metrics {
		if metrics[i].Alerts > 0 {
			mine = &metrics[i]
		}
	}
	require.NotNil(t, mine, "expvar shows the alert: %+v", metrics)
	require.Positive(t, mine.TopGrowthBytesPerSecond)

	// Structured logs: lifecycle at info, the alert at error with the stack grouped.
	require.NoError(t, g.Stop())
	var sawStart, sawAlert, sawStop bool
	for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		switch rec["msg"] {
		case "leakguard: started":
			sawStart = rec["level"] == "INFO"
		case "leakguard: stopped":
			sawStop = rec["level"] == "INFO"
		case "leakguard: alert: memory growing":
			stack, ok := rec["stack"].(map[string]any)
			if ok && stack["function"] == "github.com/leakguard/leakguard.leakForObservability" {
				sawAlert = rec["level"] == "ERROR"
			}
		}
	}
	require.True(t, sawStart && sawAlert && sawStop, "logs: %s", logs.String())

	// A stopped Guard leaves expvar.
	require.NoError(t, json.Unmarshal([]byte(expvar.Get(ExpvarName).String()), &metrics))
	for _, m := range metrics {
		require.NotEqual(t, mine.Cycles, m.Cycles)
	}
}

// node is an element of a page parsed as strict XML.
type node struct {
	name     string
	attr     map[string]string
	children []*node
	chars    strings.Builder
}

// parseXML parses an HTML page as strict XML (well-formedness is part of
// the page's contract: it is generated, never hand-written).
func parseXML(t *testing.T, body string) *node {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(strings.Replace(body, "<!DOCTYPE html>", "", 1)))
	dec.Strict = true
	root := &node{}
	stack := []*node{root}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		top := stack[len(stack)-1]
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &node{name: tok.Name.Local, attr: map[string]string{}}
			for _, a := range tok.Attr {
				n.attr[a.Name.Local] = a.Value
			}
			top.children = append(top.children, n)
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			top.chars.Write(tok)
		}
	}
	require.Len(t, stack, 1, "every element closed")
	return root
}

// all returns the elements named name under n, in document order.
func (n *node) all(name string) []*node {
	var out []*node
	for _, c := range n.children {
		if c.name == name {
			out = append(out, c)
		}
		out = append(out, c.all(name)...)
	}
	return out
}

// text is the character data under n, trimmed.
func (n *node) text() string {
	var b strings.Builder
	var walk func(*node)
	walk = func(n *node) {
		b.WriteString(n.chars.String())
		for _, c := range n.children {
			walk(c)
		}
	}
	walk(n)
	return strings.TrimSpace(b.String())
}

func TestReportEveryIsolatesPanics(t *testing.T) {
	defer goleak.VerifyNone(t)
	calls := make(chan struct{}, 8)
	g, err := Start(
		WithSampler(&scriptedSampler{}),
		WithInterval(time.Millisecond),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		WithReportEvery(time.Millisecond, func(Report) {
			select {
			case calls <- struct{}{}:
			default:
			}
			panic("report bug")
		}),
	)
	require.NoError(t, err)
	<-calls
	<-calls // reports go on after a panic
	require.NoError(t, g.Stop())
	require.Positive(t, g.Stats().CallbackPanics)

	_, err = Start(WithReportEvery(0, func(Report) {}))
	require.ErrorContains(t, err, "WithReportEvery")
	_, err = Start(WithReportEvery(time.Second, nil))
	require.ErrorContains(t, err, "nil function")
}

// TestHandlerPageNow renders the page from made-up Reports: an alert is a
// snapshot, and what the stack holds now comes from the Guard's current
// patterns, read only when the Report's Top lacks the stack; a stack no
// longer tracked says so.
func TestHandlerPageNow(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	frames := []sampler.Frame{
		{Function: "main.handleRequest", File: "/src/leaky/main.go", Line: 36},
		{Function: "runtime.goexit", File: "/go/src/runtime/asm_amd64.s", Line: 1771},
	}
	hist := func(from, to int, perSec float64) []Point {
		var out []Point
		for i := from; i <= to; i++ {
			out = append(out, Point{Time: at.Add(time.Duration(i) * time.Second), InUseBytes: perSec * float64(i)})
		}
		return out
	}
	alert := Alert{
		Severity: SeverityAlert, Confidence: 0.999, Pattern: PatternGradual, Resource: sampler.Heap, Stack: 7,
		Frames: frames, Time: at.Add(10 * time.Second), History: hist(0, 10, 1<<20),
		Evidence: Evidence{InUseBytes: 10 << 20, GrowthBytesPerSecond: 1 << 20, GrowthStart: at},
	}
	later := Pattern{Resource: sampler.Heap, Stack: 7, Frames: frames, Severity: SeverityAlert, History: hist(5, 30, 1<<20)}
	stale := Pattern{Resource: sampler.Heap, Stack: 7, Frames: frames, Severity: SeverityAlert, History: hist(0, 9, 1<<20)}
	tests := []struct {
		name     string
		top      []Pattern
		all      []Pattern
		alerts   int
		calls    int
		want     []string
		wantNone []string
		verdict  Verdict
	}{
		{"current in the top", []Pattern{later}, nil, 1, 0,
			[]string{"30.0 MiB in use now", "+20.0 MiB since it was flagged", "leaky/main.go:36", `title="/src/leaky/main.go:36"`}, []string{"No longer tracked"}, Verdict{}},
		{"current beyond the top", nil, []Pattern{later}, 1, 1,
			[]string{"30.0 MiB in use now", "+20.0 MiB since it was flagged"}, []string{"No longer tracked"}, Verdict{}},
		{"no point newer than the flag", []Pattern{stale}, nil, 1, 0,
			[]string{"9.0 MiB in use now", "no newer point than the flag yet"}, []string{"since it was flagged ("}, Verdict{}},
		{"evicted", nil, nil, 1, 1,
			[]string{"No longer tracked", "no longer tracked</td>", "10.0 MiB"}, []string{"in use now ("}, Verdict{}},
		{"bounded", []Pattern{later}, nil, maxPageAlerts + 5, 0,
			[]string{"5 more flagged stacks"}, nil, Verdict{}},
		{"nothing flagged: how large a leak it could see", nil, nil, 0, 0,
			[]string{"No leak found so far", "would have had to retain at least 14 sampled objects to be alerted, 8 to be a suspect"}, nil,
			Verdict{Looks: 3, AlertNeeds: 14, SuspectNeeds: 8, SampleRate: 64 << 10}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := Report{Time: at.Add(31 * time.Second), Top: tc.top, Verdict: tc.verdict}
			for range tc.alerts {
				rep.Alerts = append(rep.Alerts, alert)
			}
			calls := 0
			var b strings.Builder
			require.NoError(t, reportPage.Execute(&b, pageData(rep, func() []Pattern { calls++; return tc.all })))
			body := b.String()
			require.Equal(t, tc.calls, calls, "all patterns are read only when needed, and once")
			page := parseXML(t, body)
			require.Len(t, page.all("section"), min(tc.alerts, maxPageAlerts))
			require.NotContains(t, body, "runtime.goexit")
			// Markup as written, and text as read (entities decoded).
			seen := body + "\n" + page.text()
			for _, s := range tc.want {
				require.Contains(t, seen, s)
			}
			for _, s := range tc.wantNone {
				require.NotContains(t, seen, s)
			}
		})
	}
}

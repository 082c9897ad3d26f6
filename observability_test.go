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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

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

	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
				leakForObservability()
				time.Sleep(time.Millisecond) // pacing the leak, not synchronisation
			}
		}
	})
	alert := <-caught
	close(done)
	wg.Wait()
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
	require.Positive(t, rep.Samples)
	require.Positive(t, rep.Tracked)
	require.Positive(t, rep.AlertsBySeverity[SeverityAlert])
	require.Positive(t, rep.Cost.LastAnalysis)
	require.Positive(t, rep.Cost.StorageBytes)
	stacks := 0
	for _, b := range rep.Confidence {
		stacks += b.Stacks
	}
	require.Equal(t, rep.Tracked+1, stacks, "every tracked stack and the process total fall in one bucket")
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
	dec := xml.NewDecoder(strings.NewReader(strings.Replace(body, "<!DOCTYPE html>", "", 1)))
	dec.Strict = true
	svgs, polylines := 0, 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		if se, ok := tok.(xml.StartElement); ok {
			switch se.Name.Local {
			case "svg":
				svgs++
			case "polyline":
				polylines++
			}
		}
	}
	require.Positive(t, svgs)
	require.Equal(t, svgs, polylines, "each plot draws its history")

	resp, err = http.Post(srv.URL, "text/plain", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)

	// expvar: this Guard's metrics, as JSON.
	var metrics []Metrics
	require.NoError(t, json.Unmarshal([]byte(expvar.Get(ExpvarName).String()), &metrics))
	require.NotEmpty(t, metrics)
	var mine *Metrics
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

package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	httppprof "net/http/pprof"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/require"

	"github.com/leakguard/leakguard/internal/pproftest"
	"github.com/leakguard/leakguard/internal/workload"
)

// The tests write real heap profiles of this test process. MemProfileRate
// is process-wide, so they do not run in parallel.

var leaked [][]byte

//go:noinline
func leakSessions(n int) {
	for range n {
		leaked = append(leaked, make([]byte, 16<<10))
	}
}

type boundedCache struct{ slots [64][]byte }

//go:noinline
func (c *boundedCache) fill(i int) { c.slots[i%len(c.slots)] = make([]byte, 16<<10) }

// writeSeries writes n heap profiles to a new directory, calling step(i)
// before each, with a GC so each profile is current.
func writeSeries(t *testing.T, n int, step func(i int)) string {
	t.Helper()
	old := runtime.MemProfileRate
	runtime.MemProfileRate = 4096
	t.Cleanup(func() { runtime.MemProfileRate = old; leaked = nil })
	dir := t.TempDir()
	for i := range n {
		step(i)
		runtime.GC()
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("z-%03d.pb.gz", n-i))) // names sort against time
		require.NoError(t, err)
		require.NoError(t, pprof.Lookup("heap").WriteTo(f, 0))
		require.NoError(t, f.Close())
	}
	return dir
}

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

type jsonOut struct {
	Profiles int       `json:"profiles"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Alerts   []struct {
		Severity           string    `json:"severity"`
		Confidence         float64   `json:"confidence"`
		Pattern            string    `json:"pattern"`
		FirstDetected      time.Time `json:"first_detected"`
		FirstDetectedIndex int       `json:"first_detected_index"`
		Growth             float64   `json:"growth_bytes_per_second"`
		InUseBytes         int64     `json:"inuse_bytes"`
		PValue             float64   `json:"p_value"`
		ProcessTotal       bool      `json:"process_total"`
		Stack              []struct {
			Function string `json:"function"`
			File     string `json:"file"`
			Line     int    `json:"line"`
		} `json:"stack"`
	} `json:"alerts"`
	Verdict        string  `json:"verdict"`
	HorizonSeconds float64 `json:"horizon_seconds"`
	AlertNeeds     int64   `json:"alert_needs_sampled"`
	SuspectNeeds   int64   `json:"suspect_needs_sampled"`
	SampleRate     int64   `json:"sample_rate"`
}

func TestAnalyzeFindsTheLeakingFunction(t *testing.T) {
	dir := writeSeries(t, 70, func(int) { leakSessions(8) })
	html := filepath.Join(t.TempDir(), "report.html")
	code, out, errs := runCLI("analyze", "--format", "json", "--html", html, dir)
	require.Equal(t, exitLeak, code, errs)
	var rep jsonOut
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Equal(t, 70, rep.Profiles)
	require.True(t, rep.End.After(rep.Start))
	require.NotEmpty(t, rep.Alerts)
	top := rep.Alerts[0]
	require.Equal(t, "alert", top.Severity)
	require.False(t, top.ProcessTotal)
	require.True(t, strings.HasSuffix(top.Stack[0].Function, ".leakSessions"), top.Stack[0].Function)
	require.Contains(t, top.Stack[0].File, "main_test.go")
	require.GreaterOrEqual(t, top.Confidence, 0.99)
	require.Less(t, top.FirstDetectedIndex, 70)
	horizon := time.Duration(rep.HorizonSeconds * float64(time.Second))
	require.Greater(t, top.FirstDetected.Sub(rep.Start), horizon, "no hindsight: a history longer than the horizon (0.4 of the series) first")
	require.Positive(t, top.Growth)
	require.LessOrEqual(t, top.PValue, 0.01)

	// The HTML report is well-formed and has one plot per flagged stack.
	b, err := os.ReadFile(html)
	require.NoError(t, err)
	page := strings.Replace(string(b), "<!DOCTYPE html>", "", 1)
	dec := xml.NewDecoder(strings.NewReader(page))
	dec.Strict = true
	svgs := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			require.ErrorContains(t, err, "EOF")
			break
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "svg" {
			svgs++
		}
	}
	require.Equal(t, len(rep.Alerts), svgs)
	require.NotContains(t, string(b), "<script")

	// The text table names it too.
	code, out, _ = runCLI("analyze", dir)
	require.Equal(t, exitLeak, code)
	require.Contains(t, out, "leakSessions")
	require.Contains(t, out, "SEVERITY")
	// It says what the horizon was, since a warm-up longer than the
	// series reads the same; a horizon given as a duration needs no such
	// note.
	require.Contains(t, out, "the horizon was 40% of the series")
	_, out, _ = runCLI("analyze", "--horizon", "1ms", dir)
	require.Contains(t, out, "SEVERITY")
	require.NotContains(t, out, "the horizon was")
}

func TestAnalyzeBenignSeriesIsClean(t *testing.T) {
	cache := new(boundedCache)
	dir := writeSeries(t, 70, func(i int) {
		for j := range 8 {
			cache.fill(i*8 + j) // fills 64 slots in 8 profiles, then recycles
		}
	})
	code, out, errs := runCLI("analyze", "--format", "json", dir)
	require.Equal(t, exitClean, code, out+errs)
	var rep jsonOut
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	for _, a := range rep.Alerts {
		require.NotEqual(t, "alert", a.Severity, "%+v", a)
	}
	// A clean verdict says how large a leak it could have seen.
	require.Equal(t, "clean", rep.Verdict)
	require.Positive(t, rep.SuspectNeeds)
	require.Greater(t, rep.AlertNeeds, rep.SuspectNeeds)
	require.Equal(t, int64(runtime.MemProfileRate), rep.SampleRate)
	html := filepath.Join(t.TempDir(), "report.html")
	code, out, _ = runCLI("analyze", "--html", html, dir)
	require.Equal(t, exitClean, code)
	require.Contains(t, out, "no leak found\n")
	page, err := os.ReadFile(html)
	require.NoError(t, err)
	require.Contains(t, string(page), "would have had to retain at least")
	require.Contains(t, out, fmt.Sprintf("would have had to retain at least %d sampled objects over these profiles to be alerted, %d to be a suspect", rep.AlertNeeds, rep.SuspectNeeds))
}

func TestAnalyzeInputErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeSeries(t, 2, func(int) {})
	entries, err := os.ReadDir(good)
	require.NoError(t, err)
	corrupt := filepath.Join(dir, "corrupt.pb.gz")
	require.NoError(t, os.WriteFile(corrupt, []byte("not a profile"), 0o644))
	cpu := filepath.Join(dir, "cpu.pb.gz")
	fn := &profile.Function{ID: 1, Name: "main.spin"}
	loc := &profile.Location{ID: 1, Line: []profile.Line{{Function: fn}}}
	var buf bytes.Buffer
	require.NoError(t, (&profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		Sample:     []*profile.Sample{{Location: []*profile.Location{loc}, Value: []int64{1, 10e6}}},
		Location:   []*profile.Location{loc},
		Function:   []*profile.Function{fn},
		TimeNanos:  1,
	}).Write(&buf))
	require.NoError(t, os.WriteFile(cpu, buf.Bytes(), 0o644))

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no args", []string{"analyze"}, exitUsage, "usage"},
		{"unknown command", []string{"frobnicate"}, exitUsage, "unknown command"},
		{"bad format", []string{"analyze", "--format", "xml", good}, exitUsage, "--format"},
		{"bad sample type", []string{"analyze", "--sample-type", "alloc", good}, exitUsage, "--sample-type"},
		{"bad confidence", []string{"analyze", "--confidence", "1.5", good}, exitUsage, "--confidence"},
		{"missing file", []string{"analyze", filepath.Join(dir, "nope")}, exitUsage, "nope"},
		{"corrupt file named", []string{"analyze", corrupt}, exitUsage, "corrupt.pb.gz"},
		{"how to leave out what is not a profile", []string{"analyze", corrupt}, exitUsage, "(--skip-bad leaves out files that are not heap or goroutine profiles)"},
		{"a CPU profile", []string{"analyze", cpu}, exitUsage, "cpu.pb.gz: neither a heap nor a goroutine profile"},
		{"skip bad", []string{"analyze", "--skip-bad", corrupt, filepath.Join(good, entries[0].Name()), filepath.Join(good, entries[1].Name())}, exitInconclusive, "inconclusive: 2 samples"},
		{"same file twice", []string{"analyze", filepath.Join(good, entries[0].Name()), filepath.Join(good, entries[0].Name())}, exitUsage, "same timestamp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCLI(tc.args...)
			require.Equal(t, tc.code, code, out+errs)
			require.Contains(t, out+errs, tc.want)
		})
	}
}

// TestWatchCatchesALeakOnALiveServer serves this process's heap profile
// with net/http/pprof; every fetch also leaks, like a leaky request path.
func TestWatchCatchesALeakOnALiveServer(t *testing.T) {
	old := runtime.MemProfileRate
	runtime.MemProfileRate = 4096
	t.Cleanup(func() { runtime.MemProfileRate = old; leaked = nil })
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		leakSessions(8)
		mu.Unlock()
		httppprof.Handler("heap").ServeHTTP(w, r)
	}))
	defer srv.Close()
	save := t.TempDir()
	code, out, errs := runCLI("watch", "--gc", "--interval", "5ms", "--horizon", "100ms", "--duration", "2m", "--until-leak", "--format", "json", "--save", save, srv.URL)
	require.Equal(t, exitLeak, code, errs)
	var rep jsonOut
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.NotEmpty(t, rep.Alerts)
	require.True(t, strings.HasSuffix(rep.Alerts[0].Stack[0].Function, ".leakSessions"))
	saved, err := os.ReadDir(save)
	require.NoError(t, err)
	require.Equal(t, rep.Profiles, len(saved), "every fetched profile is saved")
	// The saved run names the same function. It ends where watch stopped,
	// at the first alert, so analyze (whose horizon is 0.4 of the run, and
	// which tests every stack of this test process) may only suspect it.
	code, out, _ = runCLI("analyze", save)
	require.Contains(t, []int{exitLeak, exitInconclusive}, code, out)
	require.Contains(t, out, "leakSessions")
}

func TestWatchSurvivesErrorsAndGarbage(t *testing.T) {
	var calls atomic.Int64
	heap := httppprof.Handler("heap")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n := calls.Add(1); {
		case n <= 3:
			http.Error(w, "boom", http.StatusInternalServerError)
		case n <= 6:
			w.Write([]byte("<html>definitely not a profile</html>"))
		default:
			heap.ServeHTTP(w, r)
		}
	}))
	defer srv.Close()
	code, out, errs := runCLI("watch", "--gc", "--interval", "1ms", "--duration", "3s", srv.URL)
	require.Equal(t, exitInconclusive, code, "3 s against a 10 min horizon: %s", out+errs)
	require.Contains(t, errs, "500")
	require.Contains(t, errs, "sampling again")
	require.Contains(t, out, "profiles from")

	tests := []struct {
		args []string
		want string
	}{
		{[]string{"watch", "file:///etc/passwd"}, "only http and https"},
		{[]string{"watch", srv.URL + "/debug/pprof/heap?seconds=5"}, "drop seconds= from the URL"},
		{[]string{"watch", "--interval", "0s", srv.URL}, "--interval"},
		{[]string{"watch"}, "usage"},
	}
	for _, tc := range tests {
		code, out, errs := runCLI(tc.args...)
		require.Equal(t, exitUsage, code)
		require.Contains(t, out+errs, tc.want)
	}
}

// TestAnalyzeGroupByReplica analyses three replicas' series, two leaking
// and one not: the leak is reported once, flagged on two of three.
func TestAnalyzeGroupByReplica(t *testing.T) {
	// Replicas run the same code: the same call site makes the same stack.
	var dirs []string
	for range 2 {
		dirs = append(dirs, writeSeries(t, 60, func(int) { leakSessions(8) }))
	}
	a, b := dirs[0], dirs[1]
	cache := new(boundedCache)
	c := writeSeries(t, 60, func(i int) {
		for j := range 8 {
			cache.fill(i*8 + j)
		}
	})
	code, out, errs := runCLI("analyze", "--group-by", "dir", "--format", "json", a, b, c)
	require.Equal(t, exitLeak, code, errs)
	var rep struct {
		Profiles int `json:"profiles"`
		Replicas int `json:"replicas"`
		Alerts   []struct {
			Severity string `json:"severity"`
			Replicas int    `json:"replicas"`
			Stack    []struct {
				Function string `json:"function"`
			} `json:"stack"`
		} `json:"alerts"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Equal(t, 180, rep.Profiles)
	require.Equal(t, 3, rep.Replicas)
	var found int
	for _, al := range rep.Alerts {
		if len(al.Stack) > 0 && strings.HasSuffix(al.Stack[0].Function, ".leakSessions") {
			found++
			require.Equal(t, "alert", al.Severity)
			require.Equal(t, 2, al.Replicas, out)
		}
	}
	require.Equal(t, 1, found, "one entry for the leak across replicas")

	code, out, _ = runCLI("analyze", "--group-by", "dir", a, b, c)
	require.Equal(t, exitLeak, code)
	require.Contains(t, out, "flagged on 2 of 3 replicas")

	code, _, errs = runCLI("analyze", "--group-by", "host", a)
	require.Equal(t, exitUsage, code)
	require.Contains(t, errs, "--group-by")
}

// TestAnalyzeReportsSuspects: a leak that starts in the last fifth of the
// series is younger than the horizon (0.4 of the run): a suspect, with
// what it lacks, in the JSON, the text and the HTML, and the run is
// inconclusive (exit 3), not clean.
func TestAnalyzeReportsSuspects(t *testing.T) {
	dir := writeSeries(t, 60, func(i int) {
		if i >= 48 {
			leakSessions(8)
		}
	})
	html := filepath.Join(t.TempDir(), "report.html")
	code, out, errs := runCLI("analyze", "--format", "json", "--html", html, dir)
	require.Equal(t, exitInconclusive, code, errs)
	var rep suspectsOut
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Equal(t, "inconclusive", rep.Verdict)
	require.NotEmpty(t, rep.Reason)
	s := rep.at(t, ".leakSessions")
	require.Equal(t, "suspect", s.Severity)
	require.Contains(t, s.Lacks, "sampled objects retained")
	require.Positive(t, s.Retained)
	page, err := os.ReadFile(html)
	require.NoError(t, err)
	require.Contains(t, string(page), "What it lacks")
	require.Contains(t, string(page), "leakSessions")

	code, out, _ = runCLI("analyze", dir)
	require.Equal(t, exitInconclusive, code)
	require.Contains(t, out, "inconclusive:")
	require.Contains(t, out, "(growing, not yet confirmed):")
	require.Contains(t, out, "leakSessions")
}

// TestAnalyzeReportsASliceThatGrows analyzes a series of the
// append-forever workload, whose slice of records is appended to forever:
// its stack holds one object at a time, so the count tests cannot see it,
// and analyze reports it as a suspect read through its sizes.
func TestAnalyzeReportsASliceThatGrows(t *testing.T) {
	w, ok := workload.Named("append-forever")
	require.True(t, ok)
	inst := w.New(1)
	t.Cleanup(inst.Release)
	dir := writeSeries(t, 60, inst.Step)
	code, out, errs := runCLI("analyze", "--format", "json", dir)
	require.Equal(t, exitInconclusive, code, errs)
	var rep suspectsOut
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	s := rep.at(t, ".logEvents")
	require.Equal(t, "suspect", s.Severity)
	require.Contains(t, s.Lacks, "lone object")
	require.Positive(t, s.SizeRecords)
	require.GreaterOrEqual(t, s.SizesSeen, s.SizeRecords)
}

// suspectsOut is analyze's JSON as far as the suspect tests read it.
type suspectsOut struct {
	Verdict  string    `json:"verdict"`
	Reason   string    `json:"reason"`
	Suspects []suspect `json:"suspects"`
}

type suspect struct {
	Severity    string `json:"severity"`
	Lacks       string `json:"lacks"`
	Retained    int64  `json:"retained_sampled"`
	SizeRecords int    `json:"size_records"`
	SizesSeen   int    `json:"sizes_seen"`
	Stack       []struct {
		Function string `json:"function"`
	} `json:"stack"`
}

// at returns the suspect whose first frame's function ends in suffix.
func (o suspectsOut) at(t *testing.T, suffix string) suspect {
	t.Helper()
	for _, s := range o.Suspects {
		if len(s.Stack) > 0 && strings.HasSuffix(s.Stack[0].Function, suffix) {
			return s
		}
	}
	require.Failf(t, "no suspect", "none at %s among %d suspects", suffix, len(o.Suspects))
	return suspect{}
}

// heapAt is a heap profile of one process at second sec, whose runtime
// sampled allocs allocations of 1 KiB objects since it started, a tenth of
// them live.
func heapAt(sec, rate, allocs int64) *profile.Profile {
	return pproftest.Snapshot(sec, rate, allocs, allocs/10)
}

// TestWatchFollowsOneProcess serves scripted endpoints. One that serves
// what watch cannot use — a CPU profile, a delta, a heap sampled at a new
// rate — stops it at once with the reason (retrying would not help; the
// --give-up of an hour would otherwise hold the test); a restart is said
// on stderr and the series start over.
func TestWatchFollowsOneProcess(t *testing.T) {
	cpu := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		TimeNanos:  1,
	}
	delta := heapAt(1, 512<<10, 100)
	delta.DurationNanos = 5e9
	serve := func(script ...*profile.Profile) *httptest.Server {
		var mu sync.Mutex
		n := 0
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			require.NoError(t, script[min(n, len(script)-1)].Write(w)) // then the last again: no GC since
			n++
		}))
	}
	for _, tc := range []struct {
		name   string
		script []*profile.Profile
		code   int
		want   string
	}{
		{"a CPU profile", []*profile.Profile{cpu}, exitUsage, "neither a heap nor a goroutine profile"},
		{"a delta", []*profile.Profile{delta}, exitUsage, "a delta profile"},
		{"a new rate", []*profile.Profile{heapAt(1, 512<<10, 100), heapAt(2, 512<<10, 200), heapAt(3, 64<<10, 300)}, exitUsage,
			"the heap profile's sampling rate changed (runtime.MemProfileRate, from 524288 to 65536 bytes)"},
		{"a restart", []*profile.Profile{heapAt(1, 512<<10, 100), heapAt(2, 512<<10, 200), heapAt(3, 512<<10, 20), heapAt(4, 512<<10, 40)}, exitInconclusive,
			"the target restarted (its allocations since it started fell): every stack's history starts over"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := serve(tc.script...)
			defer srv.Close()
			// Only a run that stops on the profile it cannot use ends
			// before --duration; the restart's script ends by repeating
			// its last profile, and that run ends by its length.
			length := "1h"
			if tc.code == exitInconclusive {
				length = "300ms"
			}
			code, out, errs := runCLI("watch", "--interval", "1ms", "--give-up", "1h", "--duration", length, "--progress", "0", srv.URL+"/debug/pprof/heap")
			require.Equal(t, tc.code, code, out+errs)
			require.Contains(t, errs, tc.want)
		})
	}
}

// TestTextSaysHowProfilesWereDated: repeated profiles are counted, the rest
// said to be dated at the collection they show, and a series that is mostly
// repeats gets the advice to fetch with ?gc=1.
func TestTextSaysHowProfilesWereDated(t *testing.T) {
	for _, tc := range []struct {
		name                string
		profiles, repeated  int
		dated, adviseForced bool
	}{
		{"no repeats", 60, 0, false, false},
		{"a few repeats", 58, 2, true, false},
		{"mostly repeats", 6, 54, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			writeText(&b, &report{Profiles: tc.profiles, Repeated: tc.repeated, Verdict: "clean"})
			out := b.String()
			require.Equal(t, tc.dated, strings.Contains(out, "dated at the collection it shows"), out)
			require.Equal(t, tc.adviseForced, strings.Contains(out, "?gc=1"), out)
		})
	}
}

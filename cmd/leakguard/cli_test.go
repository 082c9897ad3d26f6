package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net"
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

	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/require"
)

func TestHelpAndVersion(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"--help", []string{"--help"}, "usage: leakguard <command>"},
		{"-h", []string{"-h"}, "usage: leakguard <command>"},
		{"help", []string{"help"}, "usage: leakguard <command>"},
		{"help analyze", []string{"help", "analyze"}, "usage: leakguard analyze"},
		{"analyze --help", []string{"analyze", "--help"}, "usage: leakguard analyze"},
		{"watch -h", []string{"watch", "-h"}, "--give-up"},
		{"attach --help", []string{"attach", "--help"}, "usage: leakguard attach"},
		{"--version", []string{"--version"}, "leakguard (devel), go1."},
		{"version", []string{"version"}, "leakguard (devel), go1."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCLI(tc.args...)
			require.Equal(t, exitClean, code)
			require.Contains(t, out, tc.want, "help goes to stdout")
			require.Empty(t, errs)
		})
	}
	// Asking for nothing, or for something unknown, is a usage error.
	for _, args := range [][]string{{}, {"help", "frobnicate"}, {"frobnicate"}} {
		code, out, errs := runCLI(args...)
		require.Equal(t, exitUsage, code, args)
		require.Empty(t, out)
		require.Contains(t, errs, "usage: leakguard <command>")
	}
}

func TestFlagsAfterArguments(t *testing.T) {
	dir := writeSeries(t, 3, func(int) {})
	html := filepath.Join(t.TempDir(), "r.html")
	code, out, errs := runCLI("analyze", dir, "--format", "json", "--html", html)
	require.Equal(t, exitInconclusive, code, "three profiles cannot decide: %s", errs)
	var rep map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	require.FileExists(t, html)
	require.Contains(t, rep, "repeated_profiles", "always present")
	require.Contains(t, rep, "undated_profiles", "always present")
	require.Equal(t, "inconclusive", rep["verdict"])
	require.Contains(t, rep, "suspects", "always present")

	// Three profiles, then the server fails: the run ends by --give-up,
	// whatever the machine's speed, and still writes its report.
	var calls atomic.Int64
	heap := httppprof.Handler("heap")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) > 3 {
			http.Error(w, "gone", http.StatusServiceUnavailable)
			return
		}
		heap.ServeHTTP(w, r)
	}))
	defer srv.Close()
	html = filepath.Join(t.TempDir(), "w.html")
	code, out, errs = runCLI("watch", srv.URL, "--gc", "--interval", "1ms", "--give-up", "1ms", "--html", html)
	require.Equal(t, exitUsage, code, errs)
	require.Contains(t, out, "3 profiles from")
	require.FileExists(t, html)

	// -h after an argument is still help.
	code, out, errs = runCLI("analyze", dir, "-h")
	require.Equal(t, exitClean, code, errs)
	require.Contains(t, out, "usage: leakguard analyze")

	// After "--" everything is an argument.
	code, _, errs = runCLI("analyze", "--", "--format")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errs, "--format: no such file")
}

func TestErrorsSpeakOfTheFlags(t *testing.T) {
	dir := writeSeries(t, 2, func(int) {})
	empty := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"horizon", []string{"analyze", "--horizon", "3", dir}, "leakguard analyze: invalid value \"3\" for flag -horizon: a fraction of the series must be in (0, 1)\n"},
		{"horizon, watch", []string{"watch", "--horizon", "soon", "http://x"}, "leakguard watch: invalid value \"soon\" for flag -horizon: want a fraction of the series such as 0.4 or a duration such as 10m\n"},
		{"empty directory", []string{"analyze", empty}, "leakguard analyze: no profiles in " + empty + ": the directory holds no files\n"},
		{"empty directory, replicas", []string{"analyze", "--group-by", "dir", dir, empty}, "leakguard analyze: no profiles in " + empty + ": the directory holds no files\n"},
		{"unknown flag", []string{"watch", "http://x", "--colour"}, "leakguard watch: flag provided but not defined: -colour\nRun 'leakguard help watch' for its flags.\n"},
		{"max size", []string{"analyze", "--max-profile-size", "lots", dir}, "invalid value \"lots\" for flag -max-profile-size: want a positive size such as 256MiB or 1GiB"},
		{"two URLs", []string{"watch", "http://a", "http://b"}, "leakguard watch: want one URL, got 2: [\"http://a\" \"http://b\"]\n"},
		{"give-up", []string{"watch", "--give-up", "0s", "http://a"}, "leakguard watch: --give-up 0s: must be positive\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCLI(tc.args...)
			require.Equal(t, exitUsage, code, out+errs)
			require.Empty(t, out)
			require.Contains(t, errs, tc.want)
			require.Equal(t, 1, strings.Count(errs, tc.want), "said once")
			require.NotContains(t, errs, "leakguard: ", "in the command's words, not the library's")
		})
	}
}

// writeBomb writes a gzip stream that inflates to n zero bytes, a chunk at
// a time: the bomb is made without holding what it inflates to.
func writeBomb(t *testing.T, n int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	require.NoError(t, err)
	zeros := make([]byte, 64<<10)
	for ; n > 0; n -= int64(len(zeros)) {
		_, err := zw.Write(zeros[:min(n, int64(len(zeros)))])
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// TestBombIsRefused gives analyze and watch a gzip stream that inflates to
// 32 MiB, with the cap at 1 MiB: refused, naming the file or URL and the
// flag, within bounded memory.
func TestBombIsRefused(t *testing.T) {
	bomb := writeBomb(t, 32<<20)
	path := filepath.Join(t.TempDir(), "bomb.pb.gz")
	require.NoError(t, os.WriteFile(path, bomb, 0o600))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(bomb) }))
	defer srv.Close()
	url := srv.URL + "/debug/pprof/heap"

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"file", []string{"analyze", "--max-profile-size", "1MiB", path}, "leakguard analyze: " + path + ": profile too large: more than 1048576 bytes once decompressed (raise --max-profile-size to accept it)\n"},
		{"endpoint", []string{"watch", "--max-profile-size", "1MiB", "--interval", "1ms", "--give-up", "20ms", url}, url + ": profile too large: more than 1048576 bytes once decompressed (raise --max-profile-size to accept it)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			code, out, errs := runCLI(tc.args...)
			runtime.ReadMemStats(&after)
			require.Equal(t, exitUsage, code, out+errs)
			require.Contains(t, errs, tc.want)
			// Each refusal reads at most the cap; a watch retries a few
			// times before giving up, so allow for some.
			require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<20), "the bomb was never inflated whole")
		})
	}
}

// TestWatchGivesUpOnARefusedPort watches a port nothing listens on: a line
// when the failures start, and a clear end after --give-up.
func TestWatchGivesUpOnARefusedPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	code, out, errs := runCLI("watch", "--interval", "1ms", "--give-up", "30ms", "http://"+addr+"/debug/pprof/heap")
	require.Equal(t, exitUsage, code)
	require.Empty(t, out)
	require.Contains(t, errs, "connection refused (retrying; giving up after 30ms of failures)")
	require.Contains(t, errs, "leakguard watch: giving up: every sample failed for ")
	require.NotContains(t, errs, "no sample could be taken", "the reason is given once")
}

// TestWatchShowsProgress serves one heap profile under new timestamps, as
// an endpoint does between garbage collections, then fails: the run says
// what it has and what it waits for.
func TestWatchShowsProgress(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, pprof.Lookup("heap").WriteTo(&buf, 0))
	p, err := profile.ParseData(buf.Bytes())
	require.NoError(t, err)
	var mu sync.Mutex
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) > 4 {
			http.Error(w, "gone", http.StatusServiceUnavailable)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		p.TimeNanos += 1e9
		_ = p.Write(w)
	}))
	defer srv.Close()
	code, out, errs := runCLI("watch", "--interval", "1ms", "--progress", "1ns", "--give-up", "10ms", srv.URL)
	require.Equal(t, exitUsage, code, "given up with no leak seen is not a clean run")
	require.Contains(t, errs, "leakguard watch: 1 profile, ")
	require.Contains(t, errs, "tracked (a first verdict needs more than the 10m0s horizon of history, ")
	require.Contains(t, errs, "waiting: no GC completed since the last profile (1 fetch in a row)")
	require.Contains(t, errs, "waiting: no GC completed since the last profile (3 fetches in a row)")
	require.Contains(t, errs, "giving up")
	require.Contains(t, out, "1 profile from ")
}

// leakedWorker is where leaked goroutines start: each waits forever on a
// channel nobody closes until the test ends.
//
//go:noinline
func leakedWorker(never <-chan struct{}) { <-never }

// leakGoroutines starts n goroutines in leakedWorker, released at cleanup.
func leakGoroutines(t *testing.T, never chan struct{}, n int) {
	for range n {
		go leakedWorker(never)
	}
}

type goroutineReport struct {
	Profiles int `json:"profiles"`
	Alerts   []struct {
		Severity string `json:"severity"`
		Resource string `json:"resource"`
		Stack    []struct {
			Function string `json:"function"`
		} `json:"stack"`
	} `json:"alerts"`
}

// requireGoroutineLeak requires an alert on goroutines whose creation site
// (the stack's outermost frame) is leakedWorker.
func requireGoroutineLeak(t *testing.T, out string) {
	t.Helper()
	var rep goroutineReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	for _, a := range rep.Alerts {
		if a.Resource == "goroutines" && len(a.Stack) > 0 && strings.HasSuffix(a.Stack[len(a.Stack)-1].Function, ".leakedWorker") {
			require.Equal(t, "alert", a.Severity)
			return
		}
	}
	require.Fail(t, "no goroutine alert at leakedWorker", out)
}

func TestGoroutineLeaks(t *testing.T) {
	never := make(chan struct{})
	t.Cleanup(func() { close(never) })

	t.Run("stored", func(t *testing.T) {
		dir := t.TempDir()
		for i := range 60 {
			leakGoroutines(t, never, 4)
			var buf bytes.Buffer
			require.NoError(t, pprof.Lookup("goroutine").WriteTo(&buf, 0))
			// One profile a second, as a collector would take them: the
			// growth per second does not depend on how fast the test runs.
			p, err := profile.ParseData(buf.Bytes())
			require.NoError(t, err)
			p.TimeNanos = int64(i+1) * 1e9
			buf.Reset()
			require.NoError(t, p.Write(&buf))
			require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("goroutine-%03d.pb.gz", i)), buf.Bytes(), 0o600))
		}
		code, out, errs := runCLI("analyze", "--format", "json", dir)
		require.Equal(t, exitLeak, code, errs)
		requireGoroutineLeak(t, out)

		code, out, _ = runCLI("analyze", dir)
		require.Equal(t, exitLeak, code)
		require.Contains(t, out, "cmd/leakguard.leakedWorker  leakguard/cli_test.go:", "the table names the creation site")
		require.Contains(t, out, "goroutines at this creation site now")
	})
	t.Run("live", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			leakGoroutines(t, never, 4)
			httppprof.Handler("goroutine").ServeHTTP(w, r)
		}))
		defer srv.Close()
		code, out, errs := runCLI("watch", "--interval", "1ms", "--horizon", "50ms", "--until-leak", "--format", "json", srv.URL+"/debug/pprof/goroutine")
		require.Equal(t, exitLeak, code, errs)
		requireGoroutineLeak(t, out)
		require.Contains(t, errs, "; created by github.com/leakguard/leakguard/cmd/leakguard.leakedWorker (")
	})
}

func TestByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		str  string
	}{
		{"1024", 1024, "1KiB"},
		{"1000", 1000, "1000"},
		{"256MiB", 256 << 20, "256MiB"},
		{"1GiB", 1 << 30, "1GiB"},
		{"3KB", 3000, "3000"},
		{"2 MiB", 2 << 20, "2MiB"},
		{"7B", 7, "7"},
	}
	for _, tc := range tests {
		var b byteSize
		require.NoError(t, b.Set(tc.in), tc.in)
		require.Equal(t, tc.want, int64(b), tc.in)
		require.Equal(t, tc.str, b.String(), tc.in)
	}
	for _, bad := range []string{"", "0", "-1MiB", "lots", "1.5GiB", "9999999999GiB"} {
		var b byteSize
		require.Error(t, b.Set(bad), bad)
	}
}

func TestPlural(t *testing.T) {
	for _, tc := range []struct {
		n          int
		thing, out string
	}{
		{0, "profile", "0 profiles"},
		{1, "profile", "1 profile"},
		{2, "stack", "2 stacks"},
		{1, "fetch", "1 fetch"},
		{3, "fetch", "3 fetches"},
	} {
		require.Equal(t, tc.out, plural(tc.n, tc.thing))
	}
}

//go:build linux && amd64

package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// lineOf returns the 1-based line of file holding text.
func lineOf(t *testing.T, file, text string) int {
	t.Helper()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	for i, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, text) {
			return i + 1
		}
	}
	t.Fatalf("%s holds no %q", file, text)
	return 0
}

// TestRun runs real native programs under `leakguard run`: one that leaks
// is caught at the malloc call's file and line, one whose memory is
// bounded is not flagged, and one that exits at once still gets a report.
func TestRun(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("LEAKGUARD_REQUIRE_BPF") == "1" {
			t.Fatal("run needs root for eBPF uprobes, and LEAKGUARD_REQUIRE_BPF=1 forbids skipping")
		}
		t.Skip("run needs root for eBPF uprobes")
	}
	cc, err := exec.LookPath("cc")
	require.NoError(t, err, "a C compiler builds the traced programs")
	dir := t.TempDir()
	native := filepath.Join(dir, "native")
	src := filepath.Join("testdata", "native.c")
	msg, err := exec.Command(cc, "-g", "-O0", "-fno-omit-frame-pointer", "-o", native, src).CombinedOutput()
	require.NoError(t, err, "%s", msg)
	exit7 := filepath.Join(dir, "exit7")
	exit7src := filepath.Join(dir, "exit7.c")
	require.NoError(t, os.WriteFile(exit7src, []byte("int main(void) { return 7; }\n"), 0o644))
	msg, err = exec.Command(cc, "-o", exit7, exit7src).CombinedOutput()
	require.NoError(t, err, "%s", msg)
	mallocLine := lineOf(t, src, "void *p = malloc(512);")

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOutput string // the program's own output, before the report
		wantStderr string
	}{
		// Stops at the first alert; the duration only bounds a failure.
		{name: "leak", args: []string{"--until-leak", "--horizon", "1s", "--duration", "60s", "--", native, "leak"},
			wantCode: exitLeak, wantOutput: "ready\n", wantStderr: "signal: terminated"},
		{name: "bounded", args: []string{"--horizon", "1s", "--duration", "4s", native, "bounded"},
			wantCode: exitClean, wantOutput: "ready\n", wantStderr: "signal: terminated"},
		// Over before the first interval: a report all the same, of what
		// it held as it exited. Its status is printed, not returned; the
		// flag after the command is the program's.
		{name: "exits at once", args: []string{"--horizon", "1s", "--duration", "60s", exit7, "--duration"},
			wantCode: anyVerdict, wantStderr: "exit status 7"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"run", "--interval", "50ms", "--format", "json"}, tc.args...)
			code, stdout, stderr := runCLI(args...)
			if tc.wantCode == anyVerdict {
				require.Contains(t, []int{exitClean, exitLeak, exitInconclusive}, code, "stderr: %s\nstdout: %s", stderr, stdout)
			} else {
				require.Equal(t, tc.wantCode, code, "stderr: %s\nstdout: %s", stderr, stdout)
			}
			require.Contains(t, stderr, "leakguard run: tracing ")
			require.Contains(t, stderr, tc.wantStderr)
			report, ok := strings.CutPrefix(stdout, tc.wantOutput)
			require.True(t, ok, "the program's output comes first: %q", stdout)
			var rep struct {
				Profiles int    `json:"profiles"`
				Verdict  string `json:"verdict"`
				Alerts   []struct {
					Severity string `json:"severity"`
					Stack    []struct {
						Function string `json:"function"`
						File     string `json:"file"`
						Line     int    `json:"line"`
					} `json:"stack"`
				} `json:"alerts"`
			}
			require.NoError(t, json.Unmarshal([]byte(report), &rep), report)
			require.GreaterOrEqual(t, rep.Profiles, 1)
			require.NotEmpty(t, rep.Verdict)
			switch tc.wantCode {
			case exitClean:
				require.Greater(t, rep.Profiles, 10)
				for _, a := range rep.Alerts {
					require.NotEqual(t, "alert", a.Severity, "bounded memory flagged: %+v", a)
				}
			case exitLeak:
				found := false
				for _, a := range rep.Alerts {
					if a.Severity == "alert" && len(a.Stack) > 0 && a.Stack[0].Function == "native_leak" {
						found = true
						require.True(t, strings.HasSuffix(a.Stack[0].File, "/testdata/native.c"), "file %q", a.Stack[0].File)
						require.Equal(t, mallocLine, a.Stack[0].Line, "the malloc call's line")
					}
				}
				require.True(t, found, "native_leak is flagged: %s", report)
			}
		})
	}
}

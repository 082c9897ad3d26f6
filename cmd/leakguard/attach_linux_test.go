//go:build linux && amd64

package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

const anyVerdict = -1

// TestAttach runs `leakguard attach` against real native processes: one
// that leaks is caught at its allocation site, one whose memory is bounded
// is not flagged.
func TestAttach(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("LEAKGUARD_REQUIRE_BPF") == "1" {
			t.Fatal("attach needs root for eBPF uprobes, and LEAKGUARD_REQUIRE_BPF=1 forbids skipping")
		}
		t.Skip("attach needs root for eBPF uprobes")
	}
	cc, err := exec.LookPath("cc")
	require.NoError(t, err, "a C compiler builds the traced program")
	bin := filepath.Join(t.TempDir(), "native")
	msg, err := exec.Command(cc, "-O0", "-fno-omit-frame-pointer", "-o", bin, filepath.Join("testdata", "native.c")).CombinedOutput()
	require.NoError(t, err, "%s", msg)

	tests := []struct {
		mode       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		// Stops at the first alert; the duration only bounds a failure.
		{mode: "leak", args: []string{"--until-leak", "--horizon", "1s", "--duration", "60s"}, wantCode: exitLeak},
		{mode: "bounded", args: []string{"--horizon", "1s", "--duration", "4s"}, wantCode: exitClean},
		// The process exits mid-run: the run stops and reports what it saw.
		// Whether it was caught by then depends on scheduling: either
		// verdict, but a report.
		{mode: "short", args: []string{"--horizon", "1s", "--duration", "60s"}, wantCode: anyVerdict, wantStderr: "process already finished"},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			cmd := exec.Command(bin, tc.mode)
			out, err := cmd.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			line, err := bufio.NewReader(out).ReadString('\n')
			require.NoError(t, err)
			require.Equal(t, "ready\n", line)
			args := append([]string{"attach", "--interval", "50ms", "--format", "json", "--pid", strconv.Itoa(cmd.Process.Pid)}, tc.args...)
			code, stdout, stderr := runCLI(args...)
			if tc.wantCode == anyVerdict {
				require.Contains(t, []int{exitClean, exitLeak, exitInconclusive}, code, "stderr: %s\nstdout: %s", stderr, stdout)
			} else {
				require.Equal(t, tc.wantCode, code, "stderr: %s\nstdout: %s", stderr, stdout)
			}
			require.Contains(t, stderr, tc.wantStderr)
			var rep struct {
				Profiles int `json:"profiles"`
				Alerts   []struct {
					Severity string                      `json:"severity"`
					Resource string                      `json:"resource"`
					Stack    []struct{ Function string } `json:"stack"`
				} `json:"alerts"`
			}
			require.NoError(t, json.Unmarshal([]byte(stdout), &rep), stdout)
			require.Greater(t, rep.Profiles, 10)
			if tc.wantCode == exitClean {
				for _, a := range rep.Alerts {
					require.NotEqual(t, "alert", a.Severity, "bounded memory flagged: %+v", a)
				}
				return
			}
			if tc.wantCode == anyVerdict {
				return
			}
			found := false
			for _, a := range rep.Alerts {
				if a.Severity == "alert" && len(a.Stack) > 0 && a.Stack[0].Function == "native_leak" {
					found = true
				}
			}
			require.True(t, found, "native_leak is flagged: %s", stdout)
		})
	}
}

func TestAttachUsage(t *testing.T) {
	for _, args := range [][]string{
		{"attach"},
		{"attach", "abc"},
		{"attach", "--pid", "1", "2"},
		{"attach", "-5"},
		{"attach", "--sample-type", "inuse_objects", "1"},
		{"attach", "--sample-every", "0", "1"},
		{"attach", "--interval", "0s", "1"},
		{"attach", "1073741824"}, // no such process
	} {
		code, _, stderr := runCLI(args...)
		require.Equal(t, exitUsage, code, "%v: %s", args, stderr)
		require.NotEmpty(t, stderr)
	}
}

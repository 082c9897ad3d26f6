//go:build linux && amd64

package uprobe

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
	"github.com/stretchr/testify/require"

	"github.com/leakguard/leakguard/sampler"
)

// requireEnv is the variable CI sets so that a missing prerequisite fails
// the run instead of skipping the tests that prove the probes work.
const requireEnv = "LEAKGUARD_REQUIRE_BPF"

func skipOrFail(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv(requireEnv) == "1" {
		t.Fatalf("%s, and %s=1 forbids skipping", reason, requireEnv)
	}
	t.Skip(reason)
}

// requireBPF skips (or fails, under LEAKGUARD_REQUIRE_BPF=1) when this
// process cannot load BPF programs and attach uprobes.
func requireBPF(t testing.TB) {
	t.Helper()
	if err := checkCaps(); err != nil {
		skipOrFail(t, "eBPF uprobes unavailable: "+err.Error())
	}
	if err := features.HaveProgramType(ebpf.Kprobe); err != nil {
		skipOrFail(t, "kernel lacks kprobe/uprobe BPF programs: "+err.Error())
	}
}

// buildC compiles testdata/name.c with the system C compiler, keeping frame
// pointers so the kernel can walk the stack.
func buildC(t testing.TB, name string, flags ...string) string {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		skipOrFail(t, "no C compiler (cc) on PATH to build the traced program")
	}
	out := filepath.Join(t.TempDir(), name)
	args := append([]string{"-O0", "-fno-omit-frame-pointer", "-o", out, filepath.Join("testdata", name+".c")}, flags...)
	msg, err := exec.Command(cc, args...).CombinedOutput()
	if err != nil && strings.Contains(strings.Join(flags, " "), "-static") {
		skipOrFail(t, "cannot link a static binary (no static libc?): "+string(msg))
	}
	require.NoError(t, err, "cc %v: %s", args, msg)
	return out
}

// target is a running testdata program that executes one command per line
// and answers "ok" when done.
type target struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func startTarget(t testing.TB, bin string, args ...string) *target {
	t.Helper()
	cmd := exec.Command(bin, args...)
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	tg := &target{cmd: cmd, in: in, out: bufio.NewReader(stdout)}
	t.Cleanup(func() {
		tg.in.Close()
		_ = tg.cmd.Process.Kill()
		_ = tg.cmd.Wait()
	})
	tg.expect(t, "ready")
	return tg
}

func (tg *target) expect(t testing.TB, want string) {
	t.Helper()
	line, err := tg.out.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, want, strings.TrimSpace(line))
}

func (tg *target) do(t testing.TB, command string) {
	t.Helper()
	_, err := io.WriteString(tg.in, command+"\n")
	require.NoError(t, err)
	tg.expect(t, "ok")
}

// quit makes the target exit and waits for it.
func (tg *target) quit(t testing.TB) {
	t.Helper()
	_, err := io.WriteString(tg.in, "quit\n")
	require.NoError(t, err)
	_ = tg.cmd.Wait()
}

// find returns the record whose stack contains function fn.
func find(s *sampler.Sample, fn string) (sampler.Record, bool) {
	for _, r := range s.Records {
		for _, f := range r.Frames {
			if f.Function == fn {
				return r, true
			}
		}
	}
	return sampler.Record{}, false
}

func sample(t testing.TB, s *Sampler) *sampler.Sample {
	t.Helper()
	got, err := s.Sample(context.Background())
	require.NoError(t, err)
	require.Equal(t, sampler.Native, got.Resource)
	return got
}

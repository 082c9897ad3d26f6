//go:build linux && amd64

package uprobe

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

const earlySize = 777 // EARLY_SIZE in testdata/target.c

// startCmd starts cmd with Start and returns it as a target driven on its
// stdin; the program is killed and waited for at the end of the test.
func startCmd(t *testing.T, cmd *exec.Cmd, opts ...Option) (*target, *Sampler) {
	t.Helper()
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	s, err := Start(cmd, opts...)
	require.NoError(t, err)
	t.Cleanup(func() {
		in.Close()
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		require.NoError(t, s.Close())
	})
	tg := &target{cmd: cmd, in: in, out: bufio.NewReader(stdout)}
	tg.expect(t, "ready")
	return tg, s
}

// TestStart starts a program with the probes attached before it runs:
// the block it allocates before it says it is ready is seen (attach
// misses it), and once it exits its last state can still be read, until
// it is reaped.
func TestStart(t *testing.T) {
	requireBPF(t)
	tg, s := startCmd(t, exec.Command(buildC(t, "target"), "leak"))
	require.NotNil(t, s.Exited())
	tg.do(t, "step 10")
	got := sample(t, s)
	early, ok := find(got, "early_here")
	require.True(t, ok, "the allocation before main's first output is seen: %v", got.Records)
	require.EqualValues(t, earlySize, early.InUseBytes)
	require.EqualValues(t, 1, early.AllocObjects)
	leak, ok := find(got, "leak_here")
	require.True(t, ok)
	require.EqualValues(t, 10*leakSize, leak.InUseBytes)
	select {
	case <-s.Exited():
		t.Fatal("Exited while the program runs")
	default:
	}

	tg.do(t, "step 5")
	_, err := io.WriteString(tg.in, "quit\n")
	require.NoError(t, err)
	<-s.Exited()
	got = sample(t, s)
	leak, ok = find(got, "leak_here")
	require.True(t, ok, "an exited program's last state is read: %v", got.Records)
	require.EqualValues(t, 15*leakSize, leak.InUseBytes)

	require.NoError(t, tg.cmd.Wait())
	_, err = s.Sample(context.Background())
	require.ErrorIs(t, err, os.ErrProcessDone, "a reaped program is gone")
}

// TestStartExitsFirst samples a program only after it has exited: its
// files are still read, so the stacks first seen then are named.
func TestStartExitsFirst(t *testing.T) {
	requireBPF(t)
	tg, s := startCmd(t, exec.Command(buildC(t, "target"), "leak"))
	tg.do(t, "step 5")
	_, err := io.WriteString(tg.in, "quit\n")
	require.NoError(t, err)
	<-s.Exited()
	got := sample(t, s)
	leak, ok := find(got, "leak_here")
	require.True(t, ok, "%v", got.Records)
	require.EqualValues(t, 5*leakSize, leak.InUseBytes)
	early, ok := find(got, "early_here")
	require.True(t, ok, "%v", got.Records)
	require.EqualValues(t, earlySize, early.InUseBytes)
}

// TestStartStatic probes a static program's own allocator, named with
// WithLibrary, from its exec; without it, Start refuses and leaves no
// program behind.
func TestStartStatic(t *testing.T) {
	requireBPF(t)
	static := buildC(t, "target", "-static")
	cmd := exec.Command(static)
	_, err := Start(cmd)
	require.ErrorIs(t, err, ErrNoAllocator)
	require.ErrorContains(t, err, "WithLibrary")
	require.NotNil(t, cmd.ProcessState, "the program was killed and waited for")

	tg, s := startCmd(t, exec.Command(static), WithLibrary(static))
	tg.do(t, "step 2")
	got := sample(t, s)
	early, ok := find(got, "early_here")
	require.True(t, ok, "%v", got.Records)
	require.EqualValues(t, earlySize, early.InUseBytes)
}

func TestStartErrors(t *testing.T) {
	requireBPF(t)
	_, err := Start(exec.Command(filepath.Join(t.TempDir(), "missing")))
	require.ErrorContains(t, err, "starting")

	cmd := exec.Command("true")
	require.NoError(t, cmd.Run())
	_, err = Start(cmd)
	require.ErrorContains(t, err, "already started")

	_, err = Start(exec.Command("true"), WithMinSize(-1))
	require.ErrorContains(t, err, "WithMinSize")

	// A program whose loader cannot find a library it needs exits before
	// it maps the C library: Start says how it ended.
	cc, err := exec.LookPath("cc")
	if err != nil {
		skipOrFail(t, "no C compiler (cc) on PATH")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "gone.c")
	require.NoError(t, os.WriteFile(src, []byte("int gone(void) { return 0; }\n"), 0o644))
	lib := filepath.Join(dir, "libgone.so")
	msg, err := exec.Command(cc, "-shared", "-fPIC", "-o", lib, src).CombinedOutput()
	require.NoError(t, err, "%s", msg)
	main := filepath.Join(dir, "main.c")
	require.NoError(t, os.WriteFile(main, []byte("int gone(void);\nint main(void) { return gone(); }\n"), 0o644))
	bin := filepath.Join(dir, "needs-gone")
	msg, err = exec.Command(cc, "-o", bin, main, "-L"+dir, "-lgone").CombinedOutput()
	require.NoError(t, err, "%s", msg)
	require.NoError(t, os.Remove(lib))
	cmd = exec.Command(bin)
	_, err = Start(cmd)
	require.ErrorIs(t, err, os.ErrProcessDone)
	require.ErrorContains(t, err, "exited with status 127")
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/leakguard/leakguard/sampler"
	"github.com/leakguard/leakguard/sampler/uprobe"
)

// stopGrace is how long a program asked to stop (or interrupted from the
// terminal) may take to exit before it is killed.
const stopGrace = 5 * time.Second

func runRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var out outputFlags
	out.register(fs)
	var live liveFlags
	live.register(fs)
	var native nativeFlags
	native.register(fs, "the C library the program loads")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: leakguard run [flags] [--] COMMAND [ARG...]

Starts COMMAND with eBPF uprobes on its C allocator attached before it runs
any code (Linux, root or CAP_BPF+CAP_PERFMON, and ptrace), so its native
in-use memory per allocation stack is tested from its first allocation.
leakguard's flags come before COMMAND; everything from COMMAND on is the
program's. The program keeps leakguard's stdin, stdout and stderr; progress
and alerts as they are raised go to stderr, and the report goes to stdout
once the program has exited. Only that process is traced, not the
programs it starts. Every traced call traps into the kernel: expect the
program to run slower.

The run ends when the program exits. After --duration, --until-leak or
--give-up, or on SIGTERM, the program is sent SIGTERM; on an interrupt
(Ctrl-C, which the program receives too) it is left to exit. A program
still running 5s later is killed. The program's own exit status is printed
on stderr, not returned: leakguard's exit status is its verdict.

flags:`)
		fs.PrintDefaults()
	}
	// Not parseArgs: a flag after COMMAND is the program's, not leakguard's.
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(stderr)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stdout)
		fs.Usage()
		return exitClean
	}
	if err != nil {
		fmt.Fprintf(stderr, "leakguard run: %v\nRun 'leakguard help run' for its flags.\n", err)
		return exitUsage
	}
	argv := fs.Args()
	if len(argv) == 0 {
		fmt.Fprintln(stderr, "leakguard run: want a command to run")
		fs.Usage()
		return exitUsage
	}
	if err := validateNative(&out, &live); err != nil {
		fmt.Fprintln(stderr, "leakguard run:", err)
		return exitUsage
	}
	det, err := out.detector(0, 0, 1)
	if err != nil {
		fmt.Fprintln(stderr, "leakguard run:", err)
		return exitUsage
	}
	opts := native.options()

	// Signals are caught before the program starts: one arriving while it
	// is being set up must end the run through the cleanup below, not kill
	// leakguard and leave the program behind.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	stdout, stderr = shared(stdout), shared(stderr)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	// A program that leaves a child holding its output must not hold the
	// report back for long.
	cmd.WaitDelay = time.Second
	src, err := uprobe.Start(cmd, opts...)
	if err != nil {
		fmt.Fprintln(stderr, "leakguard run:", err)
		return exitUsage
	}
	defer src.Close()
	fmt.Fprintf(stderr, "leakguard run: tracing %s in process %d (%s)\n", src.Library(), cmd.Process.Pid, argv[0])

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if live.duration > 0 {
		var cancelDuration context.CancelFunc
		ctx, cancelDuration = context.WithTimeout(ctx, live.duration)
		defer cancelDuration()
	}
	// Alerts go to stderr as they are raised: stdout is the program's until
	// it exits.
	w := &watcher{cmd: "run", src: src, det: det, interval: live.interval, giveUp: live.giveUp, progress: live.progress,
		horizon: out.horizon.of(0), stdout: stdout, stderr: stderr, untilLeak: live.untilLeak,
		final: func(err error) bool { return errors.Is(err, os.ErrProcessDone) }}
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		w.loop(ctx)
	}()
	var sig os.Signal
	select {
	case <-src.Exited():
	case <-loopDone:
	case sig = <-sigs:
	}
	cancel()
	<-loopDone

	stopProgram(cmd.Process, src.Exited(), sig, sigs, stderr)
	// The program has exited and is not yet reaped: what it held at its
	// exit is the run's last observation (for a short program, maybe its
	// only one).
	if s, err := src.Sample(context.Background()); err == nil {
		w.observeLast(s)
	} else {
		fmt.Fprintln(stderr, "leakguard run: reading the program's state at its exit:", err)
	}
	waitErr := cmd.Wait()
	var exitErr *exec.ExitError
	switch {
	case cmd.ProcessState != nil:
		fmt.Fprintf(stderr, "leakguard run: %s: %s\n", argv[0], cmd.ProcessState)
	case waitErr != nil && !errors.As(waitErr, &exitErr):
		fmt.Fprintf(stderr, "leakguard run: waiting for %s: %v\n", argv[0], waitErr)
	}
	reportDrops("run", src, stderr)

	if w.profiles == 0 {
		fmt.Fprintln(stderr, "leakguard run: no sample could be taken")
		return exitUsage
	}
	code := emit(buildReport(det, w.profiles, w.first, w.last, out.top), &out, stdout, stderr)
	if w.gaveUp && code != exitLeak {
		return exitUsage
	}
	return code
}

// stopProgram returns once the program has exited, asking it to stop
// first unless it already has: sig is the signal that ended the run, if
// one did. An interrupt from the terminal reached the program too, and a
// second one could cut short its own shutdown; anything else gets SIGTERM.
// A program still running after stopGrace, or when another signal comes,
// is killed.
func stopProgram(p *os.Process, exited <-chan struct{}, sig os.Signal, sigs <-chan os.Signal, stderr io.Writer) {
	select {
	case <-exited:
		return
	default:
	}
	if sig != os.Interrupt {
		_ = p.Signal(syscall.SIGTERM)
	}
	grace := time.NewTimer(stopGrace)
	defer grace.Stop()
	select {
	case <-exited:
		return
	case <-grace.C:
		fmt.Fprintf(stderr, "leakguard run: process %d still running %v after the run ended; killing it\n", p.Pid, stopGrace)
	case <-sigs:
	}
	_ = p.Kill()
	<-exited
}

// observeLast adds a sample taken after the loop ended, as the loop would.
func (w *watcher) observeLast(s *sampler.Sample) {
	if w.profiles == 0 {
		w.first = s.Time
	}
	w.last = s.Time
	w.profiles++
	for _, a := range w.det.Observe(s) {
		fmt.Fprintln(w.stderr, alertLine(a))
	}
}

// shared returns w made safe to write from leakguard and from the
// goroutine that copies the program's output to it. A file needs nothing:
// the program is given the descriptor itself, and no goroutine copies.
func shared(w io.Writer) io.Writer {
	if _, ok := w.(*os.File); ok {
		return w
	}
	return &lockedWriter{w: w}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

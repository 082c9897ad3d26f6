package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/leakguard/leakguard/sampler/uprobe"
)

func runAttach(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("attach", flag.ContinueOnError)
	var out outputFlags
	out.register(fs)
	pidFlag := fs.Int("pid", 0, "process to trace (or give it as the argument)")
	var live liveFlags
	live.register(fs)
	var native nativeFlags
	native.register(fs, "the libc the process maps")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: leakguard attach [flags] PID | --pid PID\n\nTraces malloc/calloc/realloc/free of a running process with eBPF uprobes\n(Linux, root or CAP_BPF+CAP_PERFMON) and tests its native in-use memory per\nallocation stack. Every traced call traps into the kernel: expect the\nprocess to slow down while attached. Stops on SIGINT/SIGTERM, after\n--duration, when the process exits, or after --give-up of continuous failure.\nProgress goes to stderr.\n\nflags:")
		fs.PrintDefaults()
	}
	pos, code, ok := parseArgs(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if err := validateNative(&out, &live); err != nil {
		fmt.Fprintln(stderr, "leakguard attach:", err)
		return exitUsage
	}
	arg := strconv.Itoa(*pidFlag)
	switch {
	case len(pos) == 1 && *pidFlag == 0:
		arg = pos[0]
	case len(pos) == 0 && *pidFlag != 0:
	case *pidFlag != 0:
		fmt.Fprintf(stderr, "leakguard attach: --pid %d and arguments %q: give the PID once\n", *pidFlag, pos)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "leakguard attach: want one PID, got %s\n", countArgs(pos))
		fs.Usage()
		return exitUsage
	}
	pid, err := strconv.Atoi(arg)
	if err != nil || pid <= 0 {
		fmt.Fprintf(stderr, "leakguard attach: PID %q: want a positive process ID\n", arg)
		return exitUsage
	}
	opts := native.options()
	src, err := uprobe.New(pid, opts...)
	if err != nil {
		fmt.Fprintln(stderr, "leakguard attach:", err)
		return exitUsage
	}
	defer src.Close()
	fmt.Fprintf(stderr, "leakguard attach: tracing %s in process %d\n", src.Library(), pid)
	code = live.run("attach", src, &out, func(err error) bool { return errors.Is(err, os.ErrProcessDone) }, stdout, stderr)
	reportDrops("attach", src, stderr)
	return code
}

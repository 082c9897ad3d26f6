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
	every := fs.Int("sample-every", 1, "record one allocation in N, at random (counts are scaled back)")
	minSize := fs.Int("min-size", 0, "ignore allocations smaller than this many bytes")
	library := fs.String("library", "", "probe the allocator in this ELF file instead of the libc the process maps")
	prefix := fs.String("symbol-prefix", "", "allocator symbol prefix, e.g. je_ for a prefixed jemalloc")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: leakguard attach [flags] PID | --pid PID\n\nTraces malloc/calloc/realloc/free of a running process with eBPF uprobes\n(Linux, root or CAP_BPF+CAP_PERFMON) and tests its native in-use memory per\nallocation stack. Every traced call traps into the kernel: expect the\nprocess to slow down while attached. Stops on SIGINT/SIGTERM, after\n--duration, when the process exits, or after --give-up of continuous failure.\nProgress goes to stderr.\n\nflags:")
		fs.PrintDefaults()
	}
	pos, code, ok := parseArgs(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if err := out.validate(); err != nil {
		fmt.Fprintln(stderr, "leakguard attach:", err)
		return exitUsage
	}
	if out.sampleType != "inuse_space" {
		fmt.Fprintln(stderr, "leakguard attach: --sample-type applies to pprof profiles; attach tests in-use bytes")
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
	if err := live.validate(); err != nil {
		fmt.Fprintln(stderr, "leakguard attach:", err)
		return exitUsage
	}
	opts := []uprobe.Option{uprobe.WithSampleEvery(*every), uprobe.WithMinSize(*minSize)}
	if *library != "" {
		opts = append(opts, uprobe.WithLibrary(*library))
	}
	if *prefix != "" {
		opts = append(opts, uprobe.WithSymbolPrefix(*prefix))
	}
	src, err := uprobe.New(pid, opts...)
	if err != nil {
		fmt.Fprintln(stderr, "leakguard attach:", err)
		return exitUsage
	}
	defer src.Close()
	fmt.Fprintf(stderr, "leakguard attach: tracing %s in process %d\n", src.Library(), pid)
	code = live.run("attach", src, &out, func(err error) bool { return errors.Is(err, os.ErrProcessDone) }, stdout, stderr)
	if st, err := src.Stats(); err == nil && st.AllocsDropped+st.StacksDropped+st.PendingDropped+st.TotalsDropped > 0 {
		fmt.Fprintf(stderr, "leakguard attach: the probes could not record everything (undercounts): %+v\n", st)
	}
	return code
}

// Command leakguard finds memory leaks in Go heap profiles with the same
// engine the leakguard library runs in-process.
//
//	leakguard analyze [flags] PATH...   # stored heap profiles (files or directories)
//	leakguard watch [flags] URL         # a live /debug/pprof/heap endpoint
//	leakguard attach [flags] PID        # a native process's C allocator (Linux eBPF, root)
//
// Exit status: 0 when no stack leaks at the alert confidence, 1 when one
// does, 2 on a usage or input error.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Exit codes.
const (
	exitClean = 0
	exitLeak  = 1
	exitUsage = 2
)

type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

// commands is the dispatch table; a subcommand is one entry.
var commands = map[string]command{
	"analyze": {"find leaks in stored heap profiles", runAnalyze},
	"watch":   {"poll a live /debug/pprof/heap endpoint and report leaks as they appear", runWatch},
	"attach":  {"trace a process's C allocator with eBPF uprobes (Linux, root) and report leaks", runAttach},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		return exitUsage
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "leakguard: unknown command %q\n", args[0])
		usage(stderr)
		return exitUsage
	}
	return c.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: leakguard <command> [flags] [args]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'leakguard <command> -h' for its flags.")
	fmt.Fprintln(w, strings.TrimSpace(`
exit status: 0 no leak at the alert confidence, 1 leak found, 2 usage or input error`))
}

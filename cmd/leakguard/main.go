// Command leakguard finds memory and goroutine leaks in Go pprof profiles
// with the same engine the leakguard library runs in-process.
//
//	leakguard analyze [flags] PATH...   # stored heap or goroutine profiles (files or directories)
//	leakguard watch [flags] URL         # a live /debug/pprof/heap or /debug/pprof/goroutine endpoint
//	leakguard attach [flags] PID        # a native process's C allocator (Linux eBPF, root)
//	leakguard run [flags] -- CMD ARGS   # start a program and trace its C allocator from its first allocation
//	leakguard help [command]            # usage, on stdout
//	leakguard --version                 # the module version it was built from
//
// Flags may come before or after the arguments (for run, before the
// command: what follows it is the program's); "--" ends the flags.
//
// Exit status: 0 when no stack leaks at the alert confidence (and for help
// and --version), 1 when one does, 2 on a usage or input error.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
)

// Exit codes.
const (
	exitClean = 0
	exitLeak  = 1
	exitUsage = 2
	// exitInconclusive: no leak found, but no test was possible (too short
	// a history for the horizon) or suspects remain: a CI gate must not
	// read it as clean.
	exitInconclusive = 3
)

type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

// commands is the dispatch table; a subcommand is one entry.
var commands = map[string]command{
	"analyze": {"find leaks in stored heap or goroutine profiles", runAnalyze},
	"watch":   {"poll a live /debug/pprof/heap or /debug/pprof/goroutine endpoint and report leaks as they appear", runWatch},
	"attach":  {"trace a process's C allocator with eBPF uprobes (Linux, root) and report leaks", runAttach},
	"run":     {"start a program with its C allocator traced from its first allocation (Linux, root) and report leaks when it exits", runRun},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(stdout)
		return exitClean
	case "help":
		// "help CMD" is "CMD --help".
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				return c.run([]string{"--help"}, stdout, stderr)
			}
			fmt.Fprintf(stderr, "leakguard help: unknown command %q\n", args[1])
			usage(stderr)
			return exitUsage
		}
		usage(stdout)
		return exitClean
	case "-version", "--version", "version":
		fmt.Fprintln(stdout, "leakguard", version())
		return exitClean
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "leakguard: unknown command %q\n", args[0])
		usage(stderr)
		return exitUsage
	}
	return c.run(args[1:], stdout, stderr)
}

// version is the module version the binary was built from: a release tag
// for `go install ...@vX.Y.Z`, "(devel)" for a build from a checkout, with
// the VCS revision when the build recorded one.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)" // test binaries record no main module version
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	if v == "(devel)" && rev != "" {
		v += fmt.Sprintf(" (commit %.12s%s)", rev, modified)
	}
	return v + ", " + bi.GoVersion
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
	fmt.Fprintln(w, `
Run 'leakguard help <command>' for its flags; 'leakguard --version' for the version.
Flags may come before or after the arguments (run: before the command); "--" ends the flags.

exit status: 0 no leak at the alert confidence, 1 leak found, 2 usage or input error, 3 inconclusive (too little history for the horizon, or suspects not yet confirmed)`)
}

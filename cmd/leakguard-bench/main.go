// Command leakguard-bench measures leakguard and prints the tables of the
// README's Results section: accuracy on a labelled suite of real Go
// workloads (precision, recall, F1, detection latency, per shape and at
// three heap-profile sampling rates), the overhead a started Guard imposes
// on a service-like workload, and the analysis cost and memory at scale.
//
//	go run ./cmd/leakguard-bench            # everything (a few minutes on 2 cores)
//	go run ./cmd/leakguard-bench -short     # a reduced run (CI runs it as a test)
//	go run ./cmd/leakguard-bench -only accuracy
//	go run ./cmd/leakguard-bench -only speed  # real services at default settings, 30 minutes
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
)

func main() {
	short := flag.Bool("short", false, "a reduced run: fewer steps, seeds and rounds")
	only := flag.String("only", "", "run one section: accuracy, stored, overhead, cost, or speed (30 minutes of real services at default settings)")
	flag.Parse()
	if err := run(os.Stdout, *short, *only); err != nil {
		fmt.Fprintln(os.Stderr, "leakguard-bench:", err)
		os.Exit(2)
	}
}

func run(w io.Writer, short bool, only string) error {
	sections := map[string]func(io.Writer, bool) error{
		"accuracy": accuracy,
		"stored":   stored,
		"overhead": overhead,
		"cost":     cost,
		"speed":    speed,
	}
	// speed runs for half an hour of real time; it runs only when asked.
	order := []string{"accuracy", "stored", "overhead", "cost"}
	if only != "" {
		if _, ok := sections[only]; !ok {
			return fmt.Errorf("-only %q: want one of %s or speed", only, strings.Join(order, ", "))
		}
		order = []string{only}
	}
	fmt.Fprintf(w, "leakguard-bench: %s/%s, %d CPUs, %s, short=%v\n\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), short)
	if short {
		fmt.Fprintln(w, smokeBanner)
		fmt.Fprintln(w)
	}
	for _, name := range order {
		if err := sections[name](w, short); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if short {
			// Tables get copied one at a time: each carries the warning.
			fmt.Fprintln(w, smokeNote)
			fmt.Fprintln(w)
		}
	}
	return nil
}

// The marks of a -short run, whose tables only show that the evaluation
// runs end to end: a few rounds of a few steps make ratios and rates that
// are noise.
const (
	smokeBanner = "SMOKE RUN (-short): too few steps, seeds and rounds to mean anything; run without -short for results."
	smokeNote   = "(smoke run: the numbers above are not results; run without -short)"
)

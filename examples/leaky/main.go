// Command leaky is a small service with a memory leak, and leakguard
// catching it: a request handler appends every request body to a
// package-level slice that is never pruned.
//
//	go run ./examples/leaky
//
// It prints the suspect leakguard raises while the growth is younger than
// the horizon, then the alert — the leaking function, file and line, growth
// rate and confidence — and exits 0 when the leak is caught, 1 if it was not
// within the time limit. The demo's horizon (how long growth must persist to
// be a leak) is 5 s so that it ends in seconds; a service keeps the default
// of 10 minutes or sets its own with -horizon.
//
//	go run ./examples/leaky -serve 127.0.0.1:6060
//
// also serves net/http/pprof and leakguard's page, and keeps leaking after
// the alert (until -timeout) for an external `leakguard watch`. The leak is
// capped: once the sessions hold -max-mib MiB (default 1024, 1 GiB) it
// stops growing — the service keeps serving, without retaining more — so a
// demo left running does not take the machine's memory.
package main

import (
	"flag"
	"fmt"
	"net/http"
	_ "net/http/pprof" // the -serve endpoint
	"os"
	"strings"
	"time"

	"github.com/leakguard/leakguard"
)

// keepGoing makes the service leak on after the alert (until the timeout),
// so an external `leakguard watch` can catch it too.
var keepGoing bool

// sessions is the leak: every request's session is kept forever, up to
// maxLeak bytes.
var sessions [][]byte

// sessionSize is what one request retains.
const sessionSize = 16 << 10

// maxLeak caps the leak (-max-mib): a demo, not a way to exhaust the host.
var maxLeak int64 = 1 << 30

// handleRequest allocates a working buffer (garbage after the request) and
// retains a session record (the leak) while the sessions hold less than
// maxLeak. It reports whether it retained one.
func handleRequest(i int) bool {
	work := make([]byte, workSize)
	work[0] = byte(i)
	scratch = work // escapes: real garbage, collected after the next request
	if int64(len(sessions)+1)*sessionSize > maxLeak {
		return false
	}
	session := make([]byte, sessionSize)
	session[0] = work[0]
	sessions = append(sessions, session)
	return true
}

// workSize is a variable so the working buffer is heap-allocated, as a
// request-sized buffer in a real service is.
var workSize = 256 << 10

// scratch keeps the latest working buffer reachable until the next request.
//
//lint:ignore U1000 written, never read: the write is what makes the buffer escape
var scratch []byte

func main() {
	timeout := flag.Duration("timeout", 2*time.Minute, "give up after this long")
	interval := flag.Duration("interval", 100*time.Millisecond, "leakguard sampling interval")
	horizon := flag.Duration("horizon", 5*time.Second, "how long growth must persist to be a leak (a service's default is 10m)")
	serve := flag.String("serve", "", "also serve net/http/pprof and leakguard's page on this address (e.g. 127.0.0.1:6060) and keep leaking until -timeout, for `leakguard watch`")
	maxMiB := flag.Int64("max-mib", maxLeak>>20, "stop leaking once the sessions hold this many MiB (the service keeps serving)")
	flag.Parse()
	if *maxMiB <= 0 {
		fmt.Fprintln(os.Stderr, "leaky: -max-mib must be positive")
		os.Exit(2)
	}
	maxLeak = *maxMiB << 20
	if *serve != "" {
		go func() {
			if err := http.ListenAndServe(*serve, nil); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
		}()
		fmt.Printf("pprof on http://%s/debug/pprof/heap, leakguard's page on http://%[1]s/debug/leakguard\n", *serve)
		keepGoing = true
	}
	os.Exit(run(*interval, *horizon, *timeout))
}

func run(interval, horizon, timeout time.Duration) int {
	caught := make(chan leakguard.Alert, 1)
	suspected := make(chan leakguard.Alert, 1)
	start := time.Now()
	g, err := leakguard.Start(
		leakguard.WithInterval(interval),
		leakguard.WithHorizon(horizon),
		leakguard.WithSuspectAlerts(),
		leakguard.OnAlert(func(a leakguard.Alert) {
			ch := caught
			if a.Severity == leakguard.SeveritySuspect {
				ch = suspected
			}
			select {
			case ch <- a:
			default:
			}
		}),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer g.Stop()
	if keepGoing {
		// The page goes next to net/http/pprof, behind the same access
		// control in a real service: it shows stack traces.
		http.Handle("/debug/leakguard", leakguard.Handler(g))
	}
	fmt.Printf("serving leaky requests; leakguard samples every %v, horizon %v\n", interval, horizon)
	deadline := time.After(timeout)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	capped := false
	for i := 0; ; i++ {
		select {
		case a := <-suspected:
			fmt.Printf("after %v, suspect: %s (%s)\n", time.Since(start).Round(100*time.Millisecond), a.Leaf().Function, a.Evidence.Lacks)
			suspected = nil
		case a := <-caught:
			if a.Severity != leakguard.SeverityAlert {
				continue
			}
			if keepGoing {
				fmt.Println(a)
				caught = nil // report once, keep serving
				continue
			}
			fmt.Println(a)
			for _, f := range a.Frames {
				if strings.HasPrefix(f.Function, "runtime.") {
					continue // the runtime's frames under main say nothing about the leak
				}
				fmt.Printf("\t%s\n\t\t%s:%d\n", f.Function, f.File, f.Line)
			}
			fmt.Printf("caught after %v, %d requests, %d samples: %s\n", time.Since(start).Round(100*time.Millisecond), i, a.Index+1, a.Evidence.Reason)
			return 0
		case <-deadline:
			if keepGoing {
				return 0
			}
			fmt.Println("no leak reported within", timeout)
			return 1
		case <-tick.C:
			if !handleRequest(i) && !capped {
				capped = true
				fmt.Printf("the sessions hold %d MiB (-max-mib): no longer leaking\n", maxLeak>>20)
			}
		}
	}
}

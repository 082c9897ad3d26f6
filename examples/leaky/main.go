// Command leaky is a small service with a memory leak, and leakguard
// catching it: a request handler appends every request body to a
// package-level slice that is never pruned.
//
//	go run ./examples/leaky
//
// It prints the alert — the leaking function, file and line, growth rate and
// confidence — and exits 0 when the leak is caught, 1 if it was not within
// the time limit.
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
var scratch []byte

func main() {
	timeout := flag.Duration("timeout", 2*time.Minute, "give up after this long")
	interval := flag.Duration("interval", 100*time.Millisecond, "leakguard sampling interval")
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
	os.Exit(run(*interval, *timeout))
}

func run(interval, timeout time.Duration) int {
	caught := make(chan leakguard.Alert, 1)
	g, err := leakguard.Start(
		leakguard.WithInterval(interval),
		leakguard.OnAlert(func(a leakguard.Alert) {
			if a.Severity == leakguard.SeverityAlert {
				select {
				case caught <- a:
				default:
				}
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
	fmt.Printf("serving leaky requests; leakguard samples every %v\n", interval)
	deadline := time.After(timeout)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	capped := false
	for i := 0; ; i++ {
		select {
		case a := <-caught:
			if keepGoing {
				fmt.Println(a)
				caught = nil // report once, keep serving
				continue
			}
			fmt.Println(a)
			for _, f := range a.Frames {
				fmt.Printf("\t%s\n\t\t%s:%d\n", f.Function, f.File, f.Line)
			}
			fmt.Printf("caught after %d requests, %d samples\n", i, a.Index+1)
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

// Command prometheus is a small service watched by leakguard and scraped by
// Prometheus: the way to run leakguard across the replicas of a service.
// Each replica starts a Guard and serves its findings on /metrics beside
// the Go runtime's own metrics (and leakguard's page on /debug/leakguard);
// Prometheus scrapes every replica, and the alerting rules in
// leakguard.rules.yml turn a flagged allocation site into an alert naming
// the leaking function, the number of replicas it leaks on, and how soon
// it exhausts GOMEMLIMIT.
//
//	go run ./examples/prometheus -addr 127.0.0.1:9101 -leak -interval 100ms
//
// With -leak every request's session is kept forever; without, sessions go
// to a bounded cache, so the same code runs clean. It serves until
// interrupted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/prom"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// sessionSize is what each request keeps: 4 MiB a second at one request
// a millisecond, fast enough to be flagged within seconds at a 100 ms
// interval, slow enough that a replica runs for minutes.
const sessionSize = 4 << 10

// cacheSlots bounds the clean replica's session cache: it fills within a
// second, then recycles its slots.
const cacheSlots = 1000

// store keeps sessions: forever (the leak) or in a bounded cache.
type store struct {
	leak     bool
	sessions [][]byte
	cache    [cacheSlots][]byte
}

// handleRequest allocates a working buffer (garbage after the request) and
// keeps a session record.
func handleRequest(s *store, i int) {
	work := make([]byte, workSize)
	work[0] = byte(i)
	scratch = work // escapes: real garbage, collected after the next request
	session := make([]byte, sessionSize)
	session[0] = work[0]
	if s.leak {
		s.sessions = append(s.sessions, session)
	} else {
		s.cache[i%cacheSlots] = session
	}
}

// workSize is a variable so the working buffer is heap-allocated, as a
// request-sized buffer in a real service is.
var workSize = 64 << 10

// scratch keeps the latest working buffer reachable until the next request.
//
//lint:ignore U1000 written, never read: the write is what makes the buffer escape
var scratch []byte

// run serves until ctx is done; it returns the process's exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("prometheus", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:9101", "serve /metrics on this address (port 0 picks a free one)")
	leak := fs.Bool("leak", false, "keep every session forever")
	interval := fs.Duration("interval", leakguard.DefaultInterval, "leakguard sampling interval")
	horizon := fs.Duration("horizon", leakguard.DefaultHorizon, "how long growth must persist to be a leak")
	if err := fs.Parse(args); err != nil {
		return 2
	}

	g, err := leakguard.Start(
		leakguard.WithInterval(*interval),
		leakguard.WithHorizon(*horizon),
		// Sessions are small: sample the heap finely enough to see them
		// within a few seconds.
		leakguard.WithMemProfileRate(64<<10),
		leakguard.WithLogger(slog.New(slog.NewTextHandler(stderr, nil))),
	)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	defer g.Stop()
	// The default registry already carries the Go runtime's metrics,
	// go_gc_gomemlimit_bytes among them, which the rules compare the
	// growth with.
	c, err := prom.NewCollector(g)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	prometheus.MustRegister(c)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.Handler())
	// The page the alerts point to, for the whole stack and the history.
	// In a real service it sits behind the same access control as
	// net/http/pprof: it shows stack traces.
	mux.Handle("/debug/leakguard", leakguard.Handler(g))

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer srv.Close()
	fmt.Fprintf(stdout, "serving metrics on http://%s/metrics (leak=%v, leakguard samples every %v)\n", ln.Addr(), *leak, *interval)

	s := &store{leak: *leak}
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return 0
		case err := <-served:
			if !errors.Is(err, http.ErrServerClosed) {
				fmt.Fprintln(stderr, err)
			}
			return 1
		case <-tick.C:
			handleRequest(s, i)
		}
	}
}

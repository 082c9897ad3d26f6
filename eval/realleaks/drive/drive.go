// Package drive is the load loop the real-leak drivers share: it runs a
// service's request function at a steady rate for a set time and either
// stores the heap profiles a user's periodic `curl /debug/pprof/heap` would
// collect, or watches the process in-process with a leakguard Guard and
// writes its Report, or both.
//
// A driver's main calls Main with its name and a Setup that starts the
// service (typically an HTTP server on 127.0.0.1:0) and returns the request
// a client makes.
package drive

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	httppprof "net/http/pprof"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leakguard/leakguard"
)

// MemProfileRate is the heap-profile sampling rate every driver sets at the
// start of main: what a leakguard Guard sets by default
// (leakguard.DefaultMemProfileRate, 64 KiB).
const MemProfileRate = 64 << 10

// Request is one client request against the service. It must be safe for
// concurrent use.
type Request func(ctx context.Context) error

// Setup starts the service and returns the request a client makes and a
// function that stops the service.
type Setup func(ctx context.Context) (Request, func(), error)

// Config is what the command line sets.
type Config struct {
	Duration time.Duration // how long to run the load
	Interval time.Duration // heap profile interval (and the Guard's sampling interval)
	Rate     float64       // requests per second, all clients together
	Clients  int           // concurrent clients
	Out      string        // directory for heap profiles; empty: none
	Guard    string        // file for the in-process Guard's Report (JSON); empty: no Guard
	Serve    bool          // serve net/http/pprof on 127.0.0.1:0, its heap URL printed as stdout's first line
	Horizon  time.Duration // the Guard's horizon; 0: 0.4 × Duration
}

// Main parses the flags, runs the load and exits: 0 on success, 1 when the
// service or a request failed, 2 on bad flags.
func Main(name string, setup Setup) {
	var c Config
	flag.DurationVar(&c.Duration, "duration", 3*time.Minute, "how long to run the load")
	flag.DurationVar(&c.Interval, "interval", time.Second, "store a heap profile (and sample with the Guard) this often")
	flag.Float64Var(&c.Rate, "rate", 200, "requests per second, all clients together")
	flag.IntVar(&c.Clients, "clients", 4, "concurrent clients")
	flag.StringVar(&c.Out, "out", "", "store heap profiles heap-NNNN.pb.gz in this directory")
	flag.StringVar(&c.Guard, "guard", "", "run a leakguard Guard in-process and write its final Report (JSON) to this file")
	flag.DurationVar(&c.Horizon, "horizon", 0, "the Guard's horizon (default 0.4 × -duration)")
	flag.BoolVar(&c.Serve, "serve", false, "serve net/http/pprof on 127.0.0.1:0 and print its /debug/pprof/heap URL as stdout's first line")
	memRate := flag.Int("memprofilerate", MemProfileRate, "runtime.MemProfileRate to set at the start (524288 is the runtime's default)")
	flag.Parse()
	if c.Duration <= 0 || c.Interval <= 0 || c.Rate <= 0 || c.Clients <= 0 || *memRate <= 0 || (c.Out == "" && c.Guard == "" && !c.Serve) {
		fmt.Fprintf(os.Stderr, "%s: need positive -duration, -interval, -rate, -clients, -memprofilerate and one of -out, -guard, -serve\n", name)
		os.Exit(2)
	}
	runtime.MemProfileRate = *memRate
	stats, err := Run(context.Background(), c, setup)
	fmt.Fprintf(os.Stderr, "%s: %d requests, %d failed, %d profiles\n", name, stats.Requests, stats.Failed, stats.Profiles)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// Stats counts what a run did.
type Stats struct {
	Requests, Failed int64
	Profiles         int
}

// Run starts the service, drives it for c.Duration at c.Rate from
// c.Clients clients, and stores profiles and/or the Guard's report. It
// fails if the service fails to start, if more than 1 % of requests fail,
// or if storing a profile or the report fails.
func Run(ctx context.Context, c Config, setup Setup) (Stats, error) {
	var st Stats
	var g *leakguard.Guard
	if c.Guard != "" {
		h := c.Horizon
		if h <= 0 {
			h = time.Duration(0.4 * float64(c.Duration))
		}
		var err error
		g, err = leakguard.Start(leakguard.WithInterval(c.Interval), leakguard.WithHorizon(h))
		if err != nil {
			return st, err
		}
		defer g.Stop()
	}
	if c.Serve {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", httppprof.Index)
		base, _, stop, err := Serve(mux)
		if err != nil {
			return st, err
		}
		defer stop()
		fmt.Printf("%s/debug/pprof/heap\n", base)
	}
	ctx, cancel := context.WithTimeout(ctx, c.Duration)
	defer cancel()
	req, stop, err := setup(ctx)
	if err != nil {
		return st, fmt.Errorf("starting the service: %w", err)
	}
	defer stop()

	var requests, failed atomic.Int64
	var errMu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	per := time.Duration(float64(time.Second) * float64(c.Clients) / c.Rate)
	for range c.Clients {
		wg.Go(func() {
			tick := time.NewTicker(per)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				if err := req(ctx); err != nil && ctx.Err() == nil {
					failed.Add(1)
					errMu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					errMu.Unlock()
				}
				requests.Add(1)
			}
		})
	}

	var perr error
	if c.Out != "" {
		if err := os.MkdirAll(c.Out, 0o755); err != nil {
			return st, err
		}
		tick := time.NewTicker(c.Interval)
	profiles:
		for {
			select {
			case <-ctx.Done():
				break profiles
			case <-tick.C:
			}
			if err := writeProfile(filepath.Join(c.Out, fmt.Sprintf("heap-%04d.pb.gz", st.Profiles))); err != nil {
				perr = err
				cancel()
				break
			}
			st.Profiles++
		}
		tick.Stop()
	}
	<-ctx.Done()
	wg.Wait()
	st.Requests, st.Failed = requests.Load(), failed.Load()

	if g != nil {
		if err := writeReport(c.Guard, g); err != nil && perr == nil {
			perr = err
		}
	}
	if perr != nil {
		return st, perr
	}
	if st.Failed*100 > st.Requests {
		return st, fmt.Errorf("%d of %d requests failed, first: %v", st.Failed, st.Requests, firstErr)
	}
	if firstErr != nil {
		fmt.Fprintf(os.Stderr, "%d of %d requests failed, first: %v\n", st.Failed, st.Requests, firstErr)
	}
	if st.Requests == 0 {
		return st, errors.New("no request completed")
	}
	return st, nil
}

// writeProfile stores the heap profile as /debug/pprof/heap serves it: no
// garbage collection forced, so it holds the counts as of the last one.
func writeProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// GuardResult is what a driver run with -guard writes: the Guard's Report,
// its Alerts, and its suspects.
type GuardResult struct {
	Report   leakguard.Report  `json:"report"`
	Alerts   []leakguard.Alert `json:"alerts"`
	Suspects []leakguard.Alert `json:"suspects"`
}

func writeReport(path string, g *leakguard.Guard) error {
	r := GuardResult{Report: g.Report(), Alerts: g.Alerts(), Suspects: g.Suspects()}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// Do makes one request as a client of the driven service: it sends r,
// reads the whole body (so the connection is reused) and returns an error
// for a status other than 200 OK.
func Do(client *http.Client, r *http.Request) error {
	resp, err := client.Do(r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}

// Get returns the Request of a client that GETs url(n) from the driven
// service, n counting the requests from 1.
func Get(client *http.Client, url func(n int64) string) Request {
	var n atomic.Int64
	return func(ctx context.Context) error {
		r, err := http.NewRequestWithContext(ctx, http.MethodGet, url(n.Add(1)), nil)
		if err != nil {
			return err
		}
		return Do(client, r)
	}
}

// Serve serves h on a loopback port and returns its base URL
// ("http://127.0.0.1:port"), a client for it with a timeout, and a
// function that stops the server.
func Serve(h http.Handler) (base string, client *http.Client, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, nil, err
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), &http.Client{Timeout: 5 * time.Second}, func() { srv.Close() }, nil
}

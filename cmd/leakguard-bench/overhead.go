package main

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/workload"
)

// roundResult is one timed round of the service-like workload.
type roundResult struct {
	ops       int
	latencies []time.Duration
}

// serveRound runs workers goroutines handling requests for d and returns
// the throughput and per-request latencies.
func serveRound(d time.Duration, workers int, seed uint64) roundResult {
	var mu sync.Mutex
	var res roundResult
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for k := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(k)))
			var lat []time.Duration
			for time.Now().Before(deadline) {
				start := time.Now()
				workload.Serve(r, 1)
				lat = append(lat, time.Since(start))
			}
			mu.Lock()
			res.ops += len(lat)
			res.latencies = append(res.latencies, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return res
}

func quantile(d []time.Duration, q float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}

// overhead interleaves rounds with and without a started Guard and
// compares throughput and latency quantiles.
func overhead(w io.Writer, short bool) error {
	rounds, dur := 10, time.Second
	if short {
		rounds, dur = 2, 200*time.Millisecond
	}
	const workers = 4
	quiet := slog.New(slog.DiscardHandler)
	settings := []struct {
		name string
		opts []leakguard.Option
	}{
		{"defaults (10 s interval)", nil},
		{"defaults + goroutines", []leakguard.Option{leakguard.WithGoroutines()}},
		{"aggressive (100 ms interval)", []leakguard.Option{leakguard.WithInterval(100 * time.Millisecond)}},
	}
	fmt.Fprintf(w, "## Overhead: %d workers serving JSON requests, %d interleaved rounds of %v per setting\n\n", workers, rounds, dur)
	fmt.Fprintln(w, "| Setting | Throughput ratio | p50 latency ratio | p99 latency ratio | Analysis cycles |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, st := range settings {
		var base, with roundResult
		cycles := uint64(0)
		for r := range rounds {
			b := serveRound(dur, workers, uint64(r))
			g, err := leakguard.Start(append([]leakguard.Option{leakguard.WithLogger(quiet)}, st.opts...)...)
			if err != nil {
				return err
			}
			x := serveRound(dur, workers, uint64(r))
			cycles += g.Stats().Cycles
			if err := g.Stop(); err != nil {
				return err
			}
			base.ops += b.ops
			base.latencies = append(base.latencies, b.latencies...)
			with.ops += x.ops
			with.latencies = append(with.latencies, x.latencies...)
		}
		fmt.Fprintf(w, "| %s | %.3f | %.3f | %.3f | %d |\n", st.name,
			float64(with.ops)/float64(base.ops),
			float64(quantile(with.latencies, 0.5))/float64(quantile(base.latencies, 0.5)),
			float64(quantile(with.latencies, 0.99))/float64(quantile(base.latencies, 0.99)),
			cycles)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Ratios are with/without: throughput below 1 and latency above 1 are overhead. Rounds alternate so drift in the machine affects both sides alike.")
	fmt.Fprintln(w)
	return nil
}

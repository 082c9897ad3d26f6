package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/workload"
	"github.com/leakguard/leakguard/sampler"
	"github.com/leakguard/leakguard/sampler/heap"
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
	// Every round without a Guard runs at the runtime's own default rate;
	// a started Guard lowers it to 64 KiB (DefaultMemProfileRate), so its
	// rows include the cost of the finer sampling. The rate-only rows
	// measure that cost alone.
	settings := []struct {
		name  string
		guard bool
		rate  int // MemProfileRate for the measured side; 0: what Start sets
		opts  []leakguard.Option
	}{
		{"defaults (10 s interval, MemProfileRate 64 KiB)", true, 0, nil},
		{"defaults + goroutines", true, 0, []leakguard.Option{leakguard.WithGoroutines()}},
		{"aggressive (100 ms interval)", true, 0, []leakguard.Option{leakguard.WithInterval(100 * time.Millisecond)}},
		{"no Guard, MemProfileRate 64 KiB", false, 64 << 10, nil},
		{"no Guard, MemProfileRate 16 KiB", false, 16 << 10, nil},
	}
	runtimeDefault := runtime.MemProfileRate
	defer func() { runtime.MemProfileRate = runtimeDefault }()
	fmt.Fprintf(w, "## Overhead: %d workers serving JSON requests, %d interleaved rounds of %v per setting\n\n", workers, rounds, dur)
	fmt.Fprintln(w, "| Setting | Throughput ratio (median of rounds) | p50 latency ratio | p99 latency ratio | Analysis cycles |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, st := range settings {
		var base, with roundResult
		var ratios []float64
		cycles := uint64(0)
		for r := range rounds {
			runtime.MemProfileRate = 512 << 10
			b := serveRound(dur, workers, uint64(r))
			var x roundResult
			if st.guard {
				g, err := leakguard.Start(append([]leakguard.Option{leakguard.WithLogger(quiet)}, st.opts...)...)
				if err != nil {
					return err
				}
				x = serveRound(dur, workers, uint64(r))
				cycles += g.Stats().Cycles
				if err := g.Stop(); err != nil {
					return err
				}
			} else {
				runtime.MemProfileRate = st.rate
				x = serveRound(dur, workers, uint64(r))
			}
			ratios = append(ratios, float64(x.ops)/float64(b.ops))
			base.ops += b.ops
			base.latencies = append(base.latencies, b.latencies...)
			with.ops += x.ops
			with.latencies = append(with.latencies, x.latencies...)
		}
		slices.Sort(ratios)
		fmt.Fprintf(w, "| %s | %.3f | %.3f | %.3f | %d |\n", st.name,
			ratios[len(ratios)/2],
			float64(quantile(with.latencies, 0.5))/float64(quantile(base.latencies, 0.5)),
			float64(quantile(with.latencies, 0.99))/float64(quantile(base.latencies, 0.99)),
			cycles)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Ratios are with/without, the without side at the runtime's default MemProfileRate (512 KiB): throughput below 1 and latency above 1 are overhead. Rounds alternate so drift in the machine affects both sides alike; differences of a few per cent are this machine's noise. At the default 10 s interval a round of a second or two rarely contains a cycle, so the first row mostly measures a started Guard at rest with its finer sampling; the cost of its cycles is measured directly below.")
	fmt.Fprintln(w)
	cycle, stacks, n, err := cycleCost(short)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "One full cycle on this workload (read the runtime heap profile, %d stacks, analyse), mean of %d: %v, which at the default 10 s interval is %.3f %% of one core.\n\n",
		stacks, n, cycle.Round(time.Microsecond), 100*cycle.Seconds()/leakguard.DefaultInterval.Seconds())
	return nil
}

// cycleCost times what a Guard does per cycle — heap.Sampler.Sample,
// Detector.Observe and Release, with frames resolved only for the stacks
// kept — in this process while it serves requests, counting
// only cycles that had a new GC to read, as a Guard does.
func cycleCost(short bool) (mean time.Duration, stacks, cycles int, err error) {
	want := 200
	if short {
		want = 20
	}
	hs, err := heap.New(heap.WithLazyFrames(true))
	if err != nil {
		return 0, 0, 0, err
	}
	defer hs.Close()
	det, err := leakguard.NewDetector()
	if err != nil {
		return 0, 0, 0, err
	}
	r := rand.New(rand.NewPCG(3, 3))
	var spent time.Duration
	for cycles < want {
		workload.Serve(r, 200)
		start := time.Now()
		s, err := hs.Sample(context.Background())
		if errors.Is(err, sampler.ErrNoNewData) {
			continue
		}
		if err != nil {
			return 0, 0, 0, err
		}
		det.Observe(s)
		hs.Release()
		spent += time.Since(start)
		stacks = len(s.Records)
		cycles++
	}
	return spent / time.Duration(cycles), stacks, cycles, nil
}

package leakguard_test

import (
	"fmt"
	"log"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/sampler"
)

// Start a Guard early in main and stop it on the way out. Alerts arrive on
// the callback's own goroutine; a panicking callback is isolated.
func ExampleStart() {
	g, err := leakguard.Start(
		leakguard.WithInterval(10*time.Second),
		leakguard.OnAlert(func(a leakguard.Alert) { log.Print(a) }),
		leakguard.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer g.Stop()
	fmt.Println("watching the heap")
	// Output: watching the heap
}

// A Detector is the engine without the background goroutine: feed it
// samples from any source, one at a time, as they arrive. Its evidence is
// the sampled objects each stack holds and was born; growth must outlast
// the horizon (ten minutes by default) to be a leak.
func ExampleDetector() {
	det, err := leakguard.NewDetector()
	if err != nil {
		log.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	handler := []sampler.Frame{{Function: "main.handle", File: "main.go", Line: 42}}
	cache := []sampler.Frame{{Function: "main.fill", File: "cache.go", Line: 7}}
	var leaked, cached, cacheBorn int64
	for i := range 200 {
		leaked += rng.Int64N(3) // retains one sampled object per sample on average
		born := rng.Int64N(5)   // the cache fills for five minutes, then replaces entries
		cacheBorn += born
		cached = min(cached+born, 60)
		s := &sampler.Sample{
			Time:     start.Add(time.Duration(i) * 10 * time.Second),
			Resource: sampler.Heap,
			Seq:      uint64(i + 1),
			Rate:     64 << 10,
			Records: []sampler.Record{
				{Stack: 1, Frames: handler, InUseSampled: leaked, AllocSampled: leaked, InUseBytes: leaked << 16},
				{Stack: 2, Frames: cache, InUseSampled: cached, AllocSampled: cacheBorn, InUseBytes: cached << 16},
			},
		}
		for _, a := range det.Observe(s) {
			fmt.Printf("%s at %s after %v: %d sampled objects retained\n",
				a.Severity, a.Leaf().Function, a.Time.Sub(start), a.Evidence.RetainedSampled)
		}
	}
	// Output: alert at main.handle after 17m0s: 13 sampled objects retained
}

// Mount the page next to net/http/pprof, behind the same access control:
// it shows stack traces.
func ExampleHandler() {
	g, err := leakguard.Start(leakguard.WithInterval(time.Hour), leakguard.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		log.Fatal(err)
	}
	defer g.Stop()
	mux := http.NewServeMux()
	mux.Handle("/debug/leakguard", leakguard.Handler(g))

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/leakguard?format=json", nil))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	// Output: 200 application/json
}

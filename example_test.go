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
// samples from any source, one at a time, as they arrive.
func ExampleDetector() {
	det, err := leakguard.NewDetector()
	if err != nil {
		log.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	handler := []sampler.Frame{{Function: "main.handle", File: "main.go", Line: 42}}
	cache := []sampler.Frame{{Function: "main.fill", File: "cache.go", Line: 7}}
	for i := range 120 {
		noise := func() int64 { return rng.Int64N(64 << 10) }
		s := &sampler.Sample{
			Time:     start.Add(time.Duration(i) * 10 * time.Second),
			Resource: sampler.Heap,
			Seq:      uint64(i + 1),
			Records: []sampler.Record{
				{Stack: 1, Frames: handler, InUseBytes: int64(i)<<20 + noise()},        // leaks 1 MiB per sample
				{Stack: 2, Frames: cache, InUseBytes: min(int64(i), 20)<<20 + noise()}, // warms up, then stays
			},
		}
		for _, a := range det.Observe(s) {
			if a.Severity == leakguard.SeverityAlert && a.Stack != leakguard.TotalStack {
				fmt.Printf("%s: %s growth at %s, sample %d\n", a.Severity, a.Pattern, a.Leaf().Function, a.Index)
			}
		}
	}
	// Output: alert: gradual growth at main.handle, sample 47
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

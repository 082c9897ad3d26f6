// Package leakguard finds memory leaks in a running Go service, with a
// bounded probability of ever crying wolf.
//
// Start it once, early in main:
//
//	g, err := leakguard.Start(
//		leakguard.OnAlert(func(a leakguard.Alert) { log.Print(a) }),
//	)
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer g.Stop()
//
// Start may be called more than once: each call returns an independent
// Guard with its own samplers, storage, budget and goroutines, and stopping
// one leaves the others running. They share only runtime.MemProfileRate,
// which no Guard changes. One Guard per process is what you want; a second
// one doubles the cost and splits nothing.
//
// leakguard leaves its own allocation sites out of the heap profile it
// analyses (see package sampler/heap): its memory is bounded by its
// options, and it must not read its own filling of that bound as a leak.
//
// Every interval (WithInterval, default 10 s) the Guard reads the runtime
// heap profile — only when a garbage collection has completed since the
// last read, because the profile describes the heap as of the last GC — and
// records each allocation stack's in-use bytes in bounded storage: at most
// WithMaxStacks stacks, each with a fixed-size multi-resolution history.
// A statistical test then asks of every stack, and of the process total,
// whether its memory has grown persistently up to now.
//
// # What counts as a leak
//
// A leak is growth that persists through a whole window of consecutive
// samples (WithWindow, default 48) at some resolution: the window as a
// whole, its older half and its newer half must each grow significantly
// (an intersection–union test), under either of two noise models combined
// by Bonferroni: stationary noise (a least-squares slope whose standard
// error is widened for serial correlation) or a random walk (the drift of
// the increments, which is how a sampling profiler sees a leak). Growth that stops —
// a cache that warmed up, a buffer that filled, a one-time step, a spike
// that drained, a sawtooth — fails the persistence requirement and is not
// reported. The window is the one trade-off: a steady leak is reported
// after about 48–60 samples, and a warm-up that keeps growing for most of a
// window looks exactly like a leak and will be reported. Coarser
// resolutions (means of 2, 4, 8 samples) find leaks too slow to see in 48
// raw samples.
//
// # The false-alarm guarantee
//
// Every test runs at a level taken from an error budget: stacks that first
// appear in the n-th sample share SpendWeight(n) of it, and a stack's t-th
// test gets SpendWeight(t) of its share (see package stats). The levels sum
// to at most the budget over all stacks and all time, so the probability
// that any stack is ever reported at alert severity when nothing leaks is
// at most 1 − alert confidence (default 1 %), and at warning severity at
// most 1 − warning confidence (default 5 %), however long the service runs
// and however often it is looked at. The price is that late tests need
// stronger evidence than early ones.
//
// # Reading an alert
//
// An Alert names the resource, the allocation stack (leaf first), the
// severity and confidence, the shape of the growth (PatternType), and the
// Evidence: growth rate with a confidence interval, bytes in use now, when
// growth started, and — where the sampler reports allocation counts — the
// share of allocated bytes that stayed live (Retention).
//
// # Cost
//
// Nothing runs per allocation: the runtime already samples allocations at
// runtime.MemProfileRate, and leakguard only reads that profile once per
// interval. Memory is bounded by WithMaxStacks × the history size whatever
// the service does.
//
// # Limits
//
//   - The runtime heap profile samples about one allocation per
//     runtime.MemProfileRate bytes (512 KiB by default). A leak of a fraction
//     of that per interval carries little evidence per sample and takes
//     several windows to clear the family-wise bar; WithMemProfileRate(64
//     << 10), or runtime.MemProfileRate = 64 << 10 early in main, finds
//     slow leaks sooner (the README's Results measure both rates).
//   - Growth that goes on for most of a window is reported, warm-up or not:
//     raise WithWindow for services that warm up longer than about half of
//     it.
//   - Leaks in rare large steps (a retained batch now and then) look like
//     benign steps until many have accumulated, and are found late.
//   - Memory outside the Go heap is not in the heap profile: goroutine
//     stacks (use WithGoroutines), cgo and C allocations (use package
//     sampler/uprobe or `leakguard attach`), mmap.
//   - leakguard's own allocation sites are left out of what it analyses.
//
// Detector is the same engine without the background goroutine, for feeding
// stored profiles (the leakguard command does) or custom samplers.
package leakguard

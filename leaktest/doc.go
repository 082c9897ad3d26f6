// Package leaktest asserts in a Go test that a piece of code leaks neither
// heap memory nor goroutines — goleak's one-liner, for heap growth too.
//
//	func TestHandlerDoesNotLeak(t *testing.T) {
//		h := newHandler()
//		leaktest.Check(t, func() { h.serve(request()) })
//	}
//
// Check calls the function repeatedly: warm-up rounds first (so one-time
// initialisation, sync.Once, lazily filled package caches and bounded caches
// filling up are not counted), then measured rounds. After every round it
// collects garbage and reads, per allocation stack, the bytes still live,
// and counts the goroutines the function started. A stack whose live bytes
// grow persistently with the number of calls — the whole measured run, its
// first half and its second half each growing significantly (package stats)
// — is a leak; so is a creation site whose goroutines accumulate. The
// significance is family-wise over every stack tested, at 1 − Confidence.
//
// # What is measured, and parallel tests
//
// Heap: for the duration of Check, runtime.MemProfileRate is set to 1 so
// every allocation is recorded, and restored afterwards. MemProfileRate is
// process-wide: tests running in parallel meanwhile are recorded at rate 1
// too (slower, never wrong); when Checks overlap, the rate is restored
// when the last of them ends. Allocations made before a Check starts keep
// the weight of the rate they were sampled at, which is why growth, not
// level, is tested. Only allocation
// stacks where Check's own caller frame called fn are attributed to fn, so
// another test's leak running in parallel is never blamed on it (unless
// both Check the very same function at once). Memory that fn's own
// goroutines allocate is not on fn's call stack; such a leak shows up as
// goroutines accumulating (a goroutine blocked forever holding a buffer) or
// is missed if the goroutines exit.
//
// Goroutines: fn runs under a runtime/pprof label unique to the Check call;
// goroutines inherit labels, so reading the goroutine profile back counts
// exactly the goroutines fn started — other tests' goroutines never count,
// which is what goleak cannot do under t.Parallel().
package leaktest

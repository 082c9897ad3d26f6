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
// and counts the goroutines the function started, per creation site.
//
// # The statistic
//
// The commonest leak keeps its bytes where they grow in doublings: a
// global slice appended to, a map inserted into, a strings.Builder or a
// bytes.Buffer written to. The live bytes at such a stack are the current
// backing array only — the old ones are freed — so they rise in steps,
// between N and about 2N for N calls, once per doubling of the calls. The
// measured rounds are therefore spaced geometrically: they take the calls
// from the warm-up's W to 64·W, each round a constant factor longer than
// the last, so the steps of a doubling leak recur evenly across the rounds
// and a leak that grows by a fixed amount per call grows in every round.
//
// For every stack (and every goroutine creation site) the series of live
// values is tested with the Mann–Kendall statistic S: the number of pairs
// of rounds in which the later value is larger, minus those in which it is
// smaller. The null hypothesis is that the rounds' values are exchangeable
// — a footprint that does not grow with the number of calls looks the same
// after any of them — under which S has mean 0 and an exactly known
// variance given the ties; S is referred to the normal distribution with a
// continuity correction, which errs on the side of larger p-values. Only
// ranks count, so a series of long equal runs between steps is as strong
// evidence as a straight line once the steps recur, and a leak in exact
// bytes needs no noise model.
//
// Growth must persist: the first half of the measured rounds and the
// second half must each rise significantly (an intersection–union test,
// whose p-value is the larger of the two). A bounded cache filling up
// during the first half, a buffer reaching its working size, a one-time
// step anywhere: none of them rises in both halves, and none is reported.
// The p-values are Bonferroni-adjusted over every stack and creation site
// seen and over the three looks at the data — halfway, three quarters
// through and at the end, so a clear leak stops the run early — so the
// chance that Check fails code that leaks nothing is at most
// 1 − Confidence.
//
// What it cannot see: growth that stops within the first half of the
// measured rounds (by design), and a doubling structure already so large
// when Check starts that the measured calls barely double it — the steps
// must recur within the run; raise CallsPerRound for that. Conversely,
// anything whose footprint keeps rising across the run is reported, even
// slowly: a buffer sized to the largest input seen so far, when the inputs
// have no bound, rises at records that recur like doublings.
//
// # What a failure names
//
// A failure names the function under test, then each leak from its first
// frame outside the standard library: the caller's line that appended or
// inserted, not runtime.growslice; the function a leaked goroutine is
// blocked in, not runtime.gopark or runtime.chanrecv. A goroutine that runs
// only standard-library code (an HTTP connection's read loop) is named by
// its first frame outside the runtime.
//
// # What is measured, and parallel tests
//
// Heap: for the duration of Check, runtime.MemProfileRate is set to 1 so
// every allocation is recorded, and restored afterwards (while a Check
// running alone reads the profiles back it is 0: reading allocates, and
// nothing of fn's runs meanwhile). MemProfileRate is process-wide: tests
// running in parallel meanwhile are recorded at rate 1 too (slower, never
// wrong); when Checks overlap, the rate is restored when the last of them
// ends. Allocations made before a Check starts keep the weight of the rate
// they were sampled at, which is why growth, not level, is tested. Only
// allocation stacks where Check's own caller frame called fn are
// attributed to fn, so another test's leak running in parallel is never
// blamed on it (unless both Check the very same function at once). Memory
// that fn's own goroutines allocate is not on fn's call stack; such a leak
// shows up as goroutines accumulating (a goroutine blocked forever holding
// a buffer) or is missed if the goroutines exit.
//
// Goroutines: fn runs under a runtime/pprof label unique to the Check call;
// goroutines inherit labels, so reading the goroutine profile back counts
// exactly the goroutines fn started — other tests' goroutines never count,
// which is what goleak cannot do under t.Parallel().
package leaktest

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
// one leaves the others running. They share only runtime.MemProfileRate.
// One Guard per process is what you want; a second one doubles the cost and
// splits nothing.
//
// leakguard leaves its own allocation sites out of the heap profile it
// analyses (see package sampler/heap): its memory is bounded by its
// options, and it must not read its own filling of that bound as a leak.
// It logs nothing unless given a logger (WithLogger); alerts reach the
// OnAlert callbacks.
//
// Every interval (WithInterval, default 10 s) the Guard reads the runtime
// heap profile — only when a garbage collection has completed since the
// last read, because the profile describes the heap as of the last GC, and
// stamped with the time of that GC; when none ran for six intervals (a
// growing heap collects ever more rarely) it runs one. Each allocation
// stack's evidence is recorded in bounded storage: the number of live
// sampled objects, and the sampled births and deaths behind it — at most
// WithMaxStacks stacks, each with a fixed-size multi-resolution history of
// integer counts.
//
// # Evidence
//
// The runtime samples about one allocation per runtime.MemProfileRate
// bytes. Start lowers the runtime's default of 512 KiB to 64 KiB
// (DefaultMemProfileRate): eight times the sampled objects per leaked
// byte. The rate follows from a CPU budget: a sampled allocation costs the
// program a stack walk, about 2 µs, so at 64 KiB sampling raises the cost
// of allocating small objects by about 5 % (DefaultSamplingBudget) whatever
// the allocation rate — and the runtime wants the rate set once, at Start.
// WithSamplingBudget chooses another budget, WithMemProfileRate a rate, 0
// leaves it alone. A stack's evidence is its sampled objects, not the
// number of profiles: a stack that only retains, d sampled objects, gives
// p = 2^−d; one that also frees needs a larger rise. The null hypothesis is
// stationary churn — each sampled birth or death is a birth with
// probability at most ½ (births and deaths balance) — under which the
// births among m events are at most Binomial(m, ½) (see stats.Rise). The m
// events are those that can move the count between two profiles: births
// that survive to the later one and deaths of objects alive at the earlier
// one, at most the two live counts added (scaled by the count's dispersion
// about its trend, for objects freed in batches) — an object born and
// freed in between changes nothing, so a stack's short-lived churn does not
// hide its leak.
//
// # What counts as a leak
//
// A leak is growth that persists beyond the horizon (WithHorizon, default
// 10 minutes). The null hypothesis a stack must reject is that all of its
// growth beyond churn fits in one window of at most a horizon, wherever
// that window lies. At each look, for a stack whose history spans more than
// a horizon, the test places the window at every block of the history in
// turn; outside it remain an early piece (before the
// window) and a late piece (after it), and it asks that the early piece's
// rise plus the late piece's rise above the highest count reached since
// the window opened be significant against the events of both pieces. It
// rejects only if every placement is rejected (an intersection–union
// test). A warm-up, a buffer filling, a one-time step — any growth that
// stops within the horizon — fits in some placement and cannot pass; a
// sawtooth cannot either, since at a placement opening at one of its
// troughs nothing rises above its peaks. A steady leak brings the evidence
// of its whole history but one horizon. The horizon is the one trade-off:
// an alert comes at the earliest a few blocks more than a horizon after
// growth starts (a fast leak; a slow one needs more of its evidence outside
// the window), and a warm-up that grows for longer than the horizon is a leak
// by this definition.
//
// Growth that is significant now but not yet confirmed — younger than the
// horizon, or too few sampled objects for the alert confidence — makes the
// stack a suspect (SeveritySuspect; Detector.Suspects, Report.Suspects),
// each saying what it lacks. A suspect whose growth, at the low end of its
// 95 % interval, would fill the headroom below the process's memory limit
// (GOMEMLIMIT or the cgroup's; WithMemoryLimit) within the horizon is
// alerted at once.
//
// A stack that holds one object at a time — a slice appended to forever,
// its backing array reallocated larger at each growth — cannot rise in
// count. It is a suspect when the objects replacing one another set new
// highs faster than a stationary demand's records would
// (Evidence.SizeRecords of Evidence.SizesSeen; stats.NewHighs), and never
// an alert: that evidence grows with the logarithm of time.
//
// # The false-alarm guarantee
//
// Looks are numbered; look j may spend SpendWeight(j) of the error budget
// (see package stats), and only looks at which some persistence test could
// reach the loosest tier at that share are counted: a look where none
// could decides nothing and leaves its share to the next. A finite series keeps three quarters of the budget
// for its final look, on all the evidence (WithFinalLook). Within a look, Tarone's correction for discrete
// tests divides that share among the stacks whose evidence could reach it
// at all: a stack with m events cannot give a p-value below 2^−m, and the
// ones that cannot pass cost nothing. By the union bound the probability
// that any stack is ever reported at alert severity when nothing leaks is
// at most 1 − alert confidence (default 1 %), and at warning severity at
// most 1 − warning confidence (default 5 %), however long the service runs.
// Looks come at every sample up to the sixteenth, then four times per
// doubling of the sample count or of the time, whichever comes first, so
// the budget falls with the number of looks, not of samples — and at least
// once per horizon, so that a leak
// starting on a service's tenth day does not wait a day for a look.
// Between looks, a sixteenth of the alert budget rechecks, at every
// sample, the persistence of the stacks the newest look found suspect or
// warned of and of those that set a new high since (sample i may spend
// SpendWeight(i) of it, divided among all tracked stacks), so that evidence
// arriving in a burst can be decided before the next look. Suspects are a per-look reading at level 0.2
// across the stacks that could pass, not covered by the run-long
// guarantee.
//
// # Reading an alert
//
// An Alert names the resource, the allocation stack (leaf first), the
// severity and confidence, the shape of the growth (PatternType), and the
// Evidence: the sampled objects retained and the events behind them, the
// growth rate with a 95 % interval, bytes in use now, when growth started,
// how long it has gone on, and the share of sampled births still live
// (Retention).
//
// # Cost
//
// Nothing runs per allocation beyond the runtime's own sampling, and
// leakguard reads the profile once per interval. Memory is bounded by
// WithMaxStacks × the history size whatever the service does.
//
// # Limits
//
//   - Evidence is counted in sampled objects. A slice of values appended to
//     forever is one live object whose size doubles: it shows no rise in
//     objects and is not found in-process (package leaktest, which records
//     every allocation and tests bytes, finds it in a test).
//   - A stack that allocates and frees heavily while it leaks carries its
//     churn as events: a leak that retains one of twenty of its births
//     needs many more retained objects than a pure leak.
//   - Growth that goes on for longer than the horizon is reported, warm-up
//     or not: raise WithHorizon for services that warm up longer. A large
//     cache approaching its size exponentially keeps adding entries after
//     it is 99 % full; with thousands of sampled entries that tail alone
//     can be significant, so its horizon should cover the whole approach.
//   - The process total is plotted, not tested: benign growth phases of
//     many stacks at different times add up to growth that outlasts the
//     horizon.
//   - Memory outside the Go heap is not in the heap profile: goroutine
//     stacks (use WithGoroutines), cgo and C allocations (use package
//     sampler/uprobe or `leakguard attach`), mmap.
//   - leakguard's own allocation sites are left out of what it analyses.
//
// Detector is the same engine without the background goroutine, for feeding
// stored profiles (the leakguard command does) or custom samplers; its
// Conclude tests a finite series on all its evidence and Verdict says
// whether anything could be decided.
package leakguard

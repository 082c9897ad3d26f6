// Package heap is leakguard's sampler over the Go runtime's heap profile.
//
// The runtime samples allocations on its own (about one per
// runtime.MemProfileRate bytes, 512 KiB by default) and keeps per-stack
// counts; reading them costs nothing on the allocation path. The profile
// describes the heap as of the most recently completed garbage collection
// (runtime.MemProfile may be up to two cycles old), so reading it more
// often than the GC runs only repeats data: a Sampler tracks the completed
// GC cycle count through runtime/metrics (which does not stop the world)
// and returns sampler.ErrNoNewData until a new cycle has completed. It
// never forces a GC unless asked (WithForceGC).
//
// Counts are scaled to unbiased estimates the way `go tool pprof` does, and
// a stack is symbolised once and cached by fingerprint in a bounded LRU —
// or, with WithLazyFrames, only when the consumer resolves it, so that a
// profile of tens of thousands of stacks costs symbols only for those kept.
// When someone changes runtime.MemProfileRate, the Sample's Epoch changes so
// consumers restart their series instead of reading the jump as growth.
// With WithChanges, a Sample after the first lists only the stacks whose
// counts changed since the previous one, with the totals over every stack:
// most stacks of a large profile hold still from one collection to the
// next, and the consumer need not read them.
//
// leakguard's own allocation sites are left out (WithSelf puts them back):
// its memory is bounded by configuration but fills that bound gradually,
// and a detector in the same process would otherwise read its own warm-up
// — or, through the process total, the host's — as growth. A site is
// leakguard's when the first frame above the standard library and
// leakguard's dependencies is in one of its packages; memory a user's
// alert callback allocates is the user's.
//
// The Sampler reads runtime.MemProfile directly rather than writing a
// pprof protobuf with runtime/pprof and parsing it back: see
// BenchmarkSample for the measured difference.
package heap

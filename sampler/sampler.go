// Package sampler defines the one interface every leakguard data source sits
// behind, and the sample it produces.
//
// A Sampler turns some view of a process's resources (the Go heap profile,
// the goroutine profile, malloc/free seen through eBPF uprobes, a remote
// /debug/pprof/heap endpoint, a directory of stored profiles) into a Sample:
// a timestamped set of per-stack Records holding in-use and cumulative
// allocation counts. The detector downstream never needs to know where the
// numbers came from.
package sampler

import (
	"context"
	"errors"
	"time"
)

// Resource names what a Sample measures, so that an alert can say which
// resource leaks.
type Resource string

// The resources leakguard knows how to sample.
const (
	// Heap is Go heap memory from the runtime's heap profile.
	Heap Resource = "heap"
	// Goroutines is live goroutines, counted per creation site.
	Goroutines Resource = "goroutines"
	// Native is C-allocator memory (malloc/free) seen through eBPF uprobes.
	Native Resource = "native"
)

// ErrNoNewData is returned by Sample when the source has nothing newer than
// the previous Sample (for example, no garbage collection has completed since,
// so the heap profile would only repeat itself). It is not a failure: the
// caller simply skips this cycle.
var ErrNoNewData = errors.New("sampler: no new data since the previous sample")

// ErrClosed is returned by Sample after Close.
var ErrClosed = errors.New("sampler: closed")

// Frame is one symbolised call-stack frame.
type Frame struct {
	// Function is the fully qualified function name, as pprof names it
	// (for example "main.(*cache).put"); for native code without a symbol it
	// is "module+0xoffset".
	Function string `json:"function"`
	// File is the source file, when known.
	File string `json:"file,omitempty"`
	// Line is the source line, when known.
	Line int `json:"line,omitempty"`
}

// Record is one allocation stack's state in a Sample.
//
// All counts are unbiased estimates of the true values: a backend that samples
// (the Go runtime at MemProfileRate, uprobes every Nth call) scales its raw
// counts up before returning them, the way `go tool pprof` does.
type Record struct {
	// Stack is the stack's fingerprint: equal stacks from the same Sampler
	// have equal fingerprints for the Sampler's lifetime.
	Stack uint64
	// Frames is the symbolised stack, leaf first. Backends cache symbolisation
	// per fingerprint, so the slice is shared and must not be modified. It is
	// nil when the backend deferred symbolisation to Sample.Resolve.
	Frames []Frame
	// InUseBytes and InUseObjects are what is live now (bytes and objects for
	// memory; for goroutines, InUseObjects is the goroutine count and
	// InUseBytes an estimate of their stack memory).
	InUseBytes   int64
	InUseObjects int64
	// AllocBytes and AllocObjects are cumulative since the source started;
	// they never decrease within one Epoch. A backend that cannot know them
	// leaves them zero.
	AllocBytes   int64
	AllocObjects int64
	// InUseSampled and AllocSampled are the raw sampled object counts
	// behind the estimates above: live sampled objects and cumulative
	// sampled births. They are the evidence the detector tests (an estimate
	// scaled up from few samples is not more evidence than the samples).
	// A backend that records every event sets them equal to the counts; one
	// that cannot know births leaves AllocSampled zero. When both are zero
	// the detector recovers them from the estimates and Rate.
	InUseSampled int64
	AllocSampled int64
	// ProvenLeaked counts objects a sound analysis proved leaked (the
	// runtime's goroutineleak profile, for goroutines); 0 when unknown.
	ProvenLeaked int64
}

// Sample is one observation of all stacks of one resource.
type Sample struct {
	// Time is when the observation was taken (for a stored profile, the
	// profile's own TimeNanos).
	Time time.Time
	// Resource is what the counts measure.
	Resource Resource
	// Records holds one entry per stack. A stack absent from a Sample has
	// nothing in use, unless Changes.
	Records []Record
	// Changes, when true, means Records lists only the stacks whose counts
	// changed since the Sampler's previous Sample: every other stack holds
	// what it held then. A Sampler does this only when asked to, for a
	// consumer that observes each of its Samples in order.
	Changes bool
	// Total, when not nil, sums InUseBytes, InUseObjects, InUseSampled and
	// AllocSampled over every stack, listed in Records or not.
	Total *Record
	// Rate is the backend's sampling rate in bytes (MemProfileRate for the Go
	// heap: on average one sampled allocation per Rate bytes), 1 when every
	// event is recorded, 0 when not applicable.
	Rate int64
	// Seq identifies the underlying data generation (for the Go heap, the GC
	// cycle the profile reflects). Two Samples with the same Seq carry the same
	// data.
	Seq uint64
	// Epoch changes when the backend's series restarts and is no longer
	// comparable with earlier Samples (the sampling rate changed, the target
	// process restarted). Consumers must restart their per-stack series.
	Epoch uint64
	// Source names where the Sample came from (a file, a URL, a PID), for
	// error messages and reports.
	Source string
	// Resolve, when not nil, symbolises a Record the backend left without
	// Frames: symbolising every stack of a large profile costs more than
	// analysing it, and a consumer that keeps only some stacks need not pay
	// for the others. It is valid until the Sampler's next Sample.
	Resolve func(stack uint64) []Frame
}

// FramesOf returns r's Frames, symbolising them through Resolve when the
// backend deferred it.
func (s *Sample) FramesOf(r *Record) []Frame {
	if r.Frames != nil || s.Resolve == nil {
		return r.Frames
	}
	return s.Resolve(r.Stack)
}

// Sampler is a source of Samples.
//
// Implementations must be safe for use by one goroutine at a time; the
// detector calls Sample from a single analysis goroutine.
type Sampler interface {
	// Sample takes one observation. It returns ErrNoNewData when the source
	// has nothing new, and must honour ctx cancellation.
	Sample(ctx context.Context) (*Sample, error)
	// Resource reports what this Sampler measures.
	Resource() Resource
	// Close releases the Sampler's resources. It is safe to call more than
	// once.
	Close() error
}

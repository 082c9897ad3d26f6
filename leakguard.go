package leakguard

import (
	"fmt"
	"strings"
	"time"

	"github.com/leakguard/leakguard/internal/render"
	"github.com/leakguard/leakguard/sampler"
)

// Severity grades how sure leakguard is that a stack leaks.
type Severity int

// Severities, in increasing order.
const (
	// SeverityNone means the stack is tracked but not significantly growing.
	SeverityNone Severity = iota
	// SeveritySuspect means growth the evidence cannot yet confirm: a rise
	// significant at the newest look (at level 0.2 across the stacks), too young
	// for the horizon or too small for the alert confidence. Suspects are
	// reported (Detector.Suspects, Report.Suspects) but reach OnAlert only
	// with WithSuspectAlerts.
	SeveritySuspect
	// SeverityWarning means growth significant at the warning confidence.
	SeverityWarning
	// SeverityAlert means growth significant at the alert confidence.
	SeverityAlert
)

// String returns "none", "suspect", "warning" or "alert".
func (s Severity) String() string {
	switch s {
	case SeveritySuspect:
		return "suspect"
	case SeverityWarning:
		return "warning"
	case SeverityAlert:
		return "alert"
	case SeverityNone:
		return "none"
	}
	return fmt.Sprintf("Severity(%d)", int(s))
}

// MarshalText encodes the severity as its name, so JSON carries "alert".
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes a severity name.
func (s *Severity) UnmarshalText(b []byte) error {
	switch string(b) {
	case "none":
		*s = SeverityNone
	case "suspect":
		*s = SeveritySuspect
	case "warning":
		*s = SeverityWarning
	case "alert":
		*s = SeverityAlert
	default:
		return fmt.Errorf("leakguard: unknown severity %q", b)
	}
	return nil
}

// Evidence is what a detection rests on.
type Evidence struct {
	// PValue is the family-wise adjusted p-value: the chance of a result
	// this strong anywhere in the run if nothing leaked. Confidence is
	// 1 − PValue. A suspect's is adjusted over the stacks of one look
	// only, and tests growth now, not its persistence beyond the horizon.
	PValue float64 `json:"p_value"`
	// RawPValue is the decisive test's own p-value before the
	// multiplicity correction.
	RawPValue float64 `json:"raw_p_value"`
	// GrowthBytesPerSecond is the estimated growth rate of in-use bytes,
	// under the noise model whose test decided (see SlopeLow).
	GrowthBytesPerSecond float64 `json:"growth_bytes_per_second"`
	// GrowthObjectsPerSecond is the estimated growth rate of in-use objects.
	GrowthObjectsPerSecond float64 `json:"growth_objects_per_second"`
	// SlopeLow and SlopeHigh bound the growth rate (bytes/s) with 95 %
	// confidence under the noise model whose test decided: stationary noise
	// (the interval widened for serial correlation) or a random walk.
	SlopeLow  float64 `json:"growth_low"`
	SlopeHigh float64 `json:"growth_high"`
	// Samples is the number of points the decisive test used; each point is
	// the mean of 2^k samples at resolution level k.
	Samples int `json:"samples"`
	// Window is the time those points span.
	Window time.Duration `json:"window_ns"`
	// InUseBytes and InUseObjects are what the stack holds now.
	InUseBytes   int64 `json:"inuse_bytes"`
	InUseObjects int64 `json:"inuse_objects"`
	// GrowthStart estimates when the growth began (the hinge of a
	// flat-then-linear fit over the window; the window's start if it grew
	// throughout).
	GrowthStart time.Time `json:"growth_start"`
	// Retention is the share of bytes the stack allocated during the window
	// that are still in use: near 1 for a pure leak, small for a leak under
	// heavy churn. It is −1 when the source reports no allocation counts.
	Retention float64 `json:"retention"`
	// ProvenLeaked counts objects a sound analysis proved leaked at this
	// stack — for goroutines, those the runtime's goroutineleak profile
	// reports blocked forever. It corroborates the statistical evidence;
	// 0 when the analysis is unavailable or found none.
	ProvenLeaked int64 `json:"proven_leaked,omitempty"`
	// RetainedSampled is the decisive rise in live sampled objects (for a
	// persistence test, the smaller of its two rises), EventsSampled the
	// sampled births and deaths behind it: the evidence itself. A stack that
	// only retains has p = 2^−RetainedSampled.
	RetainedSampled int64 `json:"retained_sampled"`
	EventsSampled   int64 `json:"events_sampled"`
	// NeededSampled is the rise over those events that the alert
	// confidence would need at the current look.
	NeededSampled int64 `json:"needed_sampled"`
	// SizeRecords and SizesSeen are the evidence of the lone-object test,
	// which reads a stack holding one object at a time (a slice appended to
	// forever, reallocated larger at each growth): of the SizesSeen
	// profiles (or coarser blocks) it counted in which the stack allocated,
	// SizeRecords raised the largest size it had allocated. It
	// makes suspects only. Both are zero for a count test.
	SizeRecords int `json:"size_records,omitempty"`
	SizesSeen   int `json:"sizes_seen,omitempty"`
	// GrowingFor is how long the tested rise has gone on; Horizon is how
	// long growth must persist to be called a leak (WithHorizon).
	GrowingFor time.Duration `json:"growing_for_ns"`
	Horizon    time.Duration `json:"horizon_ns"`
	// Reason says in a sentence what the decision rests on; Lacks, for a
	// suspect, what it still lacks.
	Reason string `json:"reason,omitempty"`
	Lacks  string `json:"lacks,omitempty"`
}

// Point is one point of a stack's history.
type Point struct {
	// Time is when the point was observed (for a coarse level, the mean
	// time of the samples it averages).
	Time time.Time `json:"time"`
	// InUseBytes and InUseObjects are the stack's in-use counts.
	InUseBytes   float64 `json:"inuse_bytes"`
	InUseObjects float64 `json:"inuse_objects"`
}

// Alert reports a stack that reached a severity.
type Alert struct {
	// Severity is the level reached: SeverityWarning or SeverityAlert
	// (SeveritySuspect too with WithSuspectAlerts).
	Severity Severity `json:"severity"`
	// Confidence is 1 − Evidence.PValue.
	Confidence float64 `json:"confidence"`
	// Pattern is the shape of the growth.
	Pattern PatternType `json:"pattern"`
	// Resource is what leaks: heap memory, goroutines, native memory.
	Resource sampler.Resource `json:"resource"`
	// Stack is the stack's fingerprint (TotalStack for the process total).
	Stack uint64 `json:"stack_id"`
	// Frames is the allocation stack, leaf first.
	Frames []sampler.Frame `json:"stack"`
	// Evidence is what the detection rests on.
	Evidence Evidence `json:"evidence"`
	// Time is the time of the sample at which the stack reached Severity;
	// for a suspect, the first of the unbroken run of looks at which it
	// has been one.
	Time time.Time `json:"time"`
	// Index is the 0-based position of that sample among all samples the
	// detector observed.
	Index int `json:"index"`
	// History is the stack's in-use history at the resolution of the
	// decisive test, oldest first, for plotting.
	History []Point `json:"history,omitempty"`
	// Trend holds the end points of the fitted growth line over the
	// decisive window.
	Trend [2]Point `json:"trend"`
}

// Leaf returns the alert's innermost frame: the allocating function.
func (a Alert) Leaf() sampler.Frame { return leafOf(a.Frames) }

func leafOf(frames []sampler.Frame) sampler.Frame {
	if len(frames) == 0 {
		return sampler.Frame{Function: "(unknown)"}
	}
	return frames[0]
}

// String formats the alert in one line: severity, confidence, what grows,
// how fast and where.
func (a Alert) String() string {
	var b strings.Builder
	leaf := a.Leaf()
	fmt.Fprintf(&b, "leakguard %s: %s %s growth at %s (confidence %.4f): +%s/s, %s in use",
		a.Severity, a.Pattern, a.Resource, leaf.Function, a.Confidence,
		render.Bytes(a.Evidence.GrowthBytesPerSecond), render.Bytes(float64(a.Evidence.InUseBytes)))
	if leaf.File != "" {
		fmt.Fprintf(&b, " (%s:%d)", leaf.File, leaf.Line)
	}
	if a.Resource == sampler.Goroutines {
		fmt.Fprintf(&b, "; %d goroutines, +%.2f/s", a.Evidence.InUseObjects, a.Evidence.GrowthObjectsPerSecond)
	}
	if a.Evidence.ProvenLeaked > 0 {
		fmt.Fprintf(&b, "; %d proven leaked by the runtime's goroutineleak profile", a.Evidence.ProvenLeaked)
	}
	return b.String()
}

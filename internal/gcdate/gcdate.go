// Package gcdate dates heap profiles at the collection whose snapshot they
// show, for a series fetched faster than the program collects.
package gcdate

import "github.com/leakguard/leakguard/sampler"

// AtCollections re-dates samples, in time order, each at the collection it
// shows. The runtime publishes a collection's snapshot only when the next
// one ends (runtime/mprof.go; runtime.GC alone publishes its own), so a
// profile first seen after a collection shows the heap as of the one
// before, which ended about when the profile before it was first seen.
// The first shows a collection before the series began: it is placed one
// interval between profiles earlier. Valid when profiles were taken
// without forcing a collection and more often than the program collects —
// when some repeated the one before them.
func AtCollections(samples []*sampler.Sample) {
	if len(samples) < 2 {
		return
	}
	prev := samples[0].Time
	samples[0].Time = prev.Add(-samples[1].Time.Sub(prev))
	for _, s := range samples[1:] {
		s.Time, prev = prev, s.Time
	}
}

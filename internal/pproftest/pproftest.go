// Package pproftest builds synthetic heap profiles for tests of the code
// that reads them.
package pproftest

import (
	"math"

	"github.com/google/pprof/profile"
)

// Snapshot is a heap profile of one process at second sec: one stack
// (main.handle) of which the runtime sampled allocs objects of 1 KiB since
// the process started, inuse of them live, at rate bytes. Its values are
// the estimates scaled from those counts, as the runtime writes them.
func Snapshot(sec, rate, allocs, inuse int64) *profile.Profile {
	scale := 1 / -math.Expm1(-1024/float64(rate))
	allocs, inuse = int64(float64(allocs)*scale), int64(float64(inuse)*scale)
	fn := &profile.Function{ID: 1, Name: "main.handle", Filename: "main.go"}
	loc := &profile.Location{ID: 1, Line: []profile.Line{{Function: fn, Line: 7}}}
	return &profile.Profile{
		SampleType: []*profile.ValueType{
			{Type: "alloc_objects", Unit: "count"}, {Type: "alloc_space", Unit: "bytes"},
			{Type: "inuse_objects", Unit: "count"}, {Type: "inuse_space", Unit: "bytes"},
		},
		PeriodType: &profile.ValueType{Type: "space", Unit: "bytes"},
		Period:     rate,
		Sample:     []*profile.Sample{{Location: []*profile.Location{loc}, Value: []int64{allocs, allocs << 10, inuse, inuse << 10}}},
		Location:   []*profile.Location{loc},
		Function:   []*profile.Function{fn},
		TimeNanos:  sec * 1e9,
	}
}

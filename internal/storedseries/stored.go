// Package storedseries holds how leakguard analyze sets the horizon of a
// stored series of profiles, so that the benchmarks measuring analyze set
// it the same way.
package storedseries

import (
	"time"

	"github.com/leakguard/leakguard"
)

// DefaultShare is the part of a stored series' span that growth must
// outlast to be a leak, unless told otherwise: growth that stops within the
// first 40 % of the series is benign, whatever its clock.
const DefaultShare = 0.4

// Horizon returns the horizon of a series spanning span: share of it, at
// least a millisecond, or leakguard.DefaultHorizon when the series spans
// no time (one profile, or several taken at once).
func Horizon(share float64, span time.Duration) time.Duration {
	if span <= 0 || share <= 0 {
		return leakguard.DefaultHorizon
	}
	return max(time.Millisecond, time.Duration(share*float64(span)))
}

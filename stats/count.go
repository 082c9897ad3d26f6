package stats

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/mathext"
)

// Rise is the evidence that a count of live sampled objects rose: between a
// reference point and now, Events sampled objects were born or died, and the
// live count ended Rise above the reference level.
//
// Under the stationary-churn null — each birth-or-death event is a birth
// with probability at most ½, as when births and deaths balance (independent
// Poisson streams of equal rate: given their total, the births are
// Binomial(Events, ½)) — the number of births among the events is at most
// Binomial(Events, ½), so a rise of Rise needs (Events+Rise)/2 births. A
// stack that only retains (no deaths) has Events = Rise and p = 2^−Rise.
type Rise struct {
	// Events is the number of sampled births plus sampled deaths.
	Events int64
	// Rise is the live count now minus the reference level.
	Rise int64
}

// P is the one-sided p-value of the rise under the stationary-churn null:
// P(Binomial(Events, ½) ≥ ⌈(Events+Rise)/2⌉). It is 1 when the count did not
// rise or no event was seen. A Rise larger than Events (a reference level
// below what the events can explain, for example when births are unknown)
// is tested as if every event were a birth.
func (r Rise) P() float64 {
	if r.Rise <= 0 || r.Events <= 0 {
		return 1
	}
	m := r.Events
	d := min(r.Rise, m)
	// The births needed: the observed births b satisfy 2b ≥ m + d, and b is
	// an integer, so b ≥ ⌈(m+d)/2⌉ — the tail from there is a valid p-value
	// whatever the parities.
	k := (m + d + 1) / 2
	return binomialUpperHalf(m, k)
}

// MinP is the smallest p-value Events events could ever give: every one of
// them a birth, 2^−Events. It depends on the number of events only, not on
// how they split, which is what lets Tarone's correction leave out tests
// that cannot pass without spending any of the error budget on them.
func (r Rise) MinP() float64 { return MinP(r.Events) }

// MinP is 2^−events, the smallest p-value a binomial test on that many
// events can reach (1 for none).
func MinP(events int64) float64 {
	if events <= 0 {
		return 1
	}
	return math.Exp2(-float64(events))
}

// binomialUpperHalf returns P(Binomial(m, ½) ≥ k) through the regularized
// incomplete beta function, which stays accurate in the far tail where one
// minus the CDF would round to zero.
func binomialUpperHalf(m, k int64) float64 {
	switch {
	case k <= 0:
		return 1
	case k > m:
		return 0
	case k == m:
		return math.Exp2(-float64(m))
	}
	return mathext.RegIncBeta(float64(k), float64(m-k+1), 0.5)
}

// RiseNeeded is the smallest rise over the given events that would be
// significant at level, or the pure-retention figure ⌈log2(1/level)⌉ when
// even a rise by every event would not be: what a report says is missing.
func RiseNeeded(events int64, level float64) int64 {
	pure := int64(math.Ceil(-math.Log2(level)))
	if !(level > 0) || level >= 1 {
		return 1
	}
	if events < pure {
		return pure
	}
	// P falls as the rise grows: binary search the smallest passing rise.
	lo, hi := int64(1), events
	if (Rise{Events: events, Rise: hi}).P() > level {
		return pure
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		if (Rise{Events: events, Rise: mid}).P() <= level {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// Tarone returns the number of tests K that Tarone's correction for
// discrete tests divides the level alpha by, given each test's smallest
// achievable p-value: the least K ≥ 1 such that at most K tests have a
// minimum p-value ≤ alpha/K. Tests whose minimum exceeds alpha/K can never
// reject and are left out of the count; rejecting every test whose p-value
// is ≤ alpha/K keeps the family-wise error at most alpha (Tarone, Biometrics
// 46, 1990). minP is sorted in place.
func Tarone(minP []float64, alpha float64) int {
	if len(minP) == 0 {
		return 1
	}
	slices.Sort(minP)
	for k := 1; ; k++ {
		lim := alpha / float64(k)
		// The number of tests with minimum p ≤ lim.
		n, _ := slices.BinarySearchFunc(minP, lim, func(v, target float64) int {
			if v <= target {
				return -1
			}
			return 1
		})
		if n <= k {
			return k
		}
	}
}

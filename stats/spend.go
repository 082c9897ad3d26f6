package stats

import "math"

// SpendWeight is the share of an error budget given to the i-th member
// (1-based) of an open-ended sequence: w(i) = 1 / (2 i (1+ln i)²).
//
// The weights sum to at most 1 over all i ≥ 1 (w(1) = ½ and the rest is
// bounded by ∫₁^∞ dx / (2x(1+ln x)²) = ½), so spending α·w(i) on the i-th
// stack, or on the i-th test of one stack, keeps the total at α however many
// stacks appear and however long monitoring runs, while decaying only a
// little faster than 1/i: the thousandth look costs about 2·10⁻⁵ of the
// budget. It returns 0 for i = 0.
func SpendWeight(i uint64) float64 {
	if i == 0 {
		return 0
	}
	l := 1 + math.Log(float64(i))
	return 1 / (2 * float64(i) * l * l)
}

// Budget is the sequential state of one monitored series within a family:
// its rank among the family's series (in order of registration) and how
// many tests it has spent.
//
// The family-wise guarantee follows from the union bound: series r's t-th
// test runs at level α·SpendWeight(r)·SpendWeight(t), and the double sum of
// these levels over all series and all tests is at most α. This needs no
// assumption about how tests of one series, or different series, depend on
// each other — overlapping windows tested every cycle are fine.
type Budget struct {
	// Rank is the series' 1-based registration order in its family.
	Rank uint64
	// Tests counts the tests spent so far.
	Tests uint64
}

// Spend records one more test and returns the fraction of the family's error
// budget it may use.
func (b *Budget) Spend() float64 {
	b.Tests++
	return SpendWeight(b.Rank) * SpendWeight(b.Tests)
}

// Adjust converts a test's raw p-value into a family-wise adjusted p-value
// given the budget share the test was allowed: raw / share, capped at 1. The
// family-wise error of declaring every adjusted p-value ≤ α a discovery is
// at most α.
func Adjust(raw, share float64) float64 {
	if share <= 0 || math.IsNaN(raw) {
		return 1
	}
	return math.Min(1, raw/share)
}

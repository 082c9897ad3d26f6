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

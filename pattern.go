package leakguard

import (
	"math"
	"slices"

	"github.com/leakguard/leakguard/sampler"
	"github.com/leakguard/leakguard/stats"
)

// PatternType names the shape of a stack's growth. It describes how a leak
// grows; it never decides whether there is one — that is the significance
// test's job.
type PatternType string

// The growth shapes leakguard tells apart.
const (
	// PatternGradual is steady growth at a roughly constant rate.
	PatternGradual PatternType = "gradual"
	// PatternAccelerating is growth whose rate itself increases.
	PatternAccelerating PatternType = "accelerating"
	// PatternBurst is growth in a few large retained steps.
	PatternBurst PatternType = "burst"
	// PatternPeriodic is growth under a regular grow-and-release cycle.
	PatternPeriodic PatternType = "periodic"
	// PatternConditional is growth in rare small steps, as from a leak on an
	// infrequent code path.
	PatternConditional PatternType = "conditional"
)

// Pattern is a snapshot of one tracked stack: its history and what the
// detector concluded about it.
type Pattern struct {
	// Resource is what the stack's counts measure.
	Resource sampler.Resource `json:"resource"`
	// Stack is the stack's fingerprint; TotalStack for the process total.
	Stack uint64 `json:"stack_id"`
	// Frames is the symbolised stack, leaf first.
	Frames []sampler.Frame `json:"stack"`
	// Severity is the highest severity the stack has reached.
	Severity Severity `json:"severity"`
	// Confidence is one minus the smallest family-wise adjusted p-value any
	// test of this stack produced.
	Confidence float64 `json:"confidence"`
	// Type is the shape of the most significant growth seen, empty if no
	// test of the stack found any evidence of growth (adjusted p-value 1).
	Type PatternType `json:"pattern,omitempty"`
	// Evidence backs the most significant test; zero if none found any
	// evidence.
	Evidence Evidence `json:"evidence"`
	// Samples counts the samples this stack was tracked for.
	Samples int `json:"samples"`
	// History is the stack's in-use history at the resolution of its most
	// significant test, oldest first.
	History []Point `json:"history,omitempty"`
	// Trend holds the end points of the fitted growth line of the most
	// significant test; zero if none found any evidence.
	Trend [2]Point `json:"trend"`
}

// classify names the shape of a window that tested as growing. The rules
// read the increments against their own noise level (a robust spread of the
// first differences): where the growth comes from — a few large steps, rare
// small steps, a rising rate, growth under a grow-and-release cycle — not
// whether it is significant.
func classify(y []float64) PatternType {
	n := len(y)
	if n < 8 {
		return PatternGradual
	}
	d := make([]float64, n-1)
	for i := range d {
		d[i] = y[i+1] - y[i]
	}
	total := y[n-1] - y[0]
	if total <= 0 {
		return PatternGradual
	}
	med, spread := robustSpread(d)
	lim := med + 4*spread
	var steps, drops int
	var stepSum, maxStep float64
	for _, v := range d {
		switch {
		case v > lim && v > 0:
			steps++
			stepSum += v
			maxStep = math.Max(maxStep, v)
		case v < med-4*spread && v < 0:
			drops++
		}
	}
	stepShare := stepSum / total
	switch {
	case drops >= 2 && periodic(y):
		return PatternPeriodic
	case steps > 0 && stepShare >= 0.6 && drops == 0:
		if steps <= 4 || maxStep >= 0.2*total {
			return PatternBurst
		}
		return PatternConditional
	case accelerating(y):
		return PatternAccelerating
	}
	return PatternGradual
}

// robustSpread returns the median of v and a robust standard deviation
// (1.4826 × the median absolute deviation).
func robustSpread(v []float64) (med, sd float64) {
	c := append([]float64(nil), v...)
	slices.Sort(c)
	med = c[len(c)/2]
	for i, x := range v {
		c[i] = math.Abs(x - med)
	}
	slices.Sort(c)
	return med, 1.4826 * c[len(c)/2]
}

// accelerating reports whether the newer half's slope exceeds the older
// half's by more than twice, and significantly.
func accelerating(y []float64) bool {
	h := len(y) / 2
	o, nw := stats.Trend(y[:h], 0), stats.Trend(y[len(y)-h:], 0)
	if !(nw.Slope > 2*o.Slope) {
		return false
	}
	se := math.Hypot(o.SE, nw.SE)
	return se > 0 && (nw.Slope-o.Slope)/se > 3
}

// periodic reports a strong autocorrelation peak at some lag of at least 3
// in the detrended series: a grow-and-release cycle riding on the growth.
func periodic(y []float64) bool {
	n := len(y)
	slope := stats.Trend(y, 0).Slope
	m := mean(y)
	mid := float64(n-1) / 2
	r := make([]float64, n)
	var v float64
	for i := range y {
		r[i] = y[i] - (m + slope*(float64(i)-mid))
		v += r[i] * r[i]
	}
	if v == 0 {
		return false
	}
	acf := func(lag int) float64 {
		var s float64
		for i := lag; i < n; i++ {
			s += r[i] * r[i-lag]
		}
		return s / v
	}
	prev := acf(2)
	cur := acf(3)
	for lag := 3; lag <= n/3; lag++ {
		next := acf(lag + 1)
		if cur > 0.4 && cur >= prev && cur >= next {
			return true
		}
		prev, cur = cur, next
	}
	return false
}

// growthStart locates where growth began: the hinge of the best
// flat-then-linear fit, by least squares over every candidate hinge.
func growthStart(y []float64) int {
	n := len(y)
	best, bestSSE := 0, math.Inf(1)
	x := make([]float64, n)
	for h := 0; h < n-2; h++ {
		for i := range y {
			x[i] = math.Max(0, float64(i-h))
		}
		sse := lineSSE(x, y)
		if sse < bestSSE*(1-1e-9) {
			best, bestSSE = h, sse
		}
	}
	return best
}

// lineSSE is the residual sum of squares of the least-squares line of y on x.
func lineSSE(x, y []float64) float64 {
	mx, my := mean(x), mean(y)
	var sxx, sxy, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxx += dx * dx
		sxy += dx * dy
		syy += dy * dy
	}
	if sxx == 0 {
		return syy
	}
	return syy - sxy*sxy/sxx
}

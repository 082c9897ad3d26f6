package leakguard

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/leakguard/leakguard/sampler"
)

// PatternType names the shape of a stack's growth. It describes how a leak
// grows; it never decides whether there is one — that is the significance
// test's job.
type PatternType string

// The growth shapes leakguard tells apart.
const (
	// PatternGradual is growth at a rate shown steady in time: it changes
	// by less than half its mean over the window.
	PatternGradual PatternType = "gradual"
	// PatternAccelerating is growth whose rate significantly increases
	// with time, by at least half over the window.
	PatternAccelerating PatternType = "accelerating"
	// PatternBurst is growth carried by at most four large retained steps.
	PatternBurst PatternType = "burst"
	// PatternPeriodic is growth under a grow-and-release cycle: at least
	// three releases at regular intervals.
	PatternPeriodic PatternType = "periodic"
	// PatternConditional is growth carried by more than four separate
	// steps, as from a leak on an infrequent code path.
	PatternConditional PatternType = "conditional"
	// PatternUnknown is growth whose shape the evidence does not settle
	// (too noisy, too short, or none of the shapes above): leakguard says
	// so rather than guess.
	PatternUnknown PatternType = "unknown"
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
	// test of this stack produced; a suspect's is its suspect test's,
	// adjusted over the stacks of its look: confidence that the stack grows
	// now, not that the growth outlasts the horizon.
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

// Thresholds of the shape tests. A label needs positive evidence for its
// shape; anything in between is PatternUnknown.
const (
	// shapeMinPoints is the shortest window whose shape is judged.
	shapeMinPoints = 8
	// jumpSigmas is how far, in robust standard deviations of the
	// increments, a step or a release lies from the increment its
	// neighbours predict. Increments of a counting process with churn have
	// light tails: five deviations are essentially never reached by chance.
	jumpSigmas = 5
	// jumpNeighbours is how many intervals on each side predict an
	// interval's increment.
	jumpNeighbours = 3
	// releaseShare is the least share of the window's range a release must
	// drop: releases vary with the phase at which the samples catch the
	// cycle, and any drop beyond the noise is already significant.
	releaseShare = 0.02
	// stepsDominate is the share of the growth the steps must carry for
	// the window to grow in steps; below stepsMixed they are ignored, in
	// between the shape is mixed and unknown.
	stepsDominate, stepsMixed = 0.6, 0.25
	// burstSteps is the most steps a burst has; more is conditional.
	burstSteps = 4
	// accelAlpha is the level of the one-sided test for a rising rate, and
	// accelRatio the least ratio of the fitted rate at the window's end to
	// the rate at its start.
	accelAlpha, accelRatio = 0.001, 1.5
	// steadyAlpha is the level of each of the two one-sided tests that show
	// the rate steady, and steadyChange the largest change of the rate over
	// the window, as a share of its mean, that still counts as steady.
	steadyAlpha, steadyChange = 0.05, 0.5
	// variogramLags bounds the lags the noise is estimated from: the short
	// ones carry the information, and the cost stays linear in the window.
	variogramLags = 32
	// periodTolerance is how far, as a share of the mean, a gap between
	// releases may stray from it for the cycle to be regular.
	periodTolerance = 0.25
)

// classify is classifyAt for values whose times are not known: taken as
// equally spaced, except that it never says accelerating. A heap profile
// changes only at collections, which come further apart as the heap
// grows, so a leak steady in time grows faster per sample; without the
// times a rising rate per sample is no evidence of a rising rate (on
// seeded steady leaks sampled that way, classifyAt(nil, ·) calls two in
// five accelerating). Callers that have the times use classifyAt.
func classify(y []float64) PatternType {
	if p := classifyAt(nil, y); p != PatternAccelerating {
		return p
	}
	return PatternUnknown
}

// classifyAt names the shape of a window that tested as growing, from its
// values y observed at times t (strictly increasing, any unit; nil means
// equally spaced). It reads the window's increments, the natural scale of a
// leak seen through a sampling profiler (each retained sampled object adds
// an independent step), and needs positive evidence for a shape:
//
//   - periodic: at least three releases (drops far outside the increments'
//     spread) at regular intervals;
//   - burst or conditional: jumps far outside the spread carrying most of
//     the growth, up to four of them (burst) or more (conditional);
//   - accelerating: a rate rising with time, by a one-sided test at level
//     0.001 on the increments and by at least half;
//   - gradual: a rate shown steady — changing by less than half its mean
//     over the window — by an equivalence test (two one-sided tests at
//     level 0.05).
//
// Anything else — too few points, releases at irregular intervals, growth
// half in steps, weak evidence of curvature, a slowing rate — is
// PatternUnknown. The label describes how a leak grows; whether there is
// one is the significance test's decision.
//
// Times matter: the heap profile changes only at collections, which grow
// sparser as the heap grows, so a leak steady in time grows faster per
// sample as it goes on.
func classifyAt(t, y []float64) PatternType {
	n := len(y)
	if n < shapeMinPoints || (t != nil && len(t) != n) {
		return PatternUnknown
	}
	at := func(i int) float64 {
		if t == nil {
			return float64(i)
		}
		return t[i]
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, v := range y {
		if !finite(v) || !finite(at(i)) || (i > 0 && !(at(i) > at(i-1))) {
			return PatternUnknown
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	growth := y[n-1] - y[0]
	if !(growth > 0) {
		return PatternUnknown
	}
	// A jump is an increment far from what the neighbouring intervals'
	// rates predict, in units of the counting noise (standard deviation
	// proportional to √Δt): judged locally, so that a rising rate is not
	// mistaken for steps.
	d := make([]float64, n-1)
	dt := make([]float64, n-1)
	rate := make([]float64, n-1)
	for i := range d {
		d[i], dt[i] = y[i+1]-y[i], at(i+1)-at(i)
		rate[i] = d[i] / dt[i]
	}
	dev, expect := make([]float64, n-1), make([]float64, n-1)
	near := make([]float64, 0, 2*jumpNeighbours)
	for i := range d {
		near = near[:0]
		for j := max(0, i-jumpNeighbours); j <= min(n-2, i+jumpNeighbours); j++ {
			if j != i {
				near = append(near, rate[j])
			}
		}
		slices.Sort(near)
		expect[i] = near[len(near)/2] * dt[i]
		dev[i] = (d[i] - expect[i]) / math.Sqrt(dt[i])
	}
	med, spread := robustSpread(dev)

	var releases, slack []float64 // midpoints and lengths of the intervals that released
	var steps int
	var stepSum float64
	for i, v := range d {
		switch {
		case dev[i] < med-jumpSigmas*spread && -v >= releaseShare*(hi-lo):
			releases = append(releases, (at(i)+at(i+1))/2)
			slack = append(slack, dt[i])
		case dev[i] > med+jumpSigmas*spread && v >= 2*expect[i]:
			steps++
			stepSum += v
		}
	}
	if len(releases) > 0 {
		if len(releases) >= 3 && regular(releases, slack) {
			return PatternPeriodic
		}
		// Growth interrupted by releases, too few or too irregular to call
		// a cycle.
		return PatternUnknown
	}
	switch share := stepSum / growth; {
	case share >= stepsDominate && steps <= burstSteps:
		return PatternBurst
	case share >= stepsDominate:
		return PatternConditional
	case share >= stepsMixed:
		return PatternUnknown
	}

	// The rate's shape is judged where the growth is: a leak that began
	// inside the window is steady from its start, not accelerating.
	h := growthStartAt(t, y)
	if n-h < shapeMinPoints {
		return PatternUnknown
	}
	return rateShape(t, y, h)
}

// regular reports whether releases at times (each known only to within
// the interval that saw it, of the given length) recur at a steady pace:
// every gap within a quarter of the mean gap of it, beyond the timing
// uncertainty of its two ends.
func regular(times, within []float64) bool {
	n := len(times)
	mean := (times[n-1] - times[0]) / float64(n-1)
	for i := 1; i < n; i++ {
		g := times[i] - times[i-1]
		if math.Abs(g-mean) > periodTolerance*mean+(within[i]+within[i-1])/2 {
			return false
		}
	}
	return mean > 0
}

// rateShape tests y[from:] for a changing rate. It fits the quadratic
// y = a + bu + cu² by least squares, u the time rescaled to [−½, ½] over
// the segment, so the rate is b + 2cu, and weighs c against the noise of a
// leak seen through a sampling profiler: a random walk (each retained
// sampled object an independent step, variance φ per unit of time) plus
// independent noise at each point (short-lived objects, variance σ²). Both
// are estimated from the variogram of the fit's residuals, and the exact
// variance of the fitted c under that model gives a Student t test.
func rateShape(t, y []float64, from int) PatternType {
	at := func(i int) float64 {
		if t == nil {
			return float64(i)
		}
		return t[i]
	}
	ys := y[from:]
	n := len(ys)
	if n < 4 {
		return PatternUnknown
	}
	// Centred and scaled time keeps the moment matrix well conditioned
	// whatever the unit and origin of t.
	start, end := at(from), at(len(y)-1)
	if !(end > start) {
		return PatternUnknown
	}
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = (at(from+i)-start)/(end-start) - 0.5
	}
	// Normal equations of [1 u u²], solved by Cramer's rule on the 3×3
	// moment matrix.
	var s0, s1, s2, s3, s4, t0, t1, t2 float64
	for i, x := range xs {
		x2 := x * x
		s0++
		s1 += x
		s2 += x2
		s3 += x2 * x
		s4 += x2 * x2
		t0 += ys[i]
		t1 += ys[i] * x
		t2 += ys[i] * x2
	}
	m := [3][3]float64{{s0, s1, s2}, {s1, s2, s3}, {s2, s3, s4}}
	det := det3(m)
	if !(det > 0) || !finite(det) {
		return PatternUnknown
	}
	inv := inverse3(m, det)
	b := inv[1][0]*t0 + inv[1][1]*t1 + inv[1][2]*t2
	c := inv[2][0]*t0 + inv[2][1]*t1 + inv[2][2]*t2
	// ĉ = Σ wᵢyᵢ with these weights.
	w := make([]float64, n)
	for i, x := range xs {
		w[i] = inv[2][0] + inv[2][1]*x + inv[2][2]*x*x
	}
	// Noise components from the residuals' variogram: the mean squared
	// difference of residuals k points apart is 2σ² + φ·(their time apart),
	// fitted over the short lags, where the quadratic has absorbed little
	// of the walk.
	a := inv[0][0]*t0 + inv[0][1]*t1 + inv[0][2]*t2
	e := make([]float64, n)
	for i, x := range xs {
		e[i] = ys[i] - (a + b*x + c*x*x)
	}
	var gs, gt, gss, gtt, lags float64
	for k := 1; k <= max(2, min(n/4, variogramLags)); k++ {
		var g, tau float64
		for i := k; i < n; i++ {
			g += (e[i] - e[i-k]) * (e[i] - e[i-k])
			tau += xs[i] - xs[i-k]
		}
		g, tau = g/float64(n-k), tau/float64(n-k)
		gs += g
		gt += tau
		gss += g * tau
		gtt += tau * tau
		lags++
	}
	walk := (lags*gss - gs*gt) / (lags*gtt - gt*gt)
	nugget := (gs - walk*gt) / lags
	switch {
	case !(walk > 0):
		walk, nugget = 0, gs/lags
	case !(nugget > 0):
		walk, nugget = gss/gtt, 0
	}
	point := nugget / 2
	// Var(ĉ) = σ²Σwᵢ² + φ Σᵢⱼ wᵢwⱼ min(xᵢ, xⱼ); the double sum is the sum
	// over intervals of their length times the squared tail sum of w.
	var sw2, tail, rw float64
	for i := n - 1; i >= 0; i-- {
		sw2 += w[i] * w[i]
		if i > 0 {
			tail += w[i]
			rw += (xs[i] - xs[i-1]) * tail * tail
		}
	}
	se := math.Sqrt(point*sw2 + walk*rw)
	r0, r1 := b+2*c*xs[0], b+2*c*xs[n-1]
	if !(b > 0) || !finite(c) || !finite(se) {
		return PatternUnknown
	}
	if se == 0 {
		// An exact quadratic: no noise to weigh the curvature against, the
		// effect sizes decide alone.
		switch {
		case math.Abs(r1-r0) < steadyChange*b:
			return PatternGradual
		case r1 >= accelRatio*r0:
			return PatternAccelerating
		}
		return PatternUnknown
	}
	st := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(n - 3)}
	if st.Survival(c/se) < accelAlpha && r1 > 0 && r1 >= accelRatio*r0 {
		return PatternAccelerating
	}
	// Gradual needs evidence of a steady rate, not merely no evidence of a
	// changing one: two one-sided tests (an equivalence test) that the rate
	// changes over the segment (by 2c, u spanning 1) by less than
	// steadyChange of its mean.
	margin := steadyChange * b / 2
	q := st.Quantile(1 - steadyAlpha)
	if c+q*se < margin && c-q*se > -margin {
		return PatternGradual
	}
	return PatternUnknown
}

// det3 is the determinant of a 3×3 matrix.
func det3(m [3][3]float64) float64 {
	return m[0][0]*(m[1][1]*m[2][2]-m[1][2]*m[2][1]) -
		m[0][1]*(m[1][0]*m[2][2]-m[1][2]*m[2][0]) +
		m[0][2]*(m[1][0]*m[2][1]-m[1][1]*m[2][0])
}

// inverse3 inverts a symmetric 3×3 matrix of determinant det.
func inverse3(m [3][3]float64, det float64) [3][3]float64 {
	var v [3][3]float64
	for i := range 3 {
		for j := range 3 {
			// Cofactor of (j, i) over the determinant: the adjugate.
			r0, r1 := (j+1)%3, (j+2)%3
			c0, c1 := (i+1)%3, (i+2)%3
			v[i][j] = (m[r0][c0]*m[r1][c1] - m[r0][c1]*m[r1][c0]) / det
		}
	}
	return v
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

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// growthStart is growthStartAt for equally spaced points.
func growthStart(y []float64) int { return growthStartAt(nil, y) }

// growthStartAt locates where growth began: the hinge of the best
// flat-then-linear fit in time (nil t: equally spaced), by least squares
// over every candidate hinge. Suffix sums make each candidate O(1), so a
// window of any length costs O(n).
func growthStartAt(t, y []float64) int {
	n := len(y)
	at := func(i int) float64 {
		if t == nil {
			return float64(i)
		}
		return t[i] - t[0] // centred: the sums of squares stay exact
	}
	// Over the points after hinge h, x = t − t_h; the fit needs Σx, Σx²,
	// Σxy, from suffix sums of t, t², ty and y (the flat part has x = 0).
	var st, st2, sty, sy, sy2, all float64
	for i := range y {
		all += y[i]
		sy2 += y[i] * y[i]
	}
	best, bestSSE := 0, math.Inf(1)
	sse := make([]float64, max(n-2, 0))
	for h := n - 1; h >= 0; h-- {
		if h < n-2 {
			m := float64(n - 1 - h) // points after the hinge
			th := at(h)
			sx := st - m*th
			sxx := st2 - 2*th*st + m*th*th
			sxy := sty - th*sy
			fn := float64(n)
			vx := sxx - sx*sx/fn
			vxy := sxy - sx*all/fn
			vy := sy2 - all*all/fn
			sse[h] = vy
			if vx > 0 {
				sse[h] = vy - vxy*vxy/vx
			}
		}
		ti := at(h)
		st += ti
		st2 += ti * ti
		sty += ti * y[h]
		sy += y[h]
	}
	for h := range sse {
		if sse[h] < bestSSE*(1-1e-9) {
			best, bestSSE = h, sse[h]
		}
	}
	return best
}

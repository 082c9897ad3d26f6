package stats

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// maxRho caps the lag-1 autocorrelation used to widen the slope's standard
// error. Beyond it a window holds too little independent information to test
// anything, and the effective sample size below keeps the test honest.
const maxRho = 0.98

// rhoZ is the normal quantile of the one-sided 95 % upper confidence bound
// on ρ that widens the slope's standard error. The point estimate alone is
// measurably anti-conservative (size 0.017 at nominal 0.001 for n = 24,
// ρ = 0.8 in TestTrendCalibration); the upper bound restores the size at the
// small levels alpha spending uses, at a modest cost in power.
const rhoZ = 1.645

// TrendResult is the outcome of a one-sided test for a positive linear trend
// in an equally spaced series.
type TrendResult struct {
	// N is the number of points tested.
	N int
	// Slope is the least-squares growth per step.
	Slope float64
	// SE is the slope's standard error, widened for serial correlation.
	SE float64
	// Rho is the lag-1 autocorrelation of the residuals used to widen SE
	// (bias-corrected, never below zero).
	Rho float64
	// T is the test statistic Slope/SE and DF its effective degrees of
	// freedom.
	T, DF float64
	// P is the one-sided p-value for H0: slope ≤ 0.
	P float64
}

// Trend tests y, taken at equally spaced steps, for a positive linear trend.
//
// The slope is the ordinary least-squares slope. Its standard error is widened
// for positive serial correlation in the residuals by the AR(1) factor
// (1+ρ)/(1−ρ), with ρ a 95 % upper confidence bound on the lag-1 residual
// autocorrelation (after correcting its small-sample bias), and the Student t reference distribution uses the
// effective sample size n(1−ρ)/(1+ρ), so that a slowly wandering benign
// series is not mistaken for growth. noiseVar is a known per-point variance
// floor (for example the sampling noise of a heap profile); the residual
// variance is never taken below it. Series shorter than 4 points, or
// containing NaN or ±Inf, yield P = 1.
func Trend(y []float64, noiseVar float64) TrendResult {
	return TrendAt(nil, y, noiseVar)
}

// TrendAt is Trend for a series observed at times x (strictly increasing,
// in any unit; nil means 0, 1, 2, …). The slope is then per unit of x. A
// leak that is linear in time stays linear however irregular the sampling
// (the Go heap profile changes only at garbage collections, which grow
// sparser as the heap grows).
func TrendAt(x, y []float64, noiseVar float64) TrendResult {
	return trendWith(x, y, noiseVar, serialRho(x, y))
}

// line is a least-squares line fit of y on x (x nil: the index).
type line struct {
	slope, intercept, xMean, sxx, yMean float64
	ok                                  bool
}

func xAt(x []float64, i int) float64 {
	if x == nil {
		return float64(i)
	}
	return x[i]
}

func fit(x, y []float64) line {
	n := len(y)
	if n < 4 || (x != nil && len(x) != n) {
		return line{}
	}
	var l line
	for i, v := range y {
		xi := xAt(x, i)
		if !finite(v) || !finite(xi) {
			return line{}
		}
		l.yMean += v
		l.xMean += xi
	}
	l.yMean /= float64(n)
	l.xMean /= float64(n)
	var sxy float64
	for i, v := range y {
		dx := xAt(x, i) - l.xMean
		l.sxx += dx * dx
		sxy += dx * (v - l.yMean)
	}
	if !(l.sxx > 0) {
		return line{}
	}
	l.slope = sxy / l.sxx
	l.intercept = l.yMean - l.slope*l.xMean
	l.ok = true
	return l
}

func (l line) resid(x, y []float64, i int) float64 {
	return y[i] - (l.intercept + l.slope*xAt(x, i))
}

// serialRho is the conservative lag-1 autocorrelation used to widen a
// window's slope standard error: the smaller of the straight-line residual
// estimate and the first-difference estimate, corrected for small-sample
// bias, raised to its 95 % upper confidence bound, within [0, maxRho].
// It returns NaN when the series cannot be fitted.
func serialRho(x, y []float64) float64 {
	l := fit(x, y)
	if !l.ok {
		return math.NaN()
	}
	n := len(y)
	fn := float64(n)
	var buf [128]float64
	var e []float64
	if n <= len(buf) {
		e = buf[:n]
	} else {
		e = make([]float64, n)
	}
	var ssr, lag float64
	for i := range y {
		e[i] = l.resid(x, y, i)
		ssr += e[i] * e[i]
		if i > 0 {
			lag += e[i] * e[i-1]
		}
	}
	rho := 0.0
	if ssr > 0 {
		rho = lag / ssr
	}
	// A curved or kinked trend (a leak that accelerates, retained steps)
	// leaves long runs in the residuals of a straight line, which read as
	// strong autocorrelation and would cost all power. The first
	// differences are blind to smooth trend shape: for AR(1) noise their
	// lag-1 correlation is −(1−ρ)/2. Taking the smaller estimate keeps a
	// wandering benign series penalised (both estimates see it) while a
	// curved leak is not.
	rho = math.Min(rho, diffRho(e))
	// Both estimates understate ρ in short series, by roughly (1+3ρ)/n plus
	// the fitted parameters' share; correct upwards, then take the upper
	// confidence bound, never below zero (negative correlation would only
	// narrow the interval, which we do not want).
	rho += (4 + 3*math.Max(rho, 0)) / fn
	rho += rhoZ * math.Sqrt((1-math.Min(rho*rho, 1))/fn)
	return math.Min(math.Max(rho, 0), maxRho)
}

// trendWith is TrendAt with the serial correlation given.
func trendWith(x, y []float64, noiseVar, rho float64) TrendResult {
	n := len(y)
	res := TrendResult{N: n, P: 1, DF: math.NaN()}
	l := fit(x, y)
	if !l.ok || !finite(noiseVar) || math.IsNaN(rho) {
		return res
	}
	fn := float64(n)
	var ssr float64
	for i := range y {
		e := l.resid(x, y, i)
		ssr += e * e
	}
	inflation := (1 + rho) / (1 - rho)
	s2 := ssr / (fn - 2)
	// A numerically perfect line must not produce an infinite statistic from
	// rounding alone.
	floor := 1e-12 * (l.yMean*l.yMean + 1)
	s2 = math.Max(s2, math.Max(noiseVar, floor))
	se := math.Sqrt(s2 / l.sxx * inflation)
	df := math.Max(fn/inflation-2, 1)
	t := l.slope / se
	if !finite(l.slope) || !finite(se) || !finite(t) {
		// Values so large that the arithmetic overflowed: no evidence,
		// rather than a NaN that would compare as neither large nor small.
		return res
	}
	res.Slope = l.slope
	res.SE = se
	res.Rho = rho
	res.T = t
	res.DF = df
	res.P = distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Survival(t)
	return res
}

// Interval returns the two-sided confidence interval for the slope at the
// given confidence (for example 0.95). It is computed on demand because the
// t quantile costs far more than the test itself.
func (r TrendResult) Interval(conf float64) (lo, hi float64) {
	if r.N < 4 || math.IsNaN(r.DF) || !(conf > 0 && conf < 1) {
		return math.Inf(-1), math.Inf(1)
	}
	q := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: r.DF}.Quantile(0.5 + conf/2)
	return r.Slope - q*r.SE, r.Slope + q*r.SE
}

// GrowthResult is the outcome of the persistence test.
type GrowthResult struct {
	// Full, Older and Newer test the whole window, its older half and its
	// newer half for a trend under stationary noise (TrendAt).
	Full, Older, Newer TrendResult
	// DriftFull, DriftOlder and DriftNewer test the same spans for drift
	// under random-walk noise (DriftAt).
	//
	// A family in which some span's estimate is not positive cannot bring
	// P below 1; its three results are then not computed and carry P = 1
	// and zero estimates.
	DriftFull, DriftOlder, DriftNewer TrendResult
	// TrendP and DriftP are the intersection-union p-values of each family:
	// the largest of its three.
	TrendP, DriftP float64
	// P combines the two families: twice the smaller, capped at 1.
	P float64
}

// DriftAt tests a series observed at times x (nil: equally spaced) for a
// positive drift under random-walk noise: increments Δy = μΔx + ε with
// independent ε of variance proportional to Δx. This is the right model
// for a leak seen through a sampling profiler, where each retained sampled
// object adds an independent step, so the noise accumulates instead of
// averaging out. The estimate is μ = (y_last − y_first)/(x_last − x_first),
// tested with a one-sample t test on the scaled increments. Under
// stationary benign noise the test is conservative: the endpoints carry all
// the signal and the increments' spread overstates their mean's error.
// noiseVar floors each point's variance as in TrendAt.
func DriftAt(x, y []float64, noiseVar float64) TrendResult {
	n := len(y)
	res := TrendResult{N: n, P: 1, DF: math.NaN()}
	if n < 4 || (x != nil && len(x) != n) || !finite(noiseVar) {
		return res
	}
	span := xAt(x, n-1) - xAt(x, 0)
	if !(span > 0) || !finite(span) {
		return res
	}
	for i := range y {
		if !finite(y[i]) {
			return res
		}
	}
	mu := (y[n-1] - y[0]) / span
	var ss float64
	for i := 1; i < n; i++ {
		dx := xAt(x, i) - xAt(x, i-1)
		if !(dx > 0) {
			continue // repeated timestamps carry no increment information
		}
		z := (y[i]-y[i-1])/math.Sqrt(dx) - mu*math.Sqrt(dx)
		ss += z * z
	}
	m := float64(n - 1)
	s2 := ss / (m - 1)
	// Each increment differs two points, each with at least noiseVar.
	s2 = math.Max(s2, 2*noiseVar/(span/m))
	s2 = math.Max(s2, 1e-24*(mu*mu*span+1))
	se := math.Sqrt(s2 / span)
	if !finite(mu) || !finite(se) || !finite(mu/se) {
		return res // overflow: no evidence (see trendWith)
	}
	res.Slope = mu
	res.SE = se
	res.T = mu / se
	res.DF = m - 1
	res.P = distuv.StudentsT{Mu: 0, Sigma: 1, Nu: res.DF}.Survival(res.T)
	return res
}

// Growth tests whether y grows persistently across the whole window: the
// window as a whole, its older half and its newer half must each show a
// significant positive trend.
//
// Each span is tested twice: for a trend under stationary, possibly
// autocorrelated noise (TrendAt), and for drift under random-walk noise
// (DriftAt), because a leak observed through a sampling profiler is a
// random walk with drift while benign fluctuation is stationary; the two
// families are combined by Bonferroni.
//
// Within a family this is an intersection-union test (Berger 1982): the null hypothesis "the
// series did not grow throughout the window" is the union of "no growth
// overall", "no growth in the older half" and "no growth in the newer half",
// and rejecting only when all three component tests reject at level α keeps
// the overall level at α with no further correction. It is what makes
// growth that stopped (a warmed-up cache), a one-time step (which can sit in
// only one half) and a spike that drained benign, while a leak — growth that
// goes on up to now — rejects all three.
func Growth(y []float64, noiseVar float64) GrowthResult {
	return GrowthAt(nil, y, noiseVar)
}

// GrowthAt is Growth for a series observed at times x (nil: equally
// spaced); slopes are per unit of x.
func GrowthAt(x, y []float64, noiseVar float64) GrowthResult {
	h := len(y) / 2
	xo, xn := halves(x, len(y))
	// A family with a span whose estimate is not positive has a component
	// p-value of at least ½, so the family's cannot be below ½ and cannot
	// decide P (see MayGrow); its components are then left at P = 1
	// without computing them.
	skipped := func(n int) TrendResult { return TrendResult{N: n, P: 1, DF: math.NaN()} }
	trendOK, driftOK := growable(x, y)
	var r GrowthResult
	if trendOK {
		// The halves share the window's noise process; estimating its
		// correlation once from the whole window is twice as precise as
		// from each half, and the halves' tests are far less conservative
		// for it.
		rho := serialRho(x, y)
		r.Full = trendWith(x, y, noiseVar, rho)
		r.Older = trendWith(xo, y[:h], noiseVar, rho)
		r.Newer = trendWith(xn, y[len(y)-h:], noiseVar, rho)
	} else {
		r.Full, r.Older, r.Newer = skipped(len(y)), skipped(h), skipped(h)
	}
	if driftOK {
		r.DriftFull = DriftAt(x, y, noiseVar)
		r.DriftOlder = DriftAt(xo, y[:h], noiseVar)
		r.DriftNewer = DriftAt(xn, y[len(y)-h:], noiseVar)
	} else {
		r.DriftFull, r.DriftOlder, r.DriftNewer = skipped(len(y)), skipped(h), skipped(h)
	}
	r.TrendP = math.Max(r.Full.P, math.Max(r.Older.P, r.Newer.P))
	r.DriftP = math.Max(r.DriftFull.P, math.Max(r.DriftOlder.P, r.DriftNewer.P))
	// Either noise model may hold; Bonferroni over the two keeps the level.
	r.P = math.Min(1, 2*math.Min(r.TrendP, r.DriftP))
	return r
}

// MayGrow reports whether GrowthAt(x, y, ·) can return P < 1, in O(n)
// and without allocating: P < 1 needs every span's least-squares slope to be
// positive (the trend family) or every span's last point above its first
// (the drift family). GrowthAt uses the same condition to skip a family's
// arithmetic; when MayGrow returns false, GrowthAt returns P = 1.
func MayGrow(x, y []float64) bool {
	if len(y) < 4 || (x != nil && len(x) != len(y)) {
		return false
	}
	trend, drift := growable(x, y)
	return trend || drift
}

// growable reports which families can bring P below 1: the trend family
// needs every span's least-squares slope positive, the drift family every
// span's last point above its first.
func growable(x, y []float64) (trend, drift bool) {
	n := len(y)
	h := n / 2
	xo, xn := halves(x, n)
	drift = rises(y) && rises(y[:h]) && rises(y[n-h:])
	trend = slopeUp(x, y) && slopeUp(xo, y[:h]) && slopeUp(xn, y[n-h:])
	return trend, drift
}

// halves returns the older and newer halves of the times x of an n-point
// window (nil when x is nil or does not match).
func halves(x []float64, n int) (older, newer []float64) {
	if x == nil || len(x) != n {
		return nil, nil
	}
	return x[:n/2], x[n-n/2:]
}

// rises reports whether a span's last point is above its first: the drift
// estimate is positive.
func rises(y []float64) bool { return len(y) >= 4 && y[len(y)-1] > y[0] }

// slopeUp reports whether a span's least-squares slope is positive.
func slopeUp(x, y []float64) bool { l := fit(x, y); return l.ok && l.slope > 0 }

// diffRho estimates the lag-1 autocorrelation of AR(1) noise from the
// series' first differences, inverting Corr(Δe_t, Δe_{t−1}) = −(1−ρ)/2.
// Differences further than three robust standard deviations from their
// median are left out, so that a few large retained steps (a leak that grows
// in bursts) do not pass for correlated noise; gradual wandering has no
// outlying differences and is estimated as it is.
func diffRho(y []float64) float64 {
	m := len(y) - 1
	if m < 3 {
		return 1
	}
	var buf [64]float64
	var d []float64
	if m <= len(buf) {
		d = buf[:m]
	} else {
		d = make([]float64, m)
	}
	for i := range d {
		d[i] = y[i+1] - y[i]
	}
	med, mad := medianMAD(d)
	lim := 3 * 1.4826 * mad
	keep := func(v float64) bool { return lim == 0 || math.Abs(v-med) <= lim }
	var mean float64
	var kept int
	for _, v := range d {
		if keep(v) {
			mean += v
			kept++
		}
	}
	if kept < 3 {
		return 1
	}
	mean /= float64(kept)
	// A rising growth rate (an accelerating leak) is a trend in the
	// differences; remove a straight line from them too, so it is not read
	// as correlation.
	var xMean float64
	for i, v := range d {
		if keep(v) {
			xMean += float64(i)
		}
	}
	xMean /= float64(kept)
	var sxx, sxy float64
	for i, v := range d {
		if keep(v) {
			dx := float64(i) - xMean
			sxx += dx * dx
			sxy += dx * (v - mean)
		}
	}
	b := 0.0
	if sxx > 0 {
		b = sxy / sxx
	}
	resid := func(i int) float64 { return d[i] - mean - b*(float64(i)-xMean) }
	var ss, lag float64
	for i, v := range d {
		if !keep(v) {
			continue
		}
		e := resid(i)
		ss += e * e
		if i > 0 && keep(d[i-1]) {
			lag += e * resid(i-1)
		}
	}
	if ss == 0 {
		return 0
	}
	return 1 + 2*lag/ss
}

// medianMAD returns the median of v and its median absolute deviation,
// without modifying v. Windows are short, so a selection by insertion into
// a copy is cheap.
func medianMAD(v []float64) (med, mad float64) {
	var buf [64]float64
	var c []float64
	if len(v) <= len(buf) {
		c = buf[:len(v)]
	} else {
		c = make([]float64, len(v))
	}
	copy(c, v)
	slices.Sort(c)
	med = median(c)
	for i, x := range v {
		c[i] = math.Abs(x - med)
	}
	slices.Sort(c)
	return med, median(c)
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// SignP is the one-sided sign test on the increments of y: the probability,
// if increases and decreases were equally likely, of at least as many
// increases among the non-zero increments as observed. It is exact and
// makes no assumption about the size of the steps, so lumpy growth (a
// slice doubling its backing array amid steady retention) counts as much
// as smooth growth. Under stationary noise it is conservative, because a
// stationary series is less often monotone than a fair coin predicts.
func SignP(y []float64) float64 {
	var up, moves int
	for i := 1; i < len(y); i++ {
		switch d := y[i] - y[i-1]; {
		case d > 0:
			up++
			moves++
		case d < 0:
			moves++
		}
	}
	if moves == 0 || up == 0 {
		return 1
	}
	b := distuv.Binomial{N: float64(moves), P: 0.5}
	return 1 - b.CDF(float64(up-1))
}

package stats

import (
	"math"

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
	n := len(y)
	res := TrendResult{N: n, P: 1, DF: math.NaN()}
	if n < 4 || !finite(noiseVar) {
		return res
	}
	// x = 0..n-1 centred: closed forms avoid a pass and keep this allocation-free.
	fn := float64(n)
	xMean := (fn - 1) / 2
	sxx := fn * (fn*fn - 1) / 12
	var yMean float64
	for _, v := range y {
		if !finite(v) {
			return res
		}
		yMean += v
	}
	yMean /= fn
	var sxy float64
	for i, v := range y {
		sxy += (float64(i) - xMean) * (v - yMean)
	}
	slope := sxy / sxx
	intercept := yMean - slope*xMean

	var ssr, lag, prev float64
	for i, v := range y {
		e := v - (intercept + slope*float64(i))
		ssr += e * e
		if i > 0 {
			lag += e * prev
		}
		prev = e
	}
	rho := 0.0
	if ssr > 0 {
		rho = lag / ssr
	}
	// Residuals of a fitted line understate ρ by roughly (1+3ρ)/n plus the
	// fitted trend's own 2/n; correct upwards, then take the upper
	// confidence bound, never below zero (negative correlation would only
	// narrow the interval, which we do not want).
	rho += (3 + 3*math.Max(rho, 0)) / fn
	rho += rhoZ * math.Sqrt((1-math.Min(rho*rho, 1))/fn)
	rho = math.Min(math.Max(rho, 0), maxRho)
	inflation := (1 + rho) / (1 - rho)

	s2 := ssr / (fn - 2)
	// A numerically perfect line must not produce an infinite statistic from
	// rounding alone.
	floor := 1e-12 * (yMean*yMean + 1)
	s2 = math.Max(s2, math.Max(noiseVar, floor))
	se := math.Sqrt(s2 / sxx * inflation)
	df := math.Max(fn/inflation-2, 1)

	t := slope / se
	dist := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}
	res.Slope = slope
	res.SE = se
	res.Rho = rho
	res.T = t
	res.DF = df
	res.P = dist.Survival(t)
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
	// newer half.
	Full, Older, Newer TrendResult
	// P is the intersection-union p-value: the largest of the three.
	P float64
}

// Growth tests whether y grows persistently across the whole window: the
// window as a whole, its older half and its newer half must each show a
// significant positive trend.
//
// This is an intersection-union test (Berger 1982): the null hypothesis "the
// series did not grow throughout the window" is the union of "no growth
// overall", "no growth in the older half" and "no growth in the newer half",
// and rejecting only when all three component tests reject at level α keeps
// the overall level at α with no further correction. It is what makes
// growth that stopped (a warmed-up cache), a one-time step (which can sit in
// only one half) and a spike that drained benign, while a leak — growth that
// goes on up to now — rejects all three.
func Growth(y []float64, noiseVar float64) GrowthResult {
	h := len(y) / 2
	r := GrowthResult{
		Full:  Trend(y, noiseVar),
		Older: Trend(y[:h], noiseVar),
		Newer: Trend(y[len(y)-h:], noiseVar),
	}
	r.P = math.Max(r.Full.P, math.Max(r.Older.P, r.Newer.P))
	return r
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

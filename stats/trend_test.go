package stats

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/stat/distuv"
)

func straight(n int, a, b float64) []float64 {
	y := make([]float64, n)
	for i := range y {
		y[i] = a + b*float64(i)
	}
	return y
}

func TestTrendCases(t *testing.T) {
	nan := straight(10, 0, 1)
	nan[3] = math.NaN()
	inf := straight(10, 0, 1)
	inf[9] = math.Inf(1)
	tests := []struct {
		name     string
		y        []float64
		noise    float64
		wantP    func(p float64) bool
		wantSlop float64
	}{
		{"perfect line is decisive", straight(48, 100, 5), 0, func(p float64) bool { return p < 1e-12 }, 5},
		{"flat is not growth", straight(48, 100, 0), 0, func(p float64) bool { return p >= 0.5 }, 0},
		{"falling is not growth", straight(48, 100, -3), 0, func(p float64) bool { return p > 0.99 }, -3},
		{"too short", straight(3, 0, 1), 0, func(p float64) bool { return p == 1 }, 0},
		{"empty", nil, 0, func(p float64) bool { return p == 1 }, 0},
		{"NaN", nan, 0, func(p float64) bool { return p == 1 }, 0},
		{"Inf", inf, 0, func(p float64) bool { return p == 1 }, 0},
		{"noise floor hides a small slope", straight(48, 0, 0.01), 1e6, func(p float64) bool { return p > 0.4 }, 0.01},
		{"huge values stay finite", straight(48, 1<<62, 1<<40), 0, func(p float64) bool { return p < 1e-6 }, 1 << 40},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Trend(tc.y, tc.noise)
			require.Truef(t, tc.wantP(r.P), "p = %v", r.P)
			require.False(t, math.IsNaN(r.P))
			if len(tc.y) >= 4 && tc.wantSlop != 0 {
				require.InEpsilon(t, tc.wantSlop, r.Slope, 1e-6)
				lo, hi := r.Interval(0.95)
				require.LessOrEqual(t, lo, r.Slope)
				require.GreaterOrEqual(t, hi, r.Slope)
			}
		})
	}
}

// TestTrendCalibration measures the test's size: under the null (no trend),
// with white and positively autocorrelated noise, the rate of p ≤ level must
// be consistent with at most level (its Clopper–Pearson lower bound must not
// exceed it). The detector's alpha spending relies on exactly this. Very
// strong correlation (ρ = 0.95) over short windows is reported, not
// asserted: there a window holds about one independent observation and the
// test is known to exceed its level up to about twofold at 0.001; the
// detector's family-wise simulation covers that case end to end.
func TestTrendCalibration(t *testing.T) {
	reps := 40000
	if testing.Short() {
		reps = 10000
	}
	levels := []float64{0.05, 0.01, 0.001}
	for _, n := range []int{12, 24, 48} {
		for _, rho := range []float64{0, 0.5, 0.8, 0.95} {
			t.Run(fmt.Sprintf("n=%d/rho=%.2f", n, rho), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(n), uint64(rho*100)))
				y := make([]float64, n)
				rejects := make([]int, len(levels))
				for range reps {
					e := rng.NormFloat64()
					for i := range y {
						e = rho*e + math.Sqrt(1-rho*rho)*rng.NormFloat64()
						y[i] = 1000 + e
					}
					p := Trend(y, 0).P
					for j, l := range levels {
						if p <= l {
							rejects[j]++
						}
					}
				}
				for j, l := range levels {
					rate := float64(rejects[j]) / float64(reps)
					lower := binomialLower(rejects[j], reps, 0.999)
					t.Logf("level %.3f: size %.5f (%d/%d, 99.9%% lower bound %.5f)", l, rate, rejects[j], reps, lower)
					if rho < 0.9 {
						require.LessOrEqualf(t, lower, l, "size %.5f exceeds level %.3f", rate, l)
					}
				}
			})
		}
	}
}

// TestDriftCalibration measures the drift test's size under its own null
// (a random walk without drift, Gaussian and Poisson-stepped as a sampling
// profiler produces) and under stationary AR(1) noise, where it must be
// conservative.
func TestDriftCalibration(t *testing.T) {
	reps := 40000
	if testing.Short() {
		reps = 10000
	}
	levels := []float64{0.05, 0.01, 0.001}
	noises := []struct {
		name string
		next func(r *rand.Rand, prev float64) float64
	}{
		{"random walk", func(r *rand.Rand, prev float64) float64 { return prev + r.NormFloat64() }},
		{"poisson steps, no drift", func(r *rand.Rand, prev float64) float64 {
			// Sampled objects arrive and are freed at equal rates.
			return prev + float64(poissonTest(r, 2)-poissonTest(r, 2))
		}},
		{"ar1 0.9", func(r *rand.Rand, prev float64) float64 { return 0.9*prev + math.Sqrt(1-0.81)*r.NormFloat64() }},
	}
	for _, n := range []int{24, 48} {
		for _, nz := range noises {
			t.Run(fmt.Sprintf("n=%d/%s", n, nz.name), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(n), 99))
				y := make([]float64, n)
				rejects := make([]int, len(levels))
				for range reps {
					v := rng.NormFloat64()
					for i := range y {
						v = nz.next(rng, v)
						y[i] = v
					}
					p := DriftAt(nil, y, 0).P
					for j, l := range levels {
						if p <= l {
							rejects[j]++
						}
					}
				}
				for j, l := range levels {
					rate := float64(rejects[j]) / float64(reps)
					lower := binomialLower(rejects[j], reps, 0.999)
					t.Logf("level %.3f: size %.5f (%d/%d, 99.9%% lower bound %.5f)", l, rate, rejects[j], reps, lower)
					require.LessOrEqualf(t, lower, l, "size %.5f exceeds level %.3f", rate, l)
				}
			})
		}
	}
}

func poissonTest(r *rand.Rand, lambda float64) int {
	l := math.Exp(-lambda)
	k, p := 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// binomialLower is the one-sided Clopper–Pearson lower confidence bound on
// a rate observed as k successes in n trials.
func binomialLower(k, n int, conf float64) float64 {
	if k == 0 {
		return 0
	}
	return distuv.Beta{Alpha: float64(k), Beta: float64(n - k + 1)}.Quantile(1 - conf)
}

func TestGrowthPersistence(t *testing.T) {
	n := 48
	rng := rand.New(rand.NewPCG(1, 2))
	noisy := func(f func(i int) float64) []float64 {
		y := make([]float64, n)
		for i := range y {
			y[i] = f(i) + rng.NormFloat64()
		}
		return y
	}
	tests := []struct {
		name string
		y    []float64
		leak bool
	}{
		{"steady growth persists", noisy(func(i int) float64 { return float64(i) }), true},
		{"warm-up that stopped in the older half", noisy(func(i int) float64 { return float64(min(i, 15)) * 3 }), false},
		{"one-time step", noisy(func(i int) float64 { return float64(map[bool]int{true: 50}[i >= 30]) }), false},
		{"growth only recently", noisy(func(i int) float64 { return float64(max(0, i-36)) * 5 }), false},
		{"spike that drained", noisy(func(i int) float64 { return 40 * math.Exp(-math.Abs(float64(i-24))/4) }), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := Growth(tc.y, 0)
			require.Equal(t, math.Max(g.Full.P, math.Max(g.Older.P, g.Newer.P)), g.TrendP)
			require.Equal(t, math.Max(g.DriftFull.P, math.Max(g.DriftOlder.P, g.DriftNewer.P)), g.DriftP)
			require.Equal(t, math.Min(1, 2*math.Min(g.TrendP, g.DriftP)), g.P)
			if tc.leak {
				require.Less(t, g.P, 1e-6)
			} else {
				require.Greater(t, g.P, 0.01)
			}
		})
	}
}

func TestSpendWeight(t *testing.T) {
	require.Zero(t, SpendWeight(0))
	require.Equal(t, 0.5, SpendWeight(1))
	var sum float64
	prev := math.Inf(1)
	for i := uint64(1); i <= 1_000_000; i++ {
		w := SpendWeight(i)
		require.Less(t, w, prev, "weights must decrease")
		prev = w
		sum += w
	}
	// The tail beyond N is at most 1/(2(1+ln N)), so the full sum stays ≤ 1.
	tail := 1 / (2 * (1 + math.Log(1e6)))
	require.LessOrEqual(t, sum+tail, 1.0)
}

func BenchmarkGrowth(b *testing.B) {
	for _, n := range []int{64, 256, 1024} {
		b.Run(fmt.Sprintf("history=%d", n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(7, uint64(n)))
			y := make([]float64, n)
			for i := range y {
				y[i] = float64(i) + 10*rng.NormFloat64()
			}
			b.ReportAllocs()
			for b.Loop() {
				Growth(y, 1)
			}
		})
	}
}

func TestSignP(t *testing.T) {
	tests := []struct {
		y    []float64
		want float64
	}{
		{[]float64{1, 2, 3, 4}, 0.125},                    // 3 of 3 up
		{[]float64{1, 2, 2, 3}, 0.25},                     // ties are not moves
		{[]float64{4, 3, 2, 1}, 1},                        // no increase
		{[]float64{1, 1, 1}, 1},                           // no moves
		{[]float64{1, 3, 2, 4, 5}, 5.0 / 16},              // 3 of 4 up
		{[]float64{0, 1, 100, 101, 1000, 1001}, 1.0 / 32}, // lumpy growth counts fully
	}
	for _, tc := range tests {
		require.InDelta(t, tc.want, SignP(tc.y), 1e-12, "%v", tc.y)
	}
}

// everyComponentP is GrowthAt's P computed from all six component tests,
// with no family skipped.
func everyComponentP(x, y []float64) float64 {
	h := len(y) / 2
	xo, xn := halves(x, len(y))
	rho := serialRho(x, y)
	tp := max(trendWith(x, y, 0, rho).P, trendWith(xo, y[:h], 0, rho).P, trendWith(xn, y[len(y)-h:], 0, rho).P)
	dp := max(DriftAt(x, y, 0).P, DriftAt(xo, y[:h], 0).P, DriftAt(xn, y[len(y)-h:], 0).P)
	return min(1, 2*min(tp, dp))
}

// TestMayGrowIsNecessary checks the shortcut never hides a P below 1, and
// that GrowthAt's skipping of families leaves P exactly as computing every
// component would, on random, wandering, stepped and sawtooth series.
func TestMayGrowIsNecessary(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	skipped := 0
	for trial := range 20000 {
		n := 8 + rng.IntN(60)
		y := make([]float64, n)
		var x []float64
		if trial%2 == 1 {
			x = make([]float64, n)
			for i := range x {
				x[i] = float64(i) + rng.Float64()*0.9
			}
		}
		walk := 0.0
		for i := range y {
			walk += rng.NormFloat64()
			switch trial % 4 {
			case 0:
				y[i] = rng.NormFloat64()
			case 1:
				y[i] = walk
			case 2:
				y[i] = float64(i/(1+rng.IntN(8))) + rng.NormFloat64()
			case 3:
				y[i] = float64(i%7) + 0.1*rng.NormFloat64()
			}
		}
		if !MayGrow(x, y) {
			skipped++
			require.Equal(t, 1.0, GrowthAt(x, y, 0).P, "trial %d", trial)
		}
		require.Equal(t, everyComponentP(x, y), GrowthAt(x, y, 0).P, "skipping a family changed P, trial %d", trial)
	}
	require.Greater(t, skipped, 10000, "the shortcut must skip most benign windows to be worth having")
}

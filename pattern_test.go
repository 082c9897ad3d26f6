package leakguard

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// poisson draws a Poisson count: by inversion for small means, by the
// rounded normal approximation for large ones (where its error is far
// below the shapes' differences).
func poisson(r *rand.Rand, mean float64) float64 {
	if mean <= 0 {
		return 0
	}
	if mean > 60 {
		return math.Max(0, math.Round(mean+math.Sqrt(mean)*r.NormFloat64()))
	}
	l, k, p := math.Exp(-mean), 0.0, r.Float64()
	for p > l {
		k++
		p *= r.Float64()
	}
	return k
}

// shapeNoise is one noise level of the labelled series: how many sampled
// objects the leak retains over the window (fewer means a coarser counting
// process) and the mean number of sampled short-lived objects of the same
// stack in use at any sample (churn, independent from sample to sample).
type shapeNoise struct {
	name   string
	events float64
	churn  float64
}

var shapeNoises = []shapeNoise{
	{"low", 2000, 20},
	{"medium", 300, 40},
	{"high", 60, 30},
}

// gcSeries samples a leak at the times a Go heap profile changes, the
// garbage collections: they come further apart as the heap grows (the
// collector runs when the heap has grown by GOGC percent), here from one
// nominal interval to up to six by the window's end, with ±40 % jitter.
// The leak's retained sampled objects follow next(i, t0, t1, cur), the
// count at t1 given cur at t0; each sample adds a Poisson number of
// churning objects. Values are in sampled objects (one object stands for
// the profile's sampling rate).
func gcSeries(r *rand.Rand, n int, churn float64, next func(i int, t0, t1, cur float64) float64) (ts, ys []float64) {
	ts, ys = make([]float64, n), make([]float64, n)
	thin := 5 * r.Float64()
	for i := 1; i < n; i++ {
		ts[i] = ts[i-1] + (0.6+0.8*r.Float64())*(1+thin*float64(i)/float64(n))
	}
	var cur float64
	for i := range n {
		ys[i] = cur + poisson(r, churn)
		if i+1 < n {
			cur = next(i, ts[i], ts[i+1], cur)
		}
	}
	return ts, ys
}

// labelledShapes generate one series of each shape. The window spans
// about n nominal intervals at the start (longer as the heap grows); each
// leak retains about nz.events sampled objects over it.
var labelledShapes = []struct {
	want PatternType
	gen  func(r *rand.Rand, n int, nz shapeNoise) (ts, ys []float64)
}{
	{PatternGradual, func(r *rand.Rand, n int, nz shapeNoise) ([]float64, []float64) {
		rate := nz.events / (2 * float64(n))
		return gcSeries(r, n, nz.churn, func(_ int, t0, t1, cur float64) float64 {
			return cur + poisson(r, rate*(t1-t0))
		})
	}},
	{PatternAccelerating, func(r *rand.Rand, n int, nz shapeNoise) ([]float64, []float64) {
		// The rate grows 3 to 8 times over about the window (two nominal
		// intervals per sample), linearly or exponentially.
		k := 3 + 5*r.Float64()
		exp := r.IntN(2) == 0
		w := 2 * float64(n)
		rate0 := nz.events / w / (1 + k) * 2
		return gcSeries(r, n, nz.churn, func(_ int, t0, t1, cur float64) float64 {
			var m float64
			if exp {
				g := math.Log(k) / w
				m = rate0 * (math.Exp(g*t1) - math.Exp(g*t0)) / g
			} else {
				m = rate0 * ((t1 - t0) + (k-1)*(t1*t1-t0*t0)/(2*w))
			}
			return cur + poisson(r, m)
		})
	}},
	{PatternBurst, func(r *rand.Rand, n int, nz shapeNoise) ([]float64, []float64) {
		// One to three large retained steps at random samples over a trickle
		// of 5 % of the growth.
		k := 1 + r.IntN(3)
		at := map[int]float64{}
		for range k {
			at[n/8+r.IntN(n*3/4)] += poisson(r, 0.95*nz.events/float64(k))
		}
		rate := 0.05 * nz.events / (2 * float64(n))
		return gcSeries(r, n, nz.churn, func(i int, t0, t1, cur float64) float64 {
			return cur + poisson(r, rate*(t1-t0)) + at[i]
		})
	}},
	{PatternPeriodic, func(r *rand.Rand, n int, nz shapeNoise) ([]float64, []float64) {
		// A release every 8 to 16 nominal intervals; each keeps 15 to 40 %
		// of what its cycle grew.
		period := 8 + 8*r.Float64()
		phase := r.Float64() * period
		keep := 0.15 + 0.25*r.Float64()
		rate := nz.events / (2 * float64(n)) / keep
		var kept, grown float64
		return gcSeries(r, n, nz.churn, func(_ int, t0, t1, _ float64) float64 {
			grown += poisson(r, rate*(t1-t0))
			if math.Floor((t1+phase)/period) > math.Floor((t0+phase)/period) {
				kept += math.Round(keep * grown)
				grown = 0
			}
			return kept + grown
		})
	}},
	{PatternConditional, func(r *rand.Rand, n int, nz shapeNoise) ([]float64, []float64) {
		// A rare path: five to nine events in the window (at most one
		// interval in three), each retaining a Poisson share of the growth.
		events := min(5+r.IntN(5), (n-1)/3)
		at := map[int]bool{}
		for _, i := range r.Perm(n - 1)[:events] {
			at[i] = true
		}
		size := nz.events / float64(events)
		return gcSeries(r, n, nz.churn, func(i int, _, _, cur float64) float64 {
			if at[i] {
				cur += poisson(r, size)
			}
			return cur
		})
	}},
}

// patternLabels are the confusion matrix's columns.
var patternLabels = []PatternType{PatternGradual, PatternAccelerating, PatternBurst, PatternPeriodic, PatternConditional, PatternUnknown}

// shapeLengths are the window lengths of the labelled series.
var shapeLengths = []int{16, 32, 64}

// labelCounts counts series by true shape, then label.
type labelCounts map[PatternType]map[PatternType]int

func (c labelCounts) add(want, got PatternType) {
	if c[want] == nil {
		c[want] = map[PatternType]int{}
	}
	c[want][got]++
}

// rate is the share of the series of shape want labelled got.
func (c labelCounts) rate(want, got PatternType) float64 {
	var tot int
	for _, k := range c[want] {
		tot += k
	}
	return float64(c[want][got]) / float64(tot)
}

// confusion classifies seeded labelled series of every shape, noise level
// and length: counts overall and per noise level.
func confusion(perCell int) (all labelCounts, byNoise map[string]labelCounts) {
	all, byNoise = labelCounts{}, map[string]labelCounts{}
	for si, s := range labelledShapes {
		for ni, nz := range shapeNoises {
			if byNoise[nz.name] == nil {
				byNoise[nz.name] = labelCounts{}
			}
			for li, n := range shapeLengths {
				r := rand.New(rand.NewPCG(uint64(si), uint64(ni*10+li)))
				for range perCell {
					ts, ys := s.gen(r, n, nz)
					got := classifyAt(ts, ys)
					all.add(s.want, got)
					byNoise[nz.name].add(s.want, got)
				}
			}
		}
	}
	return all, byNoise
}

// TestPatternConfusion measures the shape labels on seeded labelled
// series and prints the tables the README shows
// (go test -run TestPatternConfusion -v). A wrong label is worse than
// none: every label must be right for at least 90 % of the series it is
// given (equal numbers of each shape), a steady leak must essentially
// never be called accelerating, and shapes must be recognised where the
// series resolve them (the low noise level).
func TestPatternConfusion(t *testing.T) {
	const perCell = 200
	all, byNoise := confusion(perCell)
	var b strings.Builder
	b.WriteString("| true shape \\ label |")
	for _, l := range patternLabels {
		fmt.Fprintf(&b, " %s |", l)
	}
	b.WriteString("\n|---|" + strings.Repeat("---:|", len(patternLabels)) + "\n")
	for _, s := range labelledShapes {
		fmt.Fprintf(&b, "| %s |", s.want)
		for _, l := range patternLabels {
			fmt.Fprintf(&b, " %.1f %% |", 100*all.rate(s.want, l))
		}
		b.WriteString("\n")
	}
	b.WriteString("\nRight label by noise level (sampled objects the leak retains over the window, mean churning objects per sample):\n\n| noise |")
	for _, s := range labelledShapes {
		fmt.Fprintf(&b, " %s |", s.want)
	}
	b.WriteString("\n|---|" + strings.Repeat("---:|", len(labelledShapes)) + "\n")
	for _, nz := range shapeNoises {
		fmt.Fprintf(&b, "| %s (%.0f, %.0f) |", nz.name, nz.events, nz.churn)
		for _, s := range labelledShapes {
			fmt.Fprintf(&b, " %.1f %% |", 100*byNoise[nz.name].rate(s.want, s.want))
		}
		b.WriteString("\n")
	}
	t.Logf("%d series per shape (%d noise levels × lengths %v × %d seeds):\n%s",
		len(shapeNoises)*len(shapeLengths)*perCell, len(shapeNoises), shapeLengths, perCell, b.String())

	require.LessOrEqual(t, all.rate(PatternGradual, PatternAccelerating), 0.01, "steady leaks called accelerating")
	for _, l := range patternLabels[:len(patternLabels)-1] {
		var given float64
		for _, s := range labelledShapes {
			given += all.rate(s.want, l)
		}
		require.GreaterOrEqual(t, all.rate(l, l)/given, 0.9, "precision of %s", l)
	}
	low := byNoise[shapeNoises[0].name]
	for _, tc := range []struct {
		want PatternType
		min  float64
	}{
		{PatternGradual, 0.95},
		{PatternAccelerating, 0.9},
		{PatternBurst, 0.95},
		{PatternPeriodic, 0.6},
		{PatternConditional, 0.35},
	} {
		require.GreaterOrEqual(t, low.rate(tc.want, tc.want), tc.min, "%s at low noise", tc.want)
	}
}

// TestClassifyCases pins the classifier's edges: too little or malformed
// data is unknown, noise-free shapes are named, and values without times
// are never called accelerating.
func TestClassifyCases(t *testing.T) {
	line := func(n int, f func(i int) float64) []float64 {
		y := make([]float64, n)
		for i := range y {
			y[i] = f(i)
		}
		return y
	}
	steady := line(32, func(i int) float64 { return 100 + 7*float64(i) })
	square := line(32, func(i int) float64 { return float64(i * i) })
	tests := []struct {
		name string
		t, y []float64
		want PatternType
	}{
		{"too short", nil, steady[:7], PatternUnknown},
		{"times of another length", make([]float64, 31), steady, PatternUnknown},
		{"times not increasing", make([]float64, 32), steady, PatternUnknown},
		{"not a number", nil, append(append([]float64{}, steady[:31]...), math.NaN()), PatternUnknown},
		{"shrinking", nil, line(32, func(i int) float64 { return 500 - float64(i) }), PatternUnknown},
		{"flat", nil, line(32, func(int) float64 { return 5 }), PatternUnknown},
		{"exact line", nil, steady, PatternGradual},
		{"exact line at Unix times", line(32, func(i int) float64 { return 1.7e9 + 10*float64(i) }), steady, PatternGradual},
		{"exact square", nil, square, PatternAccelerating},
		{"square per sample, sampled ever more sparsely", square, square, PatternGradual},
		{"one step", nil, line(32, func(i int) float64 { return float64(i%3) + 100*float64(i/20) }), PatternBurst},
		{"sawtooth", nil, line(40, func(i int) float64 { return float64(i) + 5*float64(i%8) }), PatternPeriodic},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, classifyAt(tc.t, tc.y))
		})
	}
	require.Equal(t, PatternUnknown, classify(square), "values without times")

	// Arbitrary values (huge, tiny, repeated, negative) and times: always a
	// label, never a panic.
	r := rand.New(rand.NewPCG(1, 2))
	valid := map[PatternType]bool{}
	for _, l := range patternLabels {
		valid[l] = true
	}
	for range 2000 {
		n := 8 + r.IntN(60)
		ts, ys := make([]float64, n), make([]float64, n)
		scale := math.Pow(10, float64(r.IntN(40)-20))
		for i := range ys {
			if i > 0 {
				ts[i] = ts[i-1] + scale*r.ExpFloat64()
			}
			switch r.IntN(4) {
			case 0:
				ys[i] = 0
			case 1:
				ys[i] = scale * float64(i)
			case 2:
				ys[i] = -scale * r.Float64()
			default:
				ys[i] = scale * r.NormFloat64()
			}
		}
		require.True(t, valid[classifyAt(ts, ys)])
		require.True(t, valid[classify(ys)])
	}

	// Steady leaks sampled at collections: with their times, almost never
	// accelerating; without, often — which classify must not report.
	var timed, untimed, n int
	for ni, nz := range shapeNoises {
		r := rand.New(rand.NewPCG(99, uint64(ni)))
		for range 300 {
			ts, ys := labelledShapes[0].gen(r, 48, nz)
			n++
			if classifyAt(ts, ys) == PatternAccelerating {
				timed++
			}
			if classify(ys) == PatternAccelerating {
				untimed++
			}
		}
	}
	require.LessOrEqual(t, float64(timed)/float64(n), 0.01)
	require.Zero(t, untimed)
}

// TestGrowthStart checks the linear-time hinge search against the direct
// least-squares fit at every hinge, on noisy flat-then-linear series.
func TestGrowthStart(t *testing.T) {
	direct := func(ts, y []float64) int {
		n := len(y)
		best, bestSSE := 0, math.Inf(1)
		x := make([]float64, n)
		for h := 0; h < n-2; h++ {
			for i := range y {
				if ts == nil {
					x[i] = math.Max(0, float64(i-h))
				} else {
					x[i] = math.Max(0, ts[i]-ts[h])
				}
			}
			if sse := lineSSE(x, y); sse < bestSSE*(1-1e-9) {
				best, bestSSE = h, sse
			}
		}
		return best
	}
	r := rand.New(rand.NewPCG(7, 7))
	for _, n := range []int{3, 8, 48, 200} {
		for range 50 {
			hinge := r.IntN(n)
			ts, y := make([]float64, n), make([]float64, n)
			for i := range y {
				if i > 0 {
					ts[i] = ts[i-1] + 0.5 + r.Float64()
				}
				y[i] = 1e6 + r.NormFloat64()
				if i > hinge {
					y[i] += 3 * (ts[i] - ts[hinge])
				}
			}
			require.Equal(t, direct(ts, y), growthStartAt(ts, y), "n=%d", n)
			require.Equal(t, direct(nil, y), growthStart(y), "n=%d", n)
		}
	}
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

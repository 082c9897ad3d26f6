package leaktest

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// permute calls f with every ordering of y (Heap's algorithm), y's own
// storage rearranged in place.
func permute(y []float64, f func([]float64)) {
	c := make([]int, len(y))
	f(y)
	for i := 0; i < len(y); {
		if c[i] < i {
			if i%2 == 0 {
				y[0], y[i] = y[i], y[0]
			} else {
				y[c[i]], y[i] = y[i], y[c[i]]
			}
			f(y)
			c[i]++
			i = 0
		} else {
			c[i] = 0
			i++
		}
	}
}

func kendallS(y []float64) int {
	s := 0
	for i := range y {
		for j := i + 1; j < len(y); j++ {
			switch {
			case y[j] > y[i]:
				s++
			case y[j] < y[i]:
				s--
			}
		}
	}
	return s
}

// TestTrendPConservative enumerates every ordering of series of 8 rounds
// with various ties — the exact null distribution of S given the ties —
// and checks that trendP never understates the exact tail probability
// where it matters, at or below 0.05.
func TestTrendPConservative(t *testing.T) {
	for _, levels := range [][]int{
		{1, 1, 1, 1, 1, 1, 1, 1}, // no ties
		{2, 2, 2, 2},             // four steps of equal length
		{4, 4},                   // one step halfway
		{1, 7},                   // one step at an end
		{1, 1, 6},
		{3, 5},
		{2, 3, 3},
	} {
		var y []float64
		for v, m := range levels {
			for range m {
				y = append(y, float64(v))
			}
		}
		count := map[int]int{}
		total := 0
		permute(y, func(p []float64) { count[kendallS(p)]++; total++ })
		for s := range count {
			tail := 0
			for s2, c := range count {
				if s2 >= s {
					tail += c
				}
			}
			exact := float64(tail) / float64(total)
			if exact > 0.05 {
				continue
			}
			// trendP depends on the series only through S and the ties:
			// any ordering with this S will do.
			got := -1.0
			permute(y, func(p []float64) {
				if got < 0 && kendallS(p) == s {
					got = trendP(p)
				}
			})
			require.GreaterOrEqual(t, got, exact, "levels %v, S = %d", levels, s)
		}
	}
}

// TestTrendPSize draws exchangeable series — independent draws, often
// tied, as exact byte counts are — and checks that the test rejects at
// most as often as its level says.
func TestTrendPSize(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, distinct := range []int{2, 4, 1000} {
		for _, n := range []int{16, 32} {
			const reps, alpha = 20000, 0.01
			rejected := 0
			y := make([]float64, n)
			for range reps {
				for i := range y {
					y[i] = float64(rng.IntN(distinct))
				}
				if trendP(y) <= alpha {
					rejected++
				}
			}
			rate := float64(rejected) / reps
			// Three binomial standard errors above the level.
			require.LessOrEqual(t, rate, alpha+3*math.Sqrt(alpha*(1-alpha)/reps), "%d values, %d rounds", distinct, n)
		}
	}
}

func TestTrendPCases(t *testing.T) {
	up := make([]float64, 24)
	for i := range up {
		up[i] = float64(i)
	}
	steps := make([]float64, 24) // doubling every 6 rounds
	for i := range steps {
		steps[i] = math.Pow(2, float64(i/6))
	}
	flat := make([]float64, 24)
	down := make([]float64, 24)
	for i := range down {
		down[i] = float64(-i)
	}
	require.Less(t, trendP(up), 1e-7)
	require.Less(t, trendP(steps), 1e-5)
	require.Equal(t, 1.0, trendP(flat))
	require.Equal(t, 1.0, trendP(down))
	require.Equal(t, 1.0, trendP(nil))
}

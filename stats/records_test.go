package stats

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNewHighsP(t *testing.T) {
	tests := []struct {
		name string
		h    NewHighs
		want float64
	}{
		{"none", NewHighs{Count: 0, Expected: 1}, 1},
		{"within the mean plus one", NewHighs{Count: 2, Expected: math.Log(4)}, 1},
		// P(Poisson(ln 4) ≥ 6) = 1 − e^−λ Σ_{k<6} λ^k/k!.
		{"six new highs over a quarter to the end", NewHighs{Count: 6, Expected: math.Log(4)}, 1 - poissonCDF(5, math.Log(4))},
		{"no span", NewHighs{Count: 5, Expected: 0}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.InEpsilon(t, tc.want, tc.h.P(), 1e-9)
		})
	}
	require.InEpsilon(t, NewHighs{Count: 7, Expected: 1}.P(), NewHighs{Expected: 1}.MinP(7), 1e-12)
}

func poissonCDF(k int, lambda float64) float64 {
	sum, term := 0.0, math.Exp(-lambda)
	for i := 0; i <= k; i++ {
		sum += term
		term *= lambda / float64(i+1)
	}
	return sum
}

// TestNewHighsPIsValid runs the null: a buffer grown whenever a request
// needs more than it holds (by doubling, or to the exact size), requests of
// i.i.d. heavy-tailed or few-valued sizes at a steady rate, observed from
// its start or from later on. The new highs seen after t1 must pass level a
// at most a fraction a of the time.
func TestNewHighsPIsValid(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	runs := 20_000
	if testing.Short() {
		runs = 4_000
	}
	type setup struct {
		requests, seenFrom, t1 int // in requests since the buffer started
		classes                int // 0: Pareto sizes; else that many sizes
		doubling               bool
	}
	for _, s := range []setup{
		{1000, 0, 250, 0, false},
		{1000, 0, 250, 0, true},
		{60, 0, 15, 0, false},
		{60, 0, 30, 4, false},
		{5000, 500, 1000, 0, false}, // the start not seen
		{20, 0, 2, 0, false},
	} {
		hits := map[float64]int{}
		levels := []float64{0.2, 0.05, 0.01}
		for range runs {
			capacity, seenMax := 0.0, 0.0
			count := 0
			for i := 1; i <= s.requests; i++ {
				need := math.Pow(1-rng.Float64(), -1/1.2)
				if s.classes > 0 {
					need = float64(1 + rng.IntN(s.classes))
				}
				if need <= capacity {
					continue
				}
				capacity = need
				if s.doubling {
					capacity = math.Pow(2, math.Ceil(math.Log2(need)))
				}
				if i <= s.seenFrom {
					continue
				}
				if capacity > seenMax {
					if i > s.t1 {
						count++
					}
					seenMax = capacity
				}
			}
			t0 := float64(s.seenFrom)
			h := NewHighs{Count: count, Expected: math.Log((float64(s.requests) - t0) / (float64(s.t1) - t0))}
			p := h.P()
			for _, a := range levels {
				if p <= a {
					hits[a]++
				}
			}
		}
		for _, a := range levels {
			rate := float64(hits[a]) / float64(runs)
			require.LessOrEqual(t, rate, a+3*math.Sqrt(a/float64(runs)), "%+v level %v", s, a)
		}
	}
}

func TestNewHighsNeeded(t *testing.T) {
	require.Equal(t, 1, NewHighsNeeded(1, 1))
	for _, tc := range []struct{ expected, level float64 }{{math.Log(4), 0.05}, {math.Log(2), 1e-4}, {3, 1e-6}} {
		k := NewHighsNeeded(tc.expected, tc.level)
		require.LessOrEqual(t, NewHighs{Count: k, Expected: tc.expected}.P(), tc.level)
		require.Greater(t, NewHighs{Count: k - 1, Expected: tc.expected}.P(), tc.level)
	}
}

func BenchmarkNewHighsP(b *testing.B) {
	for b.Loop() {
		_ = NewHighs{Count: 9, Expected: math.Log(4)}.P()
	}
}

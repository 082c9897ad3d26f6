package stats

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/stat/distuv"
)

func TestRiseP(t *testing.T) {
	tests := []struct {
		name string
		r    Rise
		want float64
	}{
		{"pure retention of 10", Rise{Events: 10, Rise: 10}, math.Exp2(-10)},
		{"pure retention of 60 (far tail)", Rise{Events: 60, Rise: 60}, math.Exp2(-60)},
		{"no rise", Rise{Events: 100, Rise: 0}, 1},
		{"a fall", Rise{Events: 100, Rise: -5}, 1},
		{"no events", Rise{Events: 0, Rise: 3}, 1},
		{"rise beyond the events is capped", Rise{Events: 4, Rise: 9}, math.Exp2(-4)},
		// 6 births and 2 deaths: P(Bin(8, ½) ≥ 6) = (28+8+1)/256.
		{"churn", Rise{Events: 8, Rise: 4}, 37.0 / 256},
		// A rise of 2 over 3 events needs 3 births (2.5 rounded up: births
		// are whole).
		{"odd", Rise{Events: 3, Rise: 2}, 1.0 / 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.InEpsilon(t, tc.want, tc.r.P(), 1e-9)
		})
	}
}

// TestRisePIsValid draws rises under the null (each event a birth with
// probability ½) and checks P(p ≤ a) ≤ a at several levels.
func TestRisePIsValid(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	const draws = 200_000
	for _, m := range []int64{1, 5, 20, 200} {
		bin := distuv.Binomial{N: float64(m), P: 0.5, Src: rng}
		hits := map[float64]int{}
		levels := []float64{0.5, 0.1, 0.01}
		for range draws {
			births := int64(bin.Rand())
			p := Rise{Events: m, Rise: 2*births - m}.P()
			for _, a := range levels {
				if p <= a {
					hits[a]++
				}
			}
		}
		for _, a := range levels {
			rate := float64(hits[a]) / draws
			require.LessOrEqual(t, rate, a+3*math.Sqrt(a/draws), "m=%d level %v", m, a)
		}
	}
}

func TestMinP(t *testing.T) {
	require.Equal(t, 1.0, MinP(0))
	require.Equal(t, 0.5, MinP(1))
	require.Equal(t, math.Exp2(-30), Rise{Events: 30, Rise: 2}.MinP())
}

func TestRiseNeeded(t *testing.T) {
	// Pure retention needs ⌈log2(1/level)⌉ objects.
	require.Equal(t, int64(7), RiseNeeded(0, 0.01))
	require.Equal(t, int64(7), RiseNeeded(5, 0.01))
	// With events, the smallest passing rise, and one less does not pass.
	for _, m := range []int64{20, 100, 1000} {
		need := RiseNeeded(m, 0.001)
		require.LessOrEqual(t, Rise{Events: m, Rise: need}.P(), 0.001)
		if need > 1 && need <= m {
			require.Greater(t, Rise{Events: m, Rise: need - 1}.P(), 0.001)
		}
	}
}

// TestTarone checks the divisor against its definition by brute force.
func TestTarone(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for range 500 {
		n := rng.IntN(50)
		minP := make([]float64, n)
		for i := range minP {
			minP[i] = math.Exp2(-float64(rng.IntN(30)))
		}
		alpha := []float64{0.05, 0.01, 1e-4}[rng.IntN(3)]
		want := 1
		for ; ; want++ {
			count := 0
			for _, p := range minP {
				if p <= alpha/float64(want) {
					count++
				}
			}
			if count <= want {
				break
			}
		}
		require.Equal(t, want, Tarone(append([]float64(nil), minP...), alpha))
	}
	require.Equal(t, 1, Tarone(nil, 0.01))
	// Tests that cannot pass cost nothing: 1,000 stacks with few events.
	few := make([]float64, 1000)
	for i := range few {
		few[i] = 0.25
	}
	require.Equal(t, 1, Tarone(few, 0.01))
}

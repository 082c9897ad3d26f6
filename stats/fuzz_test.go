package stats

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzRise feeds arbitrary counts — negative, huge, a rise beyond the
// events — to the evidence test and the correction: nothing may panic,
// every p-value is a probability, never NaN, and a larger rise over the
// same events is never less significant.
func FuzzRise(f *testing.F) {
	f.Add(int64(10), int64(10), int64(3))
	f.Add(int64(0), int64(5), int64(0))
	f.Add(int64(-4), int64(-9), int64(1))
	f.Add(int64(math.MaxInt64), int64(math.MaxInt64-1), int64(1<<40))
	f.Add(int64(3), int64(2), int64(100))
	f.Fuzz(func(t *testing.T, events, rise, stacks int64) {
		r := Rise{Events: events, Rise: rise}
		p := r.P()
		require.False(t, math.IsNaN(p))
		require.GreaterOrEqual(t, p, 0.0)
		require.LessOrEqual(t, p, 1.0)
		require.LessOrEqual(t, r.MinP(), max(p, r.MinP()))
		if rise < math.MaxInt64 {
			require.LessOrEqual(t, Rise{Events: events, Rise: rise + 1}.P(), p)
		}
		minP := make([]float64, min(max(stacks, 0), 64))
		for i := range minP {
			minP[i] = MinP(events + int64(i))
		}
		k := Tarone(minP, 0.01)
		require.GreaterOrEqual(t, k, 1)
		require.LessOrEqual(t, k, max(len(minP), 1))
	})
}

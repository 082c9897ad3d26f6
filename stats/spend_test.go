package stats

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

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

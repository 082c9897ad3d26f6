package leakguard

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMemProfileRateForBudget(t *testing.T) {
	cases := []struct {
		budget float64
		rate   int
	}{
		{DefaultSamplingBudget, DefaultMemProfileRate},
		{0.01, 256 << 10},
		{0.2, 16 << 10},
		{1, 2 << 10},
		{1e-9, 4 << 20}, // the coarsest it chooses
	}
	for _, c := range cases {
		require.Equal(t, c.rate, memProfileRateFor(c.budget), "budget %v", c.budget)
	}
}

func TestStartChoosesTheRateFromTheBudget(t *testing.T) {
	old := runtime.MemProfileRate
	t.Cleanup(func() { runtime.MemProfileRate = old })
	for _, bad := range []float64{0, -0.1, 1.5} {
		_, err := Start(WithSamplingBudget(bad))
		require.ErrorContains(t, err, "WithSamplingBudget")
	}
	runtime.MemProfileRate = 512 << 10
	g, err := Start(WithSamplingBudget(0.2), WithInterval(time.Hour), WithLogger(quietLogger()))
	require.NoError(t, err)
	require.NoError(t, g.Stop())
	require.Equal(t, 16<<10, runtime.MemProfileRate)
	runtime.MemProfileRate = 512 << 10
	g, err = Start(WithSamplingBudget(0.2), WithMemProfileRate(128<<10), WithInterval(time.Hour), WithLogger(quietLogger()))
	require.NoError(t, err)
	require.NoError(t, g.Stop())
	require.Equal(t, 128<<10, runtime.MemProfileRate, "WithMemProfileRate wins")
}

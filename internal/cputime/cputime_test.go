package cputime

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUsedGrowsWithWork(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("CPU time is not measured on " + runtime.GOOS)
	}
	before := Used()
	x := 0
	for i := range 50_000_000 {
		x += i % 7
	}
	require.Positive(t, x)
	require.Greater(t, Used(), before)
}

package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCleanServiceStaysSilent runs the bounded-cache service in-process,
// as `go run ./examples/clean` does, and requires no alert.
func TestCleanServiceStaysSilent(t *testing.T) {
	d := 30 * time.Second
	if testing.Short() {
		d = 10 * time.Second
	}
	require.Equal(t, 0, run(100*time.Millisecond, 5*time.Second, d), "a benign service was reported as leaking")
}

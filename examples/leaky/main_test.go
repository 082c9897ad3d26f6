package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLeakIsCaught runs the leaky service in-process, exactly as
// `go run ./examples/leaky` does, and requires leakguard to report the leak.
func TestLeakIsCaught(t *testing.T) {
	require.Equal(t, 0, run(100*time.Millisecond, 3*time.Minute), "the leak was not reported")
}

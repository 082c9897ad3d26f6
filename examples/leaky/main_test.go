package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLeakIsCaught runs the leaky service in-process, exactly as
// `go run ./examples/leaky` does, and requires leakguard to report the leak.
func TestLeakIsCaught(t *testing.T) {
	require.Equal(t, 0, run(100*time.Millisecond, 5*time.Second, 3*time.Minute), "the leak was not reported")
}

// TestLeakIsCapped: past maxLeak, requests retain nothing more.
func TestLeakIsCapped(t *testing.T) {
	old := maxLeak
	t.Cleanup(func() { maxLeak, sessions = old, nil })
	sessions, maxLeak = nil, 4*sessionSize
	var retained int
	for i := range 10 {
		if handleRequest(i) {
			retained++
		}
	}
	require.Equal(t, 4, retained)
	require.Len(t, sessions, 4)
}

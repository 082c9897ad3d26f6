package storedseries

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leakguard/leakguard"
)

func TestHorizon(t *testing.T) {
	for _, tc := range []struct {
		name  string
		share float64
		span  time.Duration
		want  time.Duration
	}{
		{"the default share", DefaultShare, 12 * time.Second, 4800 * time.Millisecond},
		{"a load test stretched 50 times", DefaultShare, 600 * time.Second, 240 * time.Second},
		{"never below a millisecond", DefaultShare, time.Millisecond, time.Millisecond},
		{"a single profile", DefaultShare, 0, leakguard.DefaultHorizon},
		{"no share", 0, time.Minute, leakguard.DefaultHorizon},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, Horizon(tc.share, tc.span))
		})
	}
}

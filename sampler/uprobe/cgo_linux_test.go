//go:build linux && amd64 && cgo

package uprobe

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/sampler"
	"github.com/leakguard/leakguard/sampler/uprobe/internal/cleak"
)

func hasFrame(frames []sampler.Frame, fn string) bool {
	for _, f := range frames {
		if f.Function == fn {
			return true
		}
	}
	return false
}

// TestCgoLeakInOwnProcess traces this test process (pid 0) while C code
// called through cgo leaks, and runs the samples through the detector: the
// C function is flagged and the C code that frees what it allocates is not.
func TestCgoLeakInOwnProcess(t *testing.T) {
	requireBPF(t)
	s, err := New(0)
	require.NoError(t, err)
	defer s.Close()
	// Samples are stamped a second apart whatever the loop's speed, so the
	// ten-second horizon is ten samples.
	det, err := leakguard.NewDetector(leakguard.WithHorizon(10 * time.Second))
	require.NoError(t, err)

	var alerts []leakguard.Alert
	start := time.Now()
	for i := range 60 {
		cleak.Leak(4, 4096)
		cleak.Churn(50, 4096)
		got, err := s.Sample(context.Background())
		require.NoError(t, err)
		got.Time = start.Add(time.Duration(i) * time.Second)
		alerts = append(alerts, det.Observe(got)...)
	}
	alerts = append(alerts, det.Conclude()...)
	var leakFlagged bool
	for _, a := range alerts {
		require.False(t, hasFrame(a.Frames, "cleak_churn"), "churn flagged: %v", a)
		if a.Severity == leakguard.SeverityAlert && hasFrame(a.Frames, "cleak_leak") {
			leakFlagged = true
			require.Equal(t, sampler.Native, a.Resource)
		}
	}
	require.True(t, leakFlagged, "the leaking C function is flagged: %v", alerts)
}

package leakguard

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leakguard/leakguard/sampler"
)

// TestAlertJSONIsTheContract: an Alert encodes flat, with the CLI
// contract's field names, and decodes back to itself.
func TestAlertJSONIsTheContract(t *testing.T) {
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	a := Alert{
		Severity: SeverityAlert, Confidence: 0.999, Pattern: PatternGradual, Resource: sampler.Heap,
		Stack: 42, Frames: []sampler.Frame{{Function: "main.leak", File: "main.go", Line: 7}},
		Time: at, Index: 12,
		Evidence: Evidence{PValue: 0.001, RawPValue: 1e-7, GrowthBytesPerSecond: 1024, SlopeLow: 900, SlopeHigh: 1100,
			Samples: 16, Window: 90 * time.Second, InUseBytes: 1 << 20, InUseObjects: 256, GrowthStart: at.Add(-time.Minute),
			Retention: 1, RetainedSampled: 40, EventsSampled: 80, NeededSampled: 20, GrowingFor: time.Minute,
			Horizon: 30 * time.Second, Reason: "grew", SizeRecords: 9, SizesSeen: 10},
		History: []Point{{Time: at, InUseBytes: 1 << 20, InUseObjects: 256}},
		Trend:   [2]Point{{Time: at.Add(-time.Minute)}, {Time: at, InUseBytes: 1 << 20}},
	}
	b, err := json.Marshal(a)
	require.NoError(t, err)
	var fields map[string]any
	require.NoError(t, json.Unmarshal(b, &fields))
	for _, k := range []string{"severity", "confidence", "pattern", "first_detected", "first_detected_index",
		"growth_bytes_per_second", "growth_bytes_per_second_low", "growth_bytes_per_second_high", "inuse_bytes",
		"p_value", "stack", "resource", "growth_start", "retention", "samples", "window_seconds", "process_total",
		"inuse_objects", "growth_objects_per_second", "retained_sampled", "events_sampled", "needed_sampled",
		"growing_for_seconds", "reason", "stack_id", "history", "trend", "size_records", "sizes_seen"} {
		require.Contains(t, fields, k)
	}
	require.NotContains(t, fields, "evidence", "flat, not nested")
	require.Equal(t, "alert", fields["severity"])
	require.InDelta(t, 90, fields["window_seconds"], 1e-9)

	var back Alert
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, a.Stack, back.Stack)
	require.Equal(t, a.Severity, back.Severity)
	require.Equal(t, a.Evidence, back.Evidence)
	require.Equal(t, a.History[0].InUseBytes, back.History[0].InUseBytes)
	require.True(t, a.Trend[1].Time.Equal(back.Trend[1].Time))
	require.Equal(t, a.Record(), back.Record())
}

package leakguard

import (
	"encoding/json"
	"time"

	"github.com/leakguard/leakguard/sampler"
)

// AlertRecord is an Alert as JSON carries it, flat: the schema of the
// leakguard command's `--format json` contract, which the library's Report,
// the page's JSON and expvar share, so that one alert reads the same
// wherever it comes from. Fields are only ever added.
type AlertRecord struct {
	Severity             Severity         `json:"severity"`
	Confidence           float64          `json:"confidence"`
	Pattern              PatternType      `json:"pattern"`
	FirstDetected        time.Time        `json:"first_detected"`
	FirstDetectedIndex   int              `json:"first_detected_index"`
	GrowthBytesPerSecond float64          `json:"growth_bytes_per_second"`
	InUseBytes           int64            `json:"inuse_bytes"`
	PValue               float64          `json:"p_value"`
	Stack                []sampler.Frame  `json:"stack"`
	Resource             sampler.Resource `json:"resource"`
	GrowthLow            float64          `json:"growth_bytes_per_second_low"`
	GrowthHigh           float64          `json:"growth_bytes_per_second_high"`
	GrowthStart          time.Time        `json:"growth_start"`
	Retention            float64          `json:"retention"`
	Samples              int              `json:"samples"`
	WindowSeconds        float64          `json:"window_seconds"`
	ProcessTotal         bool             `json:"process_total"`
	InUseObjects         int64            `json:"inuse_objects"`
	GrowthObjectsPerS    float64          `json:"growth_objects_per_second"`
	RetainedSampled      int64            `json:"retained_sampled"`
	EventsSampled        int64            `json:"events_sampled"`
	NeededSampled        int64            `json:"needed_sampled"`
	GrowingForSeconds    float64          `json:"growing_for_seconds"`
	Reason               string           `json:"reason,omitempty"`
	Lacks                string           `json:"lacks,omitempty"`
	StackID              uint64           `json:"stack_id"`
	RawPValue            float64          `json:"raw_p_value"`
	HorizonSeconds       float64          `json:"horizon_seconds"`
	ProvenLeaked         int64            `json:"proven_leaked,omitempty"`
	SizeRecords          int              `json:"size_records,omitempty"`
	SizesSeen            int              `json:"sizes_seen,omitempty"`
}

// Record returns the alert's flat JSON form, without its history.
func (a Alert) Record() AlertRecord {
	ev := a.Evidence
	stack := a.Frames
	if stack == nil {
		stack = []sampler.Frame{}
	}
	return AlertRecord{
		Severity:             a.Severity,
		Confidence:           a.Confidence,
		Pattern:              a.Pattern,
		FirstDetected:        a.Time.UTC(),
		FirstDetectedIndex:   a.Index,
		GrowthBytesPerSecond: ev.GrowthBytesPerSecond,
		InUseBytes:           ev.InUseBytes,
		PValue:               ev.PValue,
		Stack:                stack,
		Resource:             a.Resource,
		GrowthLow:            ev.SlopeLow,
		GrowthHigh:           ev.SlopeHigh,
		GrowthStart:          ev.GrowthStart.UTC(),
		Retention:            ev.Retention,
		Samples:              ev.Samples,
		WindowSeconds:        ev.Window.Seconds(),
		ProcessTotal:         a.Stack == TotalStack,
		InUseObjects:         ev.InUseObjects,
		GrowthObjectsPerS:    ev.GrowthObjectsPerSecond,
		RetainedSampled:      ev.RetainedSampled,
		EventsSampled:        ev.EventsSampled,
		NeededSampled:        ev.NeededSampled,
		GrowingForSeconds:    ev.GrowingFor.Seconds(),
		Reason:               ev.Reason,
		Lacks:                ev.Lacks,
		StackID:              a.Stack,
		RawPValue:            ev.RawPValue,
		HorizonSeconds:       ev.Horizon.Seconds(),
		ProvenLeaked:         ev.ProvenLeaked,
		SizeRecords:          ev.SizeRecords,
		SizesSeen:            ev.SizesSeen,
	}
}

// Alert returns the Alert a record describes (without history).
func (r AlertRecord) Alert() Alert {
	return Alert{
		Severity:   r.Severity,
		Confidence: r.Confidence,
		Pattern:    r.Pattern,
		Resource:   r.Resource,
		Stack:      r.StackID,
		Frames:     r.Stack,
		Time:       r.FirstDetected,
		Index:      r.FirstDetectedIndex,
		Evidence: Evidence{
			PValue:                 r.PValue,
			RawPValue:              r.RawPValue,
			GrowthBytesPerSecond:   r.GrowthBytesPerSecond,
			GrowthObjectsPerSecond: r.GrowthObjectsPerS,
			SlopeLow:               r.GrowthLow,
			SlopeHigh:              r.GrowthHigh,
			Samples:                r.Samples,
			Window:                 seconds(r.WindowSeconds),
			InUseBytes:             r.InUseBytes,
			InUseObjects:           r.InUseObjects,
			GrowthStart:            r.GrowthStart,
			Retention:              r.Retention,
			ProvenLeaked:           r.ProvenLeaked,
			RetainedSampled:        r.RetainedSampled,
			EventsSampled:          r.EventsSampled,
			NeededSampled:          r.NeededSampled,
			GrowingFor:             seconds(r.GrowingForSeconds),
			Horizon:                seconds(r.HorizonSeconds),
			Reason:                 r.Reason,
			Lacks:                  r.Lacks,
			SizeRecords:            r.SizeRecords,
			SizesSeen:              r.SizesSeen,
		},
	}
}

// alertJSON is the record plus what plots need.
type alertJSON struct {
	AlertRecord
	History []Point   `json:"history,omitempty"`
	Trend   *[2]Point `json:"trend,omitempty"`
}

// MarshalJSON encodes the alert as its AlertRecord, with its history and
// fitted trend for plots.
func (a Alert) MarshalJSON() ([]byte, error) {
	j := alertJSON{AlertRecord: a.Record(), History: a.History}
	if !a.Trend[0].Time.IsZero() {
		j.Trend = &a.Trend
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes what MarshalJSON encodes.
func (a *Alert) UnmarshalJSON(b []byte) error {
	var j alertJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*a = j.AlertRecord.Alert()
	a.History = j.History
	if j.Trend != nil {
		a.Trend = *j.Trend
	}
	return nil
}

package leakguard

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leakguard/leakguard/sampler"
)

// samplesFrom decodes a fuzz input into a sequence of samples. Each 11-byte
// chunk is one record: a control byte (bit 0: start a new sample; bit 1:
// bump the epoch; bit 2: repeat the previous Seq; bit 3: change Resource),
// a signed time step in seconds (zero and backwards steps occur), a stack
// (0, the reserved total, included) and an in-use value of any size and
// sign.
func samplesFrom(data []byte) []*sampler.Sample {
	var out []*sampler.Sample
	now := time.Unix(1_700_000_000, 0)
	var seq, epoch uint64 = 0, 1
	resources := []sampler.Resource{sampler.Heap, sampler.Goroutines, sampler.Native}
	r := 0
	for ; len(data) >= 11; data = data[11:] {
		ctl, step, stack := data[0], int8(data[1]), uint64(data[2]%16)
		v := int64(binary.LittleEndian.Uint64(data[3:]))
		if ctl&1 != 0 || len(out) == 0 {
			if ctl&2 != 0 {
				epoch++
			}
			if ctl&4 == 0 {
				seq++
			}
			if ctl&8 != 0 {
				r = (r + 1) % len(resources)
			}
			now = now.Add(time.Duration(step) * time.Second)
			out = append(out, &sampler.Sample{Time: now, Resource: resources[r], Rate: int64(step) * 1024, Seq: seq, Epoch: epoch, Source: "fuzz"})
		}
		s := out[len(out)-1]
		s.Records = append(s.Records, sampler.Record{
			Stack: stack, Frames: []sampler.Frame{{Function: "f"}},
			InUseBytes: v, InUseObjects: v >> 10, AllocBytes: v, AllocObjects: v >> 10,
			InUseSampled: v >> 20, AllocSampled: v >> 19,
		})
	}
	return out
}

// FuzzObserve drives the detector with adversarial sample sequences: time
// standing still or going backwards, repeated sequence numbers, epoch and
// resource changes, the reserved stack id, negative and 2^62-sized values.
// Nothing may panic, storage stays within its bound, and every alert is a
// well-formed, JSON-serialisable report with probabilities in [0, 1].
func FuzzObserve(f *testing.F) {
	chunk := func(ctl byte, step int8, stack byte, v int64) []byte {
		b := []byte{ctl, byte(step), stack}
		return binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	var leak, weird []byte
	for i := range 120 {
		leak = append(leak, chunk(1, 1, 3, int64(i)<<20)...)
		leak = append(leak, chunk(0, 0, 4, 1<<20)...)
	}
	for i := range 60 {
		weird = append(weird, chunk(byte(1|i%2*4), int8(1-i%3), byte(i), int64(1)<<62-int64(i))...)
		weird = append(weird, chunk(byte(i%16), -1, 0, math.MinInt64+int64(i))...)
	}
	f.Add(leak)
	f.Add(weird)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		const maxStacks = 4
		d, err := NewDetector(WithMaxStacks(maxStacks), WithHorizon(5*time.Second), WithMemoryLimit(1<<30))
		require.NoError(t, err)
		for _, s := range samplesFrom(data) {
			for _, a := range d.Observe(s) {
				checkAlert(t, a)
			}
			// One series per stack and resource, plus the totals.
			require.LessOrEqual(t, d.Stats().Tracked, 3*maxStacks)
		}
		_, err = json.Marshal(d.Alerts())
		require.NoError(t, err)
		d.Conclude()
		for _, a := range d.Suspects() {
			checkAlert(t, a)
		}
		_ = d.Patterns()
		_ = d.Verdict()
	})
}

func checkAlert(t *testing.T, a Alert) {
	t.Helper()
	for name, p := range map[string]float64{"Confidence": a.Confidence, "PValue": a.Evidence.PValue, "RawPValue": a.Evidence.RawPValue} {
		require.False(t, math.IsNaN(p), name)
		require.GreaterOrEqual(t, p, 0.0, name)
		require.LessOrEqual(t, p, 1.0, name)
	}
	require.False(t, math.IsNaN(a.Evidence.GrowthBytesPerSecond))
	require.NotEqual(t, SeverityNone, a.Severity)
}

// FuzzOptions checks that any option values either build a detector or
// fail with an error, never a panic.
func FuzzOptions(f *testing.F) {
	f.Add(int64(time.Second), 0.95, 0.99, 10000, int64(time.Minute), 48, 4, 64)
	f.Add(int64(-1), math.NaN(), math.Inf(1), -1, int64(0), 1<<20, 99, -5)
	f.Add(int64(0), 0.99, 0.95, 0, int64(-7), 7, 0, 0)
	f.Fuzz(func(t *testing.T, interval int64, warn, alert float64, maxStacks int, horizon int64, points, levels, queue int) {
		opts := []Option{
			WithInterval(time.Duration(interval)),
			WithConfidence(warn, alert),
			WithMaxStacks(maxStacks),
			WithHorizon(time.Duration(horizon)),
			WithHistory(points, levels),
			WithAlertQueue(queue),
			WithSampleTimeout(time.Duration(interval)),
		}
		cfg, err := newConfig(opts)
		if err != nil {
			require.NotEmpty(t, err.Error())
			return
		}
		require.Positive(t, cfg.interval)
		require.True(t, cfg.warnConf > 0 && cfg.warnConf <= cfg.alertConf && cfg.alertConf < 1)
		require.Positive(t, cfg.maxStacks)
		_, err = NewDetector(opts...)
		require.NoError(t, err)
	})
}

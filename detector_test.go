package leakguard

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leakguard/leakguard/sampler"
	"github.com/leakguard/leakguard/sampler/goroutine"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// sample builds one Sample at step i from stack → in-use bytes.
func sample(i int, epoch uint64, inuse map[uint64]int64) *sampler.Sample {
	s := &sampler.Sample{Time: t0.Add(time.Duration(i) * 200 * time.Millisecond), Resource: sampler.Heap, Seq: uint64(i + 1), Epoch: epoch, Rate: 512 << 10}
	for k, v := range inuse {
		s.Records = append(s.Records, sampler.Record{Stack: k, Frames: []sampler.Frame{{Function: fmt.Sprintf("pkg.f%d", k), File: "f.go", Line: int(k)}}, InUseBytes: v, AllocBytes: v * 4})
	}
	return s
}

func TestDetectorCatchesSteadyLeakWithin60Samples(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	d, err := NewDetector()
	require.NoError(t, err)
	var first *Alert
	for i := range 60 {
		noise := func() int64 { return int64(rng.NormFloat64() * (256 << 10)) }
		raised := d.Observe(sample(i, 0, map[uint64]int64{
			1: 8<<20 + noise(),                             // flat
			2: 1<<20 + int64(i)*(2<<20) + noise(),          // leaks 2 MiB per sample
			3: int64(min(i, 10))*(1<<20) + 4<<20 + noise(), // warms up, then flat
		}))
		for _, a := range raised {
			if a.Severity == SeverityAlert && a.Stack == 2 && first == nil {
				first = &a
			}
			require.NotEqual(t, uint64(1), a.Stack, "flat stack flagged")
			require.NotEqual(t, uint64(3), a.Stack, "warm-up flagged")
		}
	}
	require.NotNil(t, first, "steady leak not caught within 60 samples")
	require.Equal(t, "pkg.f2", first.Leaf().Function)
	require.Greater(t, first.Confidence, 0.99)
	require.InEpsilon(t, float64(2<<20)/0.2, first.Evidence.GrowthBytesPerSecond, 0.1)
	require.LessOrEqual(t, first.Evidence.SlopeLow, first.Evidence.GrowthBytesPerSecond)
	require.GreaterOrEqual(t, first.Evidence.SlopeHigh, first.Evidence.GrowthBytesPerSecond)
	require.InDelta(t, 0.25, first.Evidence.Retention, 0.05)
	require.NotEmpty(t, first.History)
	require.Equal(t, first.Index, 47+0, "a 2 MiB/sample leak is decisive at the first full window")
	require.Contains(t, first.String(), "pkg.f2")
}

func TestDetectorIgnoresRepeatedGCCycle(t *testing.T) {
	d, err := NewDetector()
	require.NoError(t, err)
	for i := range 200 {
		s := sample(i, 0, map[uint64]int64{1: 1 << 20})
		s.Seq = 7 // the same GC cycle every time: no new information
		s.Records[0].InUseBytes = int64(1+i) << 20
		d.Observe(s)
	}
	require.Empty(t, d.Alerts(), "repeated data must not count as persistence")
	st := d.Stats()
	require.Equal(t, 1, st.Tracked)
}

func TestDetectorRestartsSeriesOnEpochChange(t *testing.T) {
	d, err := NewDetector()
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(3, 3))
	// Each epoch is flat at a higher level (the rate changed, so every
	// estimate jumps): stitched together it would look like growth.
	for i := range 300 {
		epoch := uint64(i / 30)
		d.Observe(sample(i, epoch, map[uint64]int64{1: int64(epoch)<<22 + int64(rng.NormFloat64()*1000)}))
	}
	require.Empty(t, d.Alerts())
	// And time going backwards also restarts rather than misreads.
	for i := range 100 {
		d.Observe(sample(100-i, 99, map[uint64]int64{1: int64(i) << 20}))
	}
	require.Empty(t, d.Alerts())
}

func TestDetectorAbsentStackCountsAsZero(t *testing.T) {
	d, err := NewDetector()
	require.NoError(t, err)
	for i := range 100 {
		m := map[uint64]int64{1: 1 << 20}
		if i < 50 {
			m[2] = int64(i+1) << 20 // grows, then is freed and vanishes from the profile
		}
		d.Observe(sample(i, 0, m))
	}
	var p *Pattern
	for _, x := range d.Patterns() {
		if x.Stack == 2 {
			p = &x
		}
	}
	require.NotNil(t, p)
	require.Equal(t, 100, p.Samples, "the stack keeps being tracked while absent")
}

func TestDetectorBoundsTrackedStacks(t *testing.T) {
	d, err := NewDetector(WithMaxStacks(100))
	require.NoError(t, err)
	for i := range 50 {
		m := make(map[uint64]int64)
		for k := range 20 {
			m[uint64(i*20+k+1)] = 1 << 10 // 20 new stacks every sample
		}
		d.Observe(sample(i, 0, m))
	}
	st := d.Stats()
	require.Equal(t, 100, st.Tracked)
	require.Equal(t, uint64(1000-100), st.Evicted)
	require.Equal(t, 50, st.Samples)
}

// TestDetectorPatternClassification checks the shape names on labelled
// synthetic leaks with realistic noise (σ = 10 KB per sample, growth of the
// order of σ per sample).
func TestDetectorPatternClassification(t *testing.T) {
	const sigma = 1e4
	tests := []struct {
		name string
		f    func(i int) float64
		want PatternType
	}{
		{"gradual", func(i int) float64 { return float64(i) * 2 * sigma }, PatternGradual},
		// The detector classifies values without their times, and a rising
		// rate per sample may be collections thinning out (see classify).
		{"accelerating", func(i int) float64 { return float64(i*i) * sigma / 20 }, PatternUnknown},
		{"burst", func(i int) float64 { return float64(i/16) * 40 * sigma }, PatternBurst},
		{"conditional", func(i int) float64 { return float64(i/8) * 24 * sigma }, PatternConditional},
		{"periodic", func(i int) float64 { return float64(i)*2*sigma + float64(i%10)*3*sigma }, PatternPeriodic},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 5))
			d, err := NewDetector()
			require.NoError(t, err)
			for i := range 240 {
				s := sample(i, 0, map[uint64]int64{1: 1<<20 + int64(tc.f(i)+rng.NormFloat64()*sigma)})
				s.Rate = 1
				d.Observe(s)
			}
			var got *Alert
			for _, a := range d.Alerts() {
				if a.Stack == 1 {
					got = &a
				}
			}
			require.NotNil(t, got, "not detected")
			require.Equal(t, tc.want, got.Pattern)
		})
	}
}

func TestOptionsRejected(t *testing.T) {
	tests := []struct {
		name string
		opt  Option
		want string
	}{
		{"interval", WithInterval(0), "WithInterval"},
		{"confidence range", WithConfidence(0.95, 1), "WithConfidence"},
		{"confidence order", WithConfidence(0.99, 0.95), "WithConfidence"},
		{"max stacks", WithMaxStacks(0), "WithMaxStacks"},
		{"history points", WithHistory(2, 4), "WithHistory"},
		{"history levels", WithHistory(64, 0), "WithHistory"},
		{"window", WithWindow(4), "WithWindow"},
		{"sampler", WithSampler(), "WithSampler"},
		{"nil sampler", WithSampler(nil), "WithSampler"},
		{"callback", OnAlert(nil), "OnAlert"},
		{"logger", WithLogger(nil), "WithLogger"},
		{"queue", WithAlertQueue(0), "WithAlertQueue"},
		{"timeout", WithSampleTimeout(-1), "WithSampleTimeout"},
		{"nil option", nil, "nil Option"},
		{"mem profile rate", WithMemProfileRate(0), "WithMemProfileRate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewDetector(tc.opt)
			require.ErrorContains(t, err, tc.want)
			g, err := Start(tc.opt)
			require.ErrorContains(t, err, tc.want)
			require.Nil(t, g)
		})
	}
	_, err := NewDetector(WithWindow(64), WithHistory(32, 2))
	require.ErrorContains(t, err, "WithHistory")
}

func TestSeverityText(t *testing.T) {
	for _, s := range []Severity{SeverityNone, SeverityWarning, SeverityAlert} {
		b, err := s.MarshalText()
		require.NoError(t, err)
		var back Severity
		require.NoError(t, back.UnmarshalText(b))
		require.Equal(t, s, back)
	}
	var s Severity
	require.Error(t, s.UnmarshalText([]byte("severe")))
}

// BenchmarkObserve measures one analysis cycle (one Sample) at 100, 1,000
// and 10,000 live stacks, in the steady state: a quarter of the stacks
// change every sample, and tests fall due on the detector's schedule.
func BenchmarkObserve(b *testing.B) {
	for _, stacks := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("stacks=%d", stacks), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(9, uint64(stacks)))
			d, err := NewDetector(WithMaxStacks(stacks + 1))
			require.NoError(b, err)
			s := &sampler.Sample{Resource: sampler.Heap, Rate: 512 << 10, Records: make([]sampler.Record, stacks)}
			frames := []sampler.Frame{{Function: "f"}}
			step := func(i int) {
				s.Time = t0.Add(time.Duration(i) * 10 * time.Second)
				s.Seq = uint64(i + 1)
				for k := range s.Records {
					v := int64(k) << 12
					if k%4 == i%4 {
						v += int64(rng.IntN(1 << 20))
					}
					if k%100 == 0 {
						v += int64(i) << 10 // a few growing stacks keep the tests busy
					}
					s.Records[k] = sampler.Record{Stack: uint64(k + 1), Frames: frames, InUseBytes: v}
				}
				d.Observe(s)
			}
			for i := range 200 { // warm up past the first windows
				step(i)
			}
			i := 200
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				step(i)
				i++
			}
			b.ReportMetric(float64(d.Stats().StorageBytes)/float64(stacks), "storageB/stack")
		})
	}
}

//go:noinline
func stuckHandler(ch chan struct{}) { <-ch }

// TestDetectorFindsGoroutineLeak runs the real goroutine sampler over a
// process that starts goroutines which never finish, a few per sample.
func TestDetectorFindsGoroutineLeak(t *testing.T) {
	gs, err := goroutine.New()
	require.NoError(t, err)
	defer gs.Close()
	d, err := NewDetector()
	require.NoError(t, err)
	release := make(chan struct{})
	defer close(release)
	var found *Alert
	for i := 0; i < 120 && found == nil; i++ {
		for range 3 {
			go stuckHandler(release)
		}
		s, err := gs.Sample(context.Background())
		require.NoError(t, err)
		s.Time = t0.Add(time.Duration(i) * time.Second)
		for _, a := range d.Observe(s) {
			if a.Severity == SeverityAlert && a.Stack != TotalStack {
				found = &a
			}
		}
	}
	require.NotNil(t, found, "accumulating goroutines not reported")
	require.Equal(t, sampler.Goroutines, found.Resource)
	require.True(t, strings.HasSuffix(found.Frames[len(found.Frames)-1].Function, ".stuckHandler"))
	require.Contains(t, found.String(), "goroutines")
}

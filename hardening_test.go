package leakguard

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/leakguard/leakguard/leaktest"
	"github.com/leakguard/leakguard/sampler"
	"github.com/leakguard/leakguard/sampler/heap"
)

// TestDetectorLeaksNothingPerCycle holds leakguard to its own standard: in
// the steady state (histories full, no stack escalating) an analysis cycle
// retains nothing.
func TestDetectorLeaksNothingPerCycle(t *testing.T) {
	const stacks = 200
	d, err := NewDetector()
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(8, 8))
	s := &sampler.Sample{Resource: sampler.Heap, Rate: 512 << 10, Records: make([]sampler.Record, stacks)}
	frames := []sampler.Frame{{Function: "pkg.handler", File: "h.go", Line: 1}}
	born := make([]int64, stacks)
	i := 0
	cycle := func() {
		s.Time = t0.Add(time.Duration(i) * 10 * time.Second)
		s.Seq = uint64(i + 1)
		for k := range s.Records {
			live := int64(k%50) + rng.Int64N(4)
			born[k] += rng.Int64N(4)
			born[k] = max(born[k], live)
			s.Records[k] = sampler.Record{Stack: uint64(k + 1), Frames: frames, InUseSampled: live, AllocSampled: born[k], InUseBytes: live << 16}
		}
		d.Observe(s)
		i++
	}
	for range DefaultHistory << (DefaultLevels - 1) { // every level's buffer full
		cycle()
	}
	leaktest.Check(t, cycle, leaktest.HeapOnly())
}

// TestStartStopLeaksNothing starts and stops a Guard on the runtime heap
// profile repeatedly: no goroutine or heap is left behind.
func TestStartStopLeaksNothing(t *testing.T) {
	defer goleak.VerifyNone(t)
	leaktest.Check(t, func() {
		g, err := Start(WithInterval(time.Hour), WithLogger(quietLogger()))
		require.NoError(t, err)
		require.NoError(t, g.Stop())
	}, leaktest.Rounds(1, 16), leaktest.CallsPerRound(2))
}

// TestTwoGuardsAreIndependent documents Start twice in one process: two
// independent Guards, each stopping on its own.
func TestTwoGuardsAreIndependent(t *testing.T) {
	defer goleak.VerifyNone(t)
	a, b := &scriptedSampler{}, &scriptedSampler{}
	ga, err := Start(WithSampler(a), WithInterval(time.Millisecond), WithLogger(quietLogger()))
	require.NoError(t, err)
	gb, err := Start(WithSampler(b), WithInterval(time.Hour), WithLogger(quietLogger()))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(ga.Alerts()) > 0 }, time.Minute, time.Millisecond)
	require.NoError(t, ga.Stop())
	require.Empty(t, gb.Alerts(), "the other Guard's series are its own")
	require.NoError(t, gb.Stop())
	require.Equal(t, int32(1), a.closed.Load())
	require.Equal(t, int32(1), b.closed.Load())
}

// TestDetectorSurvivesHostileValues feeds values at the edge of int64,
// steps of 2^62 bytes and stacks 1,000 frames deep: no panic, every
// probability finite and in [0, 1], every result encodable as JSON.
func TestDetectorSurvivesHostileValues(t *testing.T) {
	deep := make([]sampler.Frame, 1000)
	for i := range deep {
		deep[i] = sampler.Frame{Function: "pkg.recurse", File: "r.go", Line: i}
	}
	tests := []struct {
		name  string
		value func(i int) int64
	}{
		{"steps of 2^62", func(i int) int64 { return int64(i%2) << 62 }},
		{"growing by 2^62 to the limit", func(i int) int64 { return int64(min(i, 1)) << 62 * 1 }},
		{"max int64", func(i int) int64 { return math.MaxInt64 - int64(i%3) }},
		{"min int64", func(i int) int64 { return math.MinInt64 + int64(i) }},
		{"negative growth", func(i int) int64 { return -int64(i) << 40 }},
		{"growth near the top", func(i int) int64 { return math.MaxInt64/2 + int64(i)<<50 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := NewDetector(WithHorizon(time.Minute), WithMemoryLimit(1<<40))
			require.NoError(t, err)
			for i := range 300 {
				s := &sampler.Sample{Time: t0.Add(time.Duration(i) * time.Second), Resource: sampler.Heap, Rate: 1, Seq: uint64(i + 1),
					Records: []sampler.Record{{Stack: 1, Frames: deep, InUseBytes: tc.value(i), InUseObjects: tc.value(i), AllocBytes: tc.value(i),
						InUseSampled: tc.value(i), AllocSampled: tc.value(i)}}}
				require.NotPanics(t, func() { d.Observe(s) })
			}
			for _, p := range d.Patterns() {
				require.False(t, math.IsNaN(p.Confidence) || p.Confidence < 0 || p.Confidence > 1, "confidence %v", p.Confidence)
				_, err := json.Marshal(p)
				require.NoError(t, err)
			}
			_, err = json.Marshal(d.Alerts())
			require.NoError(t, err)
			_, err = json.Marshal(d.report(DefaultReportTop))
			require.NoError(t, err)
		})
	}
}

var deepRetained [][]byte

//go:noinline
func retainDeep(depth int) {
	if depth > 0 {
		retainDeep(depth - 1)
		return
	}
	deepRetained = append(deepRetained, make([]byte, 4096))
}

// TestDeepStacksAreBounded allocates from 1,000 frames deep: the runtime
// keeps a bounded prefix of the stack, so the frames leakguard stores for
// it are bounded too.
func TestDeepStacksAreBounded(t *testing.T) {
	old := runtime.MemProfileRate
	runtime.MemProfileRate = 1
	defer func() { runtime.MemProfileRate = old; deepRetained = nil }()
	retainDeep(1000)
	hs, err := heap.New(heap.WithForceGC(true))
	require.NoError(t, err)
	defer hs.Close()
	s, err := hs.Sample(context.Background())
	require.NoError(t, err)
	found := false
	for _, r := range s.Records {
		if len(r.Frames) > 0 && r.Frames[0].Function == "github.com/leakguard/leakguard.retainDeep" {
			found = true
			require.Less(t, len(r.Frames), 1000, "frames are bounded by the runtime's profile depth")
		}
	}
	require.True(t, found)
	d, err := NewDetector()
	require.NoError(t, err)
	require.NotPanics(t, func() { d.Observe(s) })
}

//go:noinline
func ringEntry(size int) []byte { return make([]byte, size) }

// TestMemProfileRateChangedMidRun changes runtime.MemProfileRate while a
// bounded workload runs under the real heap sampler: the sampler starts a
// new epoch, the detector restarts its series, and nothing is flagged —
// although every estimate jumps when the rate changes.
func TestMemProfileRateChangedMidRun(t *testing.T) {
	old := runtime.MemProfileRate
	defer func() { runtime.MemProfileRate = old }()
	runtime.MemProfileRate = 512 << 10
	hs, err := heap.New(heap.WithForceGC(true))
	require.NoError(t, err)
	defer hs.Close()
	d, err := NewDetector()
	require.NoError(t, err)
	ring := make([][]byte, 64)
	var epochs []uint64
	steps := 120
	if testing.Short() {
		steps = 100
	}
	for i := range steps {
		if i == steps/2 {
			runtime.MemProfileRate = 4 << 10 // someone else's choice, mid-run
		}
		for j := range 8 {
			ring[(8*i+j)%len(ring)] = ringEntry(32 << 10)
		}
		s, err := hs.Sample(context.Background())
		require.NoError(t, err)
		s.Time = t0.Add(time.Duration(i) * DefaultInterval)
		if len(epochs) == 0 || epochs[len(epochs)-1] != s.Epoch {
			epochs = append(epochs, s.Epoch)
		}
		d.Observe(s)
	}
	runtime.KeepAlive(ring)
	require.Len(t, epochs, 2, "one new epoch, at the change")
	for _, a := range d.Alerts() {
		require.NotEqual(t, SeverityAlert, a.Severity, "false alarm on %v", a.Frames)
	}
	for _, p := range d.Patterns() {
		require.LessOrEqual(t, p.Samples, steps-steps/2, "series restarted at the change")
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestAlertHistoryIsBounded churns stacks through a small detector, each
// growing long enough to escalate before it is evicted: the kept alerts
// stay within the configured bound.
func TestAlertHistoryIsBounded(t *testing.T) {
	const maxStacks = 2
	d, err := NewDetector(WithMaxStacks(maxStacks), WithHorizon(5*time.Second), WithHistory(16, 1))
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(4, 4))
	raised := 0
	for phase := range 60 {
		for i := range 40 {
			s := &sampler.Sample{Time: t0.Add(time.Duration(phase*40+i) * time.Second), Resource: sampler.Heap, Rate: 1, Seq: uint64(phase*40 + i + 1)}
			for k := range maxStacks {
				n := int64(4*i) + rng.Int64N(2)
				s.Records = append(s.Records, sampler.Record{Stack: uint64(phase*maxStacks + k + 1), InUseSampled: n, AllocSampled: n, InUseBytes: n << 20})
			}
			raised += len(d.Observe(s))
		}
	}
	require.Greater(t, raised, 6*(maxStacks+1), "the scenario must escalate more often than the bound")
	require.LessOrEqual(t, len(d.Alerts()), 6*(maxStacks+1))
}

func TestWithMemProfileRateAppliesAtStart(t *testing.T) {
	defer goleak.VerifyNone(t)
	old := runtime.MemProfileRate
	defer func() { runtime.MemProfileRate = old }()
	runtime.MemProfileRate = 512 << 10
	_, err := Start(WithMemProfileRate(-1))
	require.ErrorContains(t, err, "WithMemProfileRate")
	require.Equal(t, 512<<10, runtime.MemProfileRate, "a rejected option changes nothing")
	g, err := Start(WithMemProfileRate(32<<10), WithInterval(time.Hour), WithLogger(quietLogger()))
	require.NoError(t, err)
	require.Equal(t, 32<<10, runtime.MemProfileRate)
	require.NoError(t, g.Stop())
	require.Equal(t, 32<<10, runtime.MemProfileRate, "Stop does not undo it")

	// Without the option, the runtime's default is lowered to
	// DefaultMemProfileRate and any other rate kept.
	runtime.MemProfileRate = 512 << 10
	g, err = Start(WithInterval(time.Hour))
	require.NoError(t, err)
	require.NoError(t, g.Stop())
	require.Equal(t, DefaultMemProfileRate, runtime.MemProfileRate)
	runtime.MemProfileRate = 8 << 10
	g, err = Start(WithInterval(time.Hour))
	require.NoError(t, err)
	require.NoError(t, g.Stop())
	require.Equal(t, 8<<10, runtime.MemProfileRate, "a rate the program chose is kept")
	runtime.MemProfileRate = 512 << 10
	g, err = Start(WithInterval(time.Hour), WithMemProfileRate(0))
	require.NoError(t, err)
	require.NoError(t, g.Stop())
	require.Equal(t, 512<<10, runtime.MemProfileRate, "WithMemProfileRate(0) leaves it alone")
}

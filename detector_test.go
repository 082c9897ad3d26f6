package leakguard

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leakguard/leakguard/internal/cputime"
	"github.com/leakguard/leakguard/sampler"
	"github.com/leakguard/leakguard/sampler/goroutine"
)

// horizon4s is the horizon of the table tests: 20 samples at sample's 200 ms.
const horizon4s = 4 * time.Second

// churn returns a stationary live count around mean with its cumulative
// births: each sample some objects die and as many (on average) are born.
type churner struct {
	rng        *rand.Rand
	live, born int64
}

func (c *churner) step(mean int64) (int64, int64) {
	deaths := int64(0)
	for range c.live {
		if c.rng.IntN(4) == 0 {
			deaths++
		}
	}
	births := int64(c.rng.IntN(int(mean/2) + 1))
	c.live += births - deaths
	c.born += births
	return c.live, c.born
}

// counts builds one Sample at step i (200 ms apart) from stack → {live, born}
// sampled objects of 1 KiB each.
func counts(i int, epoch uint64, stacks map[uint64][2]int64) *sampler.Sample {
	s := &sampler.Sample{Time: t0.Add(time.Duration(i) * 200 * time.Millisecond), Resource: sampler.Heap, Seq: uint64(i + 1), Epoch: epoch, Rate: 512 << 10}
	for k, v := range stacks {
		s.Records = append(s.Records, sampler.Record{Stack: k, Frames: []sampler.Frame{{Function: fmt.Sprintf("pkg.f%d", k), File: "f.go", Line: int(k)}},
			InUseSampled: v[0], AllocSampled: v[1], InUseObjects: v[0] * 512, InUseBytes: v[0] << 19, AllocObjects: v[1] * 512, AllocBytes: v[1] << 19})
	}
	return s
}

func TestDetectorAlertsOnceGrowthOutlastsTheHorizon(t *testing.T) {
	d, err := NewDetector(WithHorizon(horizon4s))
	require.NoError(t, err)
	flat := &churner{rng: rand.New(rand.NewPCG(1, 1))}
	var first *Alert
	var suspectBeforeAlert bool
	for i := range 80 {
		fl, fb := flat.step(40)
		warm := int64(min(i, 15)) * 10 // fills 150 objects within 3 s, then stays
		raised := d.Observe(counts(i, 0, map[uint64][2]int64{
			1: {fl, fb},
			2: {int64(3 * (i + 1)), int64(3 * (i + 1))}, // retains 3 per sample
			3: {warm, warm},
		}))
		for _, a := range raised {
			require.Equal(t, uint64(2), a.Stack, "only the leak is flagged: %v", a)
			if a.Severity == SeverityAlert && first == nil {
				first = &a
			}
		}
		if first == nil {
			for _, s := range d.Suspects() {
				if s.Stack == 2 {
					suspectBeforeAlert = true
					require.NotEmpty(t, s.Evidence.Lacks)
				}
			}
		}
	}
	require.True(t, suspectBeforeAlert, "the leak is a suspect while younger than the horizon")
	require.NotNil(t, first, "the leak is not caught")
	require.Equal(t, "pkg.f2", first.Leaf().Function)
	require.Greater(t, first.Confidence, 0.99)
	require.Greater(t, first.Index, 20, "an alert needs a history longer than the horizon")
	require.Less(t, first.Index, 30, "a leak this strong needs only a few blocks past the horizon, not one and a half horizons")
	require.InEpsilon(t, 3*512*1024/0.2, first.Evidence.GrowthBytesPerSecond, 0.15)
	require.LessOrEqual(t, first.Evidence.SlopeLow, first.Evidence.GrowthBytesPerSecond)
	require.GreaterOrEqual(t, first.Evidence.SlopeHigh, first.Evidence.GrowthBytesPerSecond)
	require.InDelta(t, 1, first.Evidence.Retention, 0.01)
	require.Positive(t, first.Evidence.RetainedSampled)
	require.Equal(t, first.Evidence.RetainedSampled, first.Evidence.EventsSampled, "pure retention: every event outside the horizon is a birth")
	require.NotEmpty(t, first.Evidence.Reason)
	require.NotEmpty(t, first.History)
	require.Contains(t, first.String(), "pkg.f2")
	v := d.Verdict()
	require.False(t, v.Inconclusive)
	require.Equal(t, 1, v.Alerts)
}

// TestBurstBetweenLooksAlertsAtOnce: a stack that grew for one horizon,
// kept still, and then retains a burst (a map whose tables split together
// as it doubles) is alerted at the samples of the burst, between looks —
// not at the next look, which comes ever later as the samples accumulate.
func TestBurstBetweenLooksAlertsAtOnce(t *testing.T) {
	d, err := NewDetector(WithHorizon(horizon4s))
	require.NoError(t, err)
	flat := &churner{rng: rand.New(rand.NewPCG(3, 3))}
	const burst = 60
	var alert *Alert
	lookAt := -1
	for i := range 100 {
		fl, fb := flat.step(40)
		live := int64(min(i, 20)) * 10 // one horizon of growth, then still
		if i >= burst {
			live += int64(i-burst+1) * 15
		}
		for _, a := range d.Observe(counts(i, 0, map[uint64][2]int64{1: {fl, fb}, 2: {live, live}})) {
			require.Equal(t, uint64(2), a.Stack, "only the map is flagged: %v", a)
			if a.Severity == SeverityAlert && alert == nil {
				alert = &a
				f := d.families[sampler.Heap]
				if f.lookedAt == f.n {
					lookAt = i
				}
			}
		}
	}
	require.NotNil(t, alert, "the burst is not caught")
	require.Equal(t, -1, lookAt, "the alert waited for a look")
	require.Less(t, alert.Index, burst+6, "a burst of 15 retained sampled objects a sample is decided within a few samples")
	require.GreaterOrEqual(t, alert.Evidence.RetainedSampled, alert.Evidence.NeededSampled)
	require.Greater(t, alert.Confidence, DefaultAlertConfidence)
}

// TestDetectorDecidesOnEvidence: twenty profiles are enough when they hold
// hundreds of retained sampled objects; the horizon is 40 % of the series.
func TestDetectorDecidesOnEvidence(t *testing.T) {
	d, err := NewDetector(WithHorizon(time.Duration(0.4 * 19 * 200 * float64(time.Millisecond))))
	require.NoError(t, err)
	for i := range 20 {
		d.Observe(counts(i, 0, map[uint64][2]int64{1: {int64(20 * (i + 1)), int64(20 * (i + 1))}, 2: {100, 100}}))
	}
	d.Conclude()
	flagged := d.Flagged()
	require.Len(t, flagged, 1)
	require.Equal(t, uint64(1), flagged[0].Stack)
	require.Equal(t, SeverityAlert, flagged[0].Severity)
}

// TestSuspectSaysWhatItLacks: a suspect younger than the horizon lacks
// time; one that has grown for longer lacks evidence outside the horizon's
// window, and says so rather than counting time it already has.
func TestSuspectSaysWhatItLacks(t *testing.T) {
	for _, tc := range []struct {
		name           string
		samples, every int // profiles, 200 ms apart; one sampled object retained every so many
		want           string
	}{
		{"younger than the horizon", 12, 1, "of the 4s horizon"},
		{"older than the horizon", 40, 3, "longer than the 4s horizon; of them, fewer than the about 9 that 0.99 needs lie outside every horizon-long window"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := NewDetector(WithHorizon(4 * time.Second))
			require.NoError(t, err)
			// Significant growth; at one object every third profile too
			// slow to show enough outside a 4 s window within 8 s.
			for i := range tc.samples {
				kept := int64(i/tc.every + 1)
				d.Observe(counts(i, 0, map[uint64][2]int64{1: {kept, kept}}))
			}
			require.Empty(t, d.Flagged(), "the slow growth must stay a suspect")
			suspects := d.Suspects()
			require.Len(t, suspects, 1)
			require.Contains(t, suspects[0].Evidence.Lacks, tc.want)
		})
	}
}

// TestSuspectIsDatedWhenItBecameOne: a stack that stays a suspect look
// after look keeps the time and index of the first of them, as an alert
// keeps those of the sample it was raised at; its evidence is the newest.
func TestSuspectIsDatedWhenItBecameOne(t *testing.T) {
	d, err := NewDetector(WithHorizon(time.Minute))
	require.NoError(t, err)
	first := -1
	var firstTime time.Time
	var retained []int64
	for i := range 40 { // 8 s of steady growth against a one-minute horizon
		s := counts(i, 0, map[uint64][2]int64{1: {int64(i + 1), int64(i + 1)}})
		d.Observe(s)
		suspects := d.Suspects()
		if first < 0 && len(suspects) > 0 {
			first, firstTime = i, s.Time
		}
		if first >= 0 {
			require.Len(t, suspects, 1, "sample %d: the growth goes on, so the stack stays a suspect", i)
			require.Equal(t, first, suspects[0].Index)
			require.True(t, firstTime.Equal(suspects[0].Time))
			retained = append(retained, suspects[0].Evidence.RetainedSampled)
		}
	}
	require.GreaterOrEqual(t, first, 0, "steady growth must become a suspect")
	require.Greater(t, retained[len(retained)-1], retained[0], "the evidence is the newest look's")
}

// TestSuspectAlertsAreNotAlerts: WithSuspectAlerts sends suspects to
// OnAlert, but a suspect is no alert: Alerts, Flagged, the Verdict and the
// Report's counts by severity must not take one for a flag.
func TestSuspectAlertsAreNotAlerts(t *testing.T) {
	d, err := NewDetector(WithHorizon(time.Minute), WithSuspectAlerts())
	require.NoError(t, err)
	var raised []Alert
	for i := range 40 { // 8 s of steady growth against a one-minute horizon
		raised = append(raised, d.Observe(counts(i, 0, map[uint64][2]int64{1: {int64(i + 1), int64(i + 1)}}))...)
	}
	d.Conclude()
	require.Len(t, raised, 1, "the suspect reaches OnAlert once")
	require.Equal(t, SeveritySuspect, raised[0].Severity)
	require.Len(t, d.Suspects(), 1)
	require.Empty(t, d.Alerts(), "a suspect is not an alert")
	require.Empty(t, d.Flagged())
	v := d.Verdict()
	require.Zero(t, v.Alerts)
	require.Equal(t, 1, v.Suspects)
	require.True(t, v.Inconclusive, "a suspect alone decides nothing")
	rep := d.report(DefaultReportTop)
	require.Empty(t, rep.Alerts)
	require.Zero(t, rep.AlertsBySeverity[SeveritySuspect])
	require.Len(t, rep.Suspects, 1)
}

// TestAlertsHaveWhatTheySayTheyNeed: an alert's NeededSampled is the rise
// the test that raised it needed, at the share of the budget and the
// correction of the look that raised it — the final look of a stored
// series included, which has most of the budget — so no alert retains
// fewer sampled objects than it says it needed.
func TestAlertsHaveWhatTheySayTheyNeed(t *testing.T) {
	var alerts int
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 3))
		d, err := NewDetector(WithHorizon(time.Duration(0.4*59*200)*time.Millisecond), WithSeries(60))
		require.NoError(t, err)
		flat := &churner{rng: rand.New(rand.NewPCG(seed, 4))}
		var kept int64
		for i := range 60 {
			if rng.IntN(2) == 0 { // a slow leak: about 30 sampled objects over the series
				kept++
			}
			fl, fb := flat.step(40)
			d.Observe(counts(i, 0, map[uint64][2]int64{1: {fl, fb}, 2: {kept, kept}}))
		}
		d.Conclude()
		for _, a := range d.Flagged() {
			alerts++
			require.GreaterOrEqual(t, a.Evidence.RetainedSampled, a.Evidence.NeededSampled, "seed %d: %v", seed, a.Evidence)
			require.Contains(t, a.Evidence.Reason, "the 4.7s horizon", "the horizon is shown rounded, as elsewhere")
		}
	}
	require.Positive(t, alerts, "some of these leaks are flagged")
}

func TestDetectorVerdictSaysWhenNothingCouldBeDecided(t *testing.T) {
	d, err := NewDetector(WithHorizon(time.Minute))
	require.NoError(t, err)
	for i := range 20 { // 4 s of profiles against a one-minute horizon
		d.Observe(counts(i, 0, map[uint64][2]int64{1: {int64(i + 1), int64(i + 1)}}))
	}
	d.Conclude()
	v := d.Verdict()
	require.True(t, v.Inconclusive)
	require.Zero(t, v.Looks)
	require.Contains(t, v.Reason, "more than the 1m0s horizon")

	one, err := NewDetector()
	require.NoError(t, err)
	one.Observe(counts(0, 0, map[uint64][2]int64{1: {5, 5}}))
	one.Conclude()
	require.True(t, one.Verdict().Inconclusive)
}

// TestLooksThatCannotPassSpendNothing: stacks that hold still give tests
// no event, so no look can reject anything; those looks leave the budget
// to the first one that could. A leak that starts after three horizons of
// stillness is then alerted on the first look's share, half the budget.
func TestLooksThatCannotPassSpendNothing(t *testing.T) {
	d, err := NewDetector(WithHorizon(horizon4s))
	require.NoError(t, err)
	still := map[uint64][2]int64{1: {40, 40}, 2: {7, 7}}
	for i := range 60 { // 12 s: three horizons
		d.Observe(counts(i, 0, still))
	}
	v := d.Verdict()
	require.Zero(t, v.Looks, "no look could pass: none spent budget")
	require.False(t, v.Inconclusive, "the history allowed tests")
	var alert *Alert
	for i := 60; i < 200 && alert == nil; i++ {
		still[3] = [2]int64{int64(3 * (i - 59)), int64(3 * (i - 59))}
		for _, a := range d.Observe(counts(i, 0, still)) {
			if a.Severity == SeverityAlert {
				alert = &a
			}
		}
	}
	require.NotNil(t, alert)
	require.Equal(t, uint64(3), alert.Stack)
	require.Equal(t, uint64(1), d.Verdict().Looks, "the alert came at the first look that spent budget")
}

func TestDetectorAlertsEarlyBeforeTheMemoryLimit(t *testing.T) {
	// 64 sampled objects standing for 512 KiB each per sample, against a
	// 2 GiB limit: reached in about 13 s (64 samples), well before a
	// one-minute horizon could confirm the growth.
	d, err := NewDetector(WithHorizon(time.Minute), WithMemoryLimit(2<<30))
	require.NoError(t, err)
	var got *Alert
	for i := 0; i < 60 && got == nil; i++ {
		for _, a := range d.Observe(counts(i, 0, map[uint64][2]int64{1: {int64(64 * (i + 1)), int64(64 * (i + 1))}})) {
			got = &a
		}
	}
	require.NotNil(t, got, "no early alert")
	require.Equal(t, SeverityAlert, got.Severity)
	require.Contains(t, got.Evidence.Reason, "memory limit")
	require.Less(t, got.Index, 20)
}

func TestDetectorIgnoresRepeatedGCCycle(t *testing.T) {
	d, err := NewDetector(WithHorizon(horizon4s))
	require.NoError(t, err)
	for i := range 200 {
		s := counts(i, 0, map[uint64][2]int64{1: {int64(1 + i), int64(1 + i)}})
		s.Seq = 7 // the same GC cycle every time: no new information
		d.Observe(s)
	}
	require.Empty(t, d.Alerts(), "repeated data must not count as persistence")
	require.Equal(t, 1, d.Stats().Tracked)
}

func TestDetectorRestartsSeriesOnEpochChange(t *testing.T) {
	d, err := NewDetector(WithHorizon(horizon4s))
	require.NoError(t, err)
	c := &churner{rng: rand.New(rand.NewPCG(3, 3))}
	// Each epoch is flat at a higher level (the rate changed, so every count
	// jumps): stitched together it would look like growth.
	for i := range 300 {
		epoch := uint64(i / 30)
		l, b := c.step(20)
		d.Observe(counts(i, epoch, map[uint64][2]int64{1: {l + int64(epoch)*100, b + int64(epoch)*100}}))
	}
	require.Empty(t, d.Alerts())
	// And time going backwards also restarts rather than misreads.
	for i := range 100 {
		d.Observe(counts(100-i, 99, map[uint64][2]int64{1: {int64(i), int64(i)}}))
	}
	require.Empty(t, d.Alerts())
}

func TestDetectorAbsentStackCountsAsZero(t *testing.T) {
	d, err := NewDetector(WithHorizon(horizon4s))
	require.NoError(t, err)
	for i := range 100 {
		m := map[uint64][2]int64{1: {10, 10}}
		if i < 15 {
			m[2] = [2]int64{int64(i + 1), int64(i + 1)} // grows for 3 s, then is freed and vanishes
		}
		d.Observe(counts(i, 0, m))
	}
	var p *Pattern
	for _, x := range d.Patterns() {
		if x.Stack == 2 {
			p = &x
		}
	}
	require.NotNil(t, p)
	require.Equal(t, 100, p.Samples, "the stack keeps being tracked while absent")
	require.Empty(t, d.Alerts(), "growth that ended within the horizon is benign")
}

// TestDetectorBoundsTrackedStacks streams 1,000 distinct stacks, 20 new
// ones a sample, through a Detector bounded at 100. Once full, it admits a
// new stack only when the stack grew since it was first seen: flat stacks
// leave the tracked ones alone, growing ones take the place of the least
// recently changed.
func TestDetectorBoundsTrackedStacks(t *testing.T) {
	for _, tc := range []struct {
		name    string
		grow    bool
		evicted uint64
		newest  uint64 // the newest stack, tracked or not
	}{
		{"flat stacks are not admitted", false, 0, 0},
		{"growing stacks are", true, 1000 - 100 - 20, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := NewDetector(WithMaxStacks(100))
			require.NoError(t, err)
			m := make(map[uint64][2]int64)
			for i := range 50 {
				clear(m)
				for k := range 20 {
					m[uint64(i*20+k+1)] = [2]int64{1, 1} // 20 new stacks every sample
					if tc.grow && i > 0 {
						m[uint64((i-1)*20+k+1)] = [2]int64{2, 2} // last sample's grew
					}
				}
				d.Observe(counts(i, 0, m))
			}
			st := d.Stats()
			require.Equal(t, 100, st.Tracked)
			require.Equal(t, tc.evicted, st.Evicted)
			require.Equal(t, 50, st.Samples)
			var newest uint64
			for _, p := range d.Patterns() {
				if p.Stack != TotalStack && p.Stack > 100 {
					newest = max(newest, p.Stack)
				}
			}
			if tc.newest == 0 {
				require.Zero(t, newest, "no stack beyond the first 100 is tracked")
			} else {
				require.Equal(t, tc.newest-20, newest, "the newest stacks to have grown are tracked")
			}
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
		{"horizon", WithHorizon(0), "WithHorizon"},
		{"memory limit", WithMemoryLimit(-1), "WithMemoryLimit"},
		{"sampler", WithSampler(), "WithSampler"},
		{"nil sampler", WithSampler(nil), "WithSampler"},
		{"callback", OnAlert(nil), "OnAlert"},
		{"logger", WithLogger(nil), "WithLogger"},
		{"queue", WithAlertQueue(0), "WithAlertQueue"},
		{"timeout", WithSampleTimeout(-1), "WithSampleTimeout"},
		{"nil option", nil, "nil Option"},
		{"mem profile rate", WithMemProfileRate(-1), "WithMemProfileRate"},
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
}

func TestSeverityText(t *testing.T) {
	for _, s := range []Severity{SeverityNone, SeveritySuspect, SeverityWarning, SeverityAlert} {
		b, err := s.MarshalText()
		require.NoError(t, err)
		var back Severity
		require.NoError(t, back.UnmarshalText(b))
		require.Equal(t, s, back)
	}
	var s Severity
	require.Error(t, s.UnmarshalText([]byte("severe")))
}

// BenchmarkObserve measures one analysis cycle (one Sample) at 100, 1,000,
// 10,000 and 100,000 live stacks, in the steady state: a quarter of the
// stacks change every sample, and looks fall due on the detector's schedule
// (the reported time is the mean over cycles with and without a look).
// cpu-ns/op is the process's CPU time in Observe alone, steadier than wall
// time on a shared machine and free of building the Sample.
func BenchmarkObserve(b *testing.B) {
	for _, stacks := range []int{100, 1000, 10000, 100000} {
		b.Run(fmt.Sprintf("stacks=%d", stacks), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(9, uint64(stacks)))
			d, err := NewDetector(WithMaxStacks(stacks+1), WithHorizon(10*time.Minute))
			require.NoError(b, err)
			s := &sampler.Sample{Resource: sampler.Heap, Rate: 512 << 10, Records: make([]sampler.Record, stacks)}
			frames := []sampler.Frame{{Function: "f"}}
			born := make([]int64, stacks)
			var cpu time.Duration
			step := func(i int) {
				s.Time = t0.Add(time.Duration(i) * 10 * time.Second)
				s.Seq = uint64(i + 1)
				for k := range s.Records {
					live := int64(k % 64)
					if k%4 == i%4 {
						born[k] += int64(rng.IntN(8))
						live += int64(rng.IntN(4))
					}
					if k%100 == 0 {
						live += int64(i) // a few growing stacks keep the tests busy
					}
					born[k] = max(born[k], live)
					s.Records[k] = sampler.Record{Stack: uint64(k + 1), Frames: frames, InUseSampled: live, AllocSampled: born[k], InUseBytes: live << 10, InUseObjects: live}
				}
				start := cputime.Used()
				d.Observe(s)
				cpu += cputime.Used() - start
			}
			for i := range 200 { // warm up past the first looks
				step(i)
			}
			i := 200
			cpu = 0
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				step(i)
				i++
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
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
	d, err := NewDetector(WithHorizon(10 * time.Second))
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

// TestObserveChangesAsWholeSamples feeds one detector whole Samples and
// another only each Sample's changed records with the total, as the heap
// sampler does WithChanges, and requires the same escalations, patterns and
// bookkeeping.
func TestObserveChangesAsWholeSamples(t *testing.T) {
	whole, err := NewDetector(WithHorizon(time.Minute))
	require.NoError(t, err)
	changes, err := NewDetector(WithHorizon(time.Minute))
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(3, 3))
	const stacks, late = 300, 30 // the last late stacks appear half-way
	held := map[uint64]sampler.Record{}
	born := make([]int64, stacks)
	var alertsWhole, alertsChanges []Alert
	for i := range 400 {
		s := &sampler.Sample{Resource: sampler.Heap, Rate: 512 << 10, Time: t0.Add(time.Duration(i) * 10 * time.Second), Seq: uint64(i + 1)}
		for k := range stacks {
			if k >= stacks-late && i < 200 {
				continue
			}
			live := int64(k % 16)
			if k%6 == i%6 && k%5 != 0 {
				live += int64(rng.IntN(4))
				born[k] += int64(rng.IntN(6))
			}
			if k%50 == 0 {
				live += int64(i / 4) // a leak
			}
			born[k] = max(born[k], live)
			s.Records = append(s.Records, sampler.Record{Stack: uint64(k + 1), InUseSampled: live, AllocSampled: born[k], InUseBytes: live << 10, InUseObjects: live})
		}
		var total sampler.Record
		c := &sampler.Sample{Resource: s.Resource, Rate: s.Rate, Time: s.Time, Seq: s.Seq, Changes: i > 0, Total: &total}
		for _, r := range s.Records {
			total.InUseBytes += r.InUseBytes
			total.InUseObjects += r.InUseObjects
			total.InUseSampled += r.InUseSampled
			total.AllocSampled += r.AllocSampled
			if h, ok := held[r.Stack]; !c.Changes || !ok || h.InUseSampled != r.InUseSampled || h.AllocSampled != r.AllocSampled {
				c.Records = append(c.Records, r)
			}
			held[r.Stack] = r
		}
		if i > 0 {
			require.Less(t, len(c.Records), len(s.Records))
		}
		alertsWhole = append(alertsWhole, whole.Observe(s)...)
		alertsChanges = append(alertsChanges, changes.Observe(c)...)
	}
	require.NotEmpty(t, alertsWhole)
	require.Equal(t, alertsWhole, alertsChanges)
	require.Equal(t, whole.Patterns(), changes.Patterns())
	require.Equal(t, whole.Stats(), changes.Stats())
	require.Equal(t, whole.Verdict(), changes.Verdict())
	require.Nil(t, changes.families[sampler.Heap].byPos, "positions of the first, full Sample are let go")
}

// TestHistoryThroughHeldChanges checks a stack's history, as a pattern
// reports it, against the counts observed: changes every sample, changes
// held back a few at a time, and samples where nothing changed.
func TestHistoryThroughHeldChanges(t *testing.T) {
	d, err := NewDetector(WithHistory(16, 2))
	require.NoError(t, err)
	var want []float64
	for i := range 40 {
		live := int64(i % 7)
		if i%10 >= 6 {
			live = 3 // held
		}
		d.Observe(&sampler.Sample{Resource: sampler.Heap, Time: t0.Add(time.Duration(i) * time.Second), Seq: uint64(i + 1),
			Records: []sampler.Record{{Stack: 1, InUseSampled: live, AllocSampled: int64(i * 7), InUseBytes: live, InUseObjects: live}}})
		want = append(want, float64(live))
	}
	var got []float64
	for _, p := range d.Patterns() {
		if p.Stack == 1 {
			for _, pt := range p.History {
				got = append(got, pt.InUseBytes)
			}
		}
	}
	require.Equal(t, want[len(want)-16:], got)
}

// TestQuantileBlock: a suspect's quarters and halves are of time, so with
// blocks dense early and sparse late the older half holds fewer blocks
// than half of them.
func TestQuantileBlock(t *testing.T) {
	for _, tc := range []struct {
		name  string
		times []float64
		q     float64
		want  int
	}{
		{"even, half", []float64{0, 1, 2, 3, 4, 5, 6, 7, 8}, 0.5, 4},
		{"even, three quarters", []float64{0, 1, 2, 3, 4, 5, 6, 7, 8}, 0.75, 6},
		{"dense early, half", []float64{0, 1, 2, 3, 4, 30, 60}, 0.5, 5},
		{"dense early, a quarter", []float64{0, 1, 2, 3, 4, 30, 60}, 0.25, 4},
		{"never the newest", []float64{0, 1}, 0.99, 0},
		{"the first at least", []float64{0, 50, 60}, 0.1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, quantileBlock(tc.times, tc.q))
		})
	}
}

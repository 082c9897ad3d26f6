package leakguard

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/leakguard/leakguard/internal/simulate"
	"github.com/leakguard/leakguard/sampler"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// simHorizon is the simulations' horizon: ten minutes, the default, at
// the default 10 s interval.
const simHorizon = 600.0

// countSamples turns per-stack count series on shared times into the
// Samples a live run would see: stack k+1 holds series k.
func countSamples(times []float64, series []simulate.CountSeries) []*sampler.Sample {
	out := make([]*sampler.Sample, len(times))
	for i, t := range times {
		s := &sampler.Sample{Time: t0.Add(time.Duration(t * float64(time.Second))), Resource: sampler.Heap, Rate: 512 << 10, Seq: uint64(i + 1), Epoch: 1}
		s.Records = make([]sampler.Record, 0, len(series))
		for k, c := range series {
			live, born := c.Live[i], c.Born[i]
			if live == 0 && born == 0 {
				continue // a profile lists only stacks that have allocated
			}
			s.Records = append(s.Records, sampler.Record{
				Stack: uint64(k + 1), Frames: []sampler.Frame{{Function: fmt.Sprintf("sim.stack%d", k+1)}},
				InUseSampled: live, AllocSampled: born, InUseObjects: live * 8, InUseBytes: live << 19,
			})
		}
		out[i] = s
	}
	return out
}

// process draws one simulated process: a stack per shape, on shared sample
// times, some benign ones with background churn of their own.
func process(rng *rand.Rand, shapes []simulate.CountShape, p simulate.CountParams) []*sampler.Sample {
	times := simulate.Times(rng, p.N, p.Interval)
	series := make([]simulate.CountSeries, len(shapes))
	for k, sh := range shapes {
		q := p
		if !sh.Leak { // a leak shape says itself how much churn it has
			q.Churn = float64(rng.IntN(3)) * 20 * rng.Float64()
		}
		series[k] = sh.Gen(rng, q)
	}
	return countSamples(times, series)
}

// clopperPearsonLower is the one-sided lower confidence bound on a rate
// observed as k in n.
func clopperPearsonLower(k, n int, conf float64) float64 {
	if k == 0 {
		return 0
	}
	return distuv.Beta{Alpha: float64(k), Beta: float64(n - k + 1)}.Quantile(1 - conf)
}

func clopperPearsonUpper(k, n int, conf float64) float64 {
	if k == n {
		return 1
	}
	return distuv.Beta{Alpha: float64(k + 1), Beta: float64(n - k)}.Quantile(conf)
}

// TestFamilyWiseFalseAlarms measures the probability that a monitored
// process with no leak ever gets an alert (or a warning), across all its
// stacks and its whole run. Each simulated process has two stacks of every
// benign count shape (stationary and bursty churn, batches of tens of
// sampled objects freed together, caches filling within
// the horizon then replacing entries, caches approaching their size
// exponentially, buffers filling in chunks, sawtooth
// buffers released whole, one-time steps, drifting pools, spikes that
// drain), 400 samples ~10 s apart (6.7 horizons). The measured rate must be
// consistent with at most α = 1 − confidence: its 99.9 % Clopper–Pearson
// lower bound may not exceed α.
func TestFamilyWiseFalseAlarms(t *testing.T) {
	long := os.Getenv("LEAKGUARD_LONG") != ""
	for _, tc := range []struct {
		name                       string
		samples                    int
		processes, short, longRuns int
	}{
		// About seven horizons: the first looks, with most of the budget.
		{"400 samples", 400, 400, 60, 5000},
		// A day at 10 s: many looks (one per horizon at least), and every
		// level from the finest to the coarsest tested.
		{"a day", 8640, 100, 20, 2000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			processes := tc.processes
			if testing.Short() {
				processes = tc.short
			}
			if long {
				processes = tc.longRuns
			}
			familyWiseFalseAlarms(t, processes, tc.samples)
		})
	}
}

func familyWiseFalseAlarms(t *testing.T, processes, samples int) {
	var shapes []simulate.CountShape
	for range 2 {
		shapes = append(shapes, simulate.CountBenign()...)
	}
	rng := rand.New(rand.NewPCG(2026, 11))
	var anyAlert, anyWarn, suspects int
	perShape := make(map[string]int)
	for range processes {
		d, err := NewDetector(WithHorizon(simHorizon * time.Second))
		require.NoError(t, err)
		var a, w bool
		for _, s := range process(rng, shapes, simulate.CountParams{N: samples, Interval: 10, Horizon: simHorizon}) {
			for _, al := range d.Observe(s) {
				perShape[shapes[al.Stack-1].Name+"/"+al.Severity.String()]++
				a = a || al.Severity == SeverityAlert
				w = true
			}
		}
		d.Conclude()
		suspects += len(d.Suspects())
		if a {
			anyAlert++
		}
		if w {
			anyWarn++
		}
	}
	t.Logf("%d processes × %d benign stacks, %d samples each; %d suspects at the end (%.2f per process)",
		processes, len(shapes), samples, suspects, float64(suspects)/float64(processes))
	for _, c := range []struct {
		name  string
		k     int
		alpha float64
	}{{"alert", anyAlert, 1 - DefaultAlertConfidence}, {"warning", anyWarn, 1 - DefaultWarningConfidence}} {
		lo := clopperPearsonLower(c.k, processes, 0.999)
		hi := clopperPearsonUpper(c.k, processes, 0.95)
		t.Logf("family-wise %s rate: %d/%d = %.4f (95%% upper %.4f; α = %.2f)", c.name, c.k, processes, float64(c.k)/float64(processes), hi, c.alpha)
		require.LessOrEqualf(t, lo, c.alpha, "family-wise %s rate exceeds α", c.name)
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range perShape {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		t.Logf("  false escalations %-32s %d", k, perShape[k])
	}
}

// TestPower measures detection at default settings: for every leak shape
// and rate (retained sampled objects per horizon), the share of leaking
// stacks alerted within 400 samples (~67 minutes at 10 s) among the eight
// benign shapes, the share suspected at the end when not alerted, and the
// median time to the alert in horizons. Run with -v to print the table.
func TestPower(t *testing.T) {
	runs := 40
	if testing.Short() {
		runs = 8
	}
	rates := []float64{15, 30, 60, 120} // sampled objects retained per horizon
	rng := rand.New(rand.NewPCG(7, 7))
	var table strings.Builder
	fmt.Fprintf(&table, "| shape | retained per horizon | alerted | suspected | median time to alert |\n|---|---|---|---|---|\n")
	for _, sh := range simulate.CountLeaks() {
		for _, perH := range rates {
			shapes := append([]simulate.CountShape{sh}, simulate.CountBenign()...)
			var found, suspected int
			var lat []float64
			for range runs {
				d, err := NewDetector(WithHorizon(simHorizon * time.Second))
				require.NoError(t, err)
				var at time.Time
				samples := process(rng, shapes, simulate.CountParams{N: 400, Interval: 10, Horizon: simHorizon, Rate: perH / simHorizon})
				for _, s := range samples {
					for _, a := range d.Observe(s) {
						require.Equal(t, uint64(1), a.Stack, "a benign stack flagged: %v", a)
						if a.Severity == SeverityAlert && at.IsZero() {
							at = a.Time
						}
					}
				}
				for _, a := range d.Conclude() {
					if a.Severity == SeverityAlert && at.IsZero() {
						at = a.Time
					}
				}
				if !at.IsZero() {
					found++
					lat = append(lat, at.Sub(samples[0].Time).Seconds()/simHorizon)
					continue
				}
				for _, s := range d.Suspects() {
					if s.Stack == 1 {
						suspected++
					}
				}
			}
			med := math.NaN()
			if len(lat) > 0 {
				slices.Sort(lat)
				med = lat[len(lat)/2]
			}
			fmt.Fprintf(&table, "| %s | %.0f | %.2f | %.2f | %.1f |\n", sh.Name, perH, float64(found)/float64(runs), float64(suspected)/float64(runs), med)
			if sh.Name == "retain" && perH >= 30 {
				require.GreaterOrEqualf(t, found, runs*9/10, "pure retention of %.0f sampled objects per horizon", perH)
			}
		}
	}
	t.Logf("power at default settings, %d runs per cell:\n%s", runs, table.String())
}

// TestPowerCurve measures detection against the evidence a pure-retention
// leak carries: one leaking stack among 100 (the others churn), a stored
// series of 60 profiles with the horizon at 0.4 of its span (what analyze
// does), tested on all of it (Conclude). For each number of sampled objects
// the leak retains over the series it prints the share alerted, warned and
// at least suspected, beside two limits: log2(K/α), the fewest retained
// objects a single test of K stacks at level α could ever flag, and that
// divided by 0.6, the same for an alert, which may only count what was
// retained outside one horizon; and the power of the best test of the
// alert's null itself — flag when the objects retained outside every
// placement of the window reach log2(K/α′) at the final look's share α′ of
// the budget — on the same series: what no test of this null could beat.
// The suspect needs one rise, at a per-look level of 0.2.
func TestPowerCurve(t *testing.T) {
	runs := 400
	if testing.Short() {
		runs = 50
	}
	const stacks, n = 100, 60
	limit := math.Log2(stacks / (1 - DefaultAlertConfidence))
	rng := rand.New(rand.NewPCG(11, 11))
	var table strings.Builder
	fmt.Fprintf(&table, "| retained sampled objects | alerted | warned | suspected or more | best test of the null, K = 100 | same, growth only in the first horizon | log2(K/α) | log2(K/α)/0.6 |\n|---|---|---|---|---|---|---|---|\n")
	needed := int64(math.Ceil(math.Log2(stacks / (finalShare * (1 - DefaultAlertConfidence)))))
	suspectedAt, alertedAt, bestAt := map[float64]float64{}, map[float64]float64{}, map[float64]float64{}
	for _, total := range []float64{10, 15, 20, 25, 30, 40, 50, 60, 80} {
		var alerted, warned, suspected, best, firstOnly int
		for range runs {
			samples, span := leakAmongChurn(rng, stacks, n, total)
			everywhere, first := retainedOutsideWindows(samples, 1, 0.4*span.Seconds())
			if everywhere >= needed {
				best++
			}
			if first >= needed {
				firstOnly++
			}
			d, err := NewDetector(WithHorizon(time.Duration(0.4*float64(span))), WithSeries(n))
			require.NoError(t, err)
			for _, s := range samples {
				d.Observe(s)
			}
			d.Conclude()
			for _, a := range d.Flagged() {
				require.Equal(t, uint64(1), a.Stack, "a churning stack flagged: %v", a)
			}
			sev := severityOf(d, 1)
			if sev >= SeverityAlert {
				alerted++
			}
			if sev >= SeverityWarning {
				warned++
			}
			if sev >= SeveritySuspect {
				suspected++
			}
		}
		suspectedAt[total] = float64(suspected) / float64(runs)
		alertedAt[total] = float64(alerted) / float64(runs)
		bestAt[total] = float64(best) / float64(runs)
		fmt.Fprintf(&table, "| %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %.1f | %.1f |\n", total, float64(alerted)/float64(runs), float64(warned)/float64(runs), float64(suspected)/float64(runs), float64(best)/float64(runs), float64(firstOnly)/float64(runs), limit, limit/0.6)
	}
	t.Logf("pure retention among %d stacks, %d profiles, %d runs per row:\n%s", stacks, n, runs, table.String())
	// About half are suspects at 25 retained objects; the bounds leave
	// room for the sampling error of the reduced run.
	require.GreaterOrEqual(t, suspectedAt[30], 0.5, "suspected at 30 retained sampled objects")
	require.GreaterOrEqual(t, suspectedAt[40], 0.85, "suspected at 40 retained sampled objects")
	// All but a few alerted at 50: the bound leaves room for the reduced run.
	require.GreaterOrEqual(t, alertedAt[50], 0.85, "alerted at 50 retained sampled objects")
	require.GreaterOrEqual(t, alertedAt[60], 0.95, "alerted at 60 retained sampled objects")
	// The alert loses nothing to speak of against the best test of its null.
	for _, total := range []float64{30, 40, 50} {
		require.GreaterOrEqual(t, alertedAt[total], bestAt[total]-0.15, "alerted at %v retained sampled objects, against the best test", total)
	}
}

// retainedOutsideWindows returns the fewest live sampled objects a
// pure-retention stack gained outside any placement of a window of horizon
// seconds, placed as the persistence test places it (starting within a
// sample interval, at every sample) — the evidence the best test of the
// alert's null has — and, for comparison, what it gained after the first
// horizon: the evidence of a narrower null in which growth may only last
// through the first horizon (a warm-up at the start), under which a buffer
// that fills for most of a horizon and is released, starting anywhere,
// would be a leak.
func retainedOutsideWindows(samples []*sampler.Sample, stack uint64, horizon float64) (everywhere, first int64) {
	n := len(samples)
	live := make([]int64, n)
	times := make([]float64, n)
	for i, s := range samples {
		times[i] = s.Time.Sub(samples[0].Time).Seconds()
		for _, r := range s.Records {
			if r.Stack == stack {
				live[i] = r.InUseSampled
			}
		}
	}
	everywhere = live[n-1] - live[0]
	for a := 0; a < n-1; a++ {
		late := a + 1
		for late < n-1 && times[late] < times[a+1]+horizon {
			late++
		}
		outside := live[a] - live[0]
		if times[late] >= times[a+1]+horizon {
			outside += live[n-1] - live[late]
		}
		everywhere = min(everywhere, outside)
	}
	late := 0
	for late < n-1 && times[late] < times[0]+horizon {
		late++
	}
	return everywhere, live[n-1] - live[late]
}

// TestStoredBenignSeriesStaySilent runs benign processes as analyze sees
// them — a finite series, the horizon at 0.4 of its span, a final look —
// at 60, 300 and 3,000 profiles: the growth phases scale with the run, and
// no process may get an alert beyond what α allows.
func TestStoredBenignSeriesStaySilent(t *testing.T) {
	cases := []struct{ n, processes int }{{60, 200}, {300, 100}, {3000, 20}}
	if testing.Short() {
		cases = []struct{ n, processes int }{{60, 40}, {300, 20}, {3000, 4}}
	}
	if os.Getenv("LEAKGUARD_LONG") != "" {
		cases = []struct{ n, processes int }{{60, 2000}, {300, 500}, {3000, 50}}
	}
	shapes := simulate.CountBenign()
	rng := rand.New(rand.NewPCG(21, 21))
	for _, c := range cases {
		var alerts, warnings, suspects int
		for range c.processes {
			span := 0.2 * float64(c.n)
			samples := process(rng, shapes, simulate.CountParams{N: c.n, Interval: 0.2, Horizon: 0.4 * span})
			d, err := NewDetector(WithHorizon(time.Duration(0.4*float64(samples[c.n-1].Time.Sub(samples[0].Time)))), WithSeries(c.n))
			require.NoError(t, err)
			for _, s := range samples {
				d.Observe(s)
			}
			d.Conclude()
			var a, w bool
			for _, al := range d.Flagged() {
				a = a || al.Severity == SeverityAlert
				w = true
			}
			if a {
				alerts++
			}
			if w {
				warnings++
			}
			suspects += len(d.Suspects())
		}
		t.Logf("%d profiles: %d/%d processes with an alert, %d with a warning, %.2f suspects per process",
			c.n, alerts, c.processes, warnings, float64(suspects)/float64(c.processes))
		require.LessOrEqual(t, clopperPearsonLower(alerts, c.processes, 0.999), 1-DefaultAlertConfidence)
	}
}

// TestVerdictSaysWhatACleanSeriesCouldSee: the fewest sampled objects the
// Verdict says a steadily growing stack would have had to retain to be
// alerted or suspected are a true floor — no pure-retention leak retaining
// fewer is flagged at that tier — and a leak retaining a few times the
// floor is flagged at least as a suspect.
func TestVerdictSaysWhatACleanSeriesCouldSee(t *testing.T) {
	runs := 40
	if testing.Short() {
		runs = 10
	}
	const stacks, n = 100, 60
	rng := rand.New(rand.NewPCG(12, 12))
	var below, suspectedAbove, above int
	for _, total := range []float64{4, 8, 12, 16, 24, 40} {
		for range runs {
			samples, span := leakAmongChurn(rng, stacks, n, total)
			d, err := NewDetector(WithHorizon(time.Duration(0.4*float64(span))), WithSeries(n))
			require.NoError(t, err)
			require.Zero(t, d.Verdict().AlertNeeds, "no look, no floor")
			for _, s := range samples {
				d.Observe(s)
			}
			d.Conclude()
			v := d.Verdict()
			require.Positive(t, v.AlertNeeds)
			require.Positive(t, v.SuspectNeeds)
			require.Less(t, v.SuspectNeeds, v.AlertNeeds)
			retained := liveOf(samples[n-1], 1) - liveOf(samples[0], 1)
			sev := severityOf(d, 1)
			if retained < v.AlertNeeds {
				below++
				require.Less(t, sev, SeverityAlert, "alerted with %d retained, under the floor of %d", retained, v.AlertNeeds)
			}
			if retained < v.SuspectNeeds {
				require.Less(t, sev, SeveritySuspect, "suspected with %d retained, under the floor of %d", retained, v.SuspectNeeds)
			}
			if retained >= 3*v.SuspectNeeds {
				above++
				if sev >= SeveritySuspect {
					suspectedAbove++
				}
			}
		}
	}
	t.Logf("%d runs under the alert's floor, none alerted; %d/%d at three times the suspect's floor or more suspected", below, suspectedAbove, above)
	require.Positive(t, below, "some runs fell under the alert's floor")
	require.Positive(t, above, "some runs were well above the suspect's floor")
	require.GreaterOrEqual(t, float64(suspectedAbove), 0.9*float64(above), "suspected at three times the floor")
}

// liveOf is a stack's live sampled objects in a sample.
func liveOf(s *sampler.Sample, stack uint64) int64 {
	for _, r := range s.Records {
		if r.Stack == stack {
			return r.InUseSampled
		}
	}
	return 0
}

// leakAmongChurn simulates a stored series of n profiles 200 ms apart: one
// pure-retention stack (stack 1) retaining about total sampled objects
// over the series among stacks−1 churning ones, with the horizon analyze
// would use (0.4 of the span).
func leakAmongChurn(rng *rand.Rand, stacks, n int, total float64) ([]*sampler.Sample, time.Duration) {
	shapes := []simulate.CountShape{simulate.CountLeaks()[0]}
	for range stacks - 1 {
		shapes = append(shapes, simulate.CountBenign()[0])
	}
	p := simulate.CountParams{N: n, Interval: 0.2, Horizon: 0.4 * 0.2 * float64(n), Rate: total / (0.2 * float64(n))}
	samples := process(rng, shapes, p)
	return samples, samples[n-1].Time.Sub(samples[0].Time)
}

// severityOf is the highest tier stack reached: flagged, or a suspect at
// the newest look.
func severityOf(d *Detector, stack uint64) Severity {
	var sev Severity
	for _, a := range d.Flagged() {
		if a.Stack == stack {
			sev = max(sev, a.Severity)
		}
	}
	for _, a := range d.Suspects() {
		if a.Stack == stack {
			sev = max(sev, SeveritySuspect)
		}
	}
	return sev
}

// TestLateLeakWaitsOnlyForItsEvidence: a leak that starts after hours of
// uptime is a suspect within a look of its growth being significant and
// alerted within a few horizons of its start, as one that starts with the
// process is — not when a look schedule spaced by the uptime next comes
// round, nor once the coarsest level's blocks of hours see it. The
// leak sits in a churning stack (30 live sampled objects of short-lived
// churn) and keeps 3 sampled objects per 10 s sample.
func TestLateLeakWaitsOnlyForItsEvidence(t *testing.T) {
	const interval = 10.0
	horizon := 10 * time.Minute
	for _, tc := range []struct {
		name  string
		start int // sample at which the leak starts
	}{
		{"from the start", 0},
		{"after six hours", 2160},
		{"after a day", 8640},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := tc.start + 300
			rng := rand.New(rand.NewPCG(13, uint64(tc.start)))
			p := simulate.CountParams{N: n, Interval: interval, Horizon: horizon.Seconds(), Churn: 30}
			var series []simulate.CountSeries
			for range 21 {
				series = append(series, simulate.CountBenign()[0].Gen(rng, p))
			}
			leak := series[20]
			for i := tc.start; i < n; i++ {
				kept := int64(3 * (i - tc.start + 1))
				leak.Live[i] += kept
				leak.Born[i] += kept
			}
			samples := countSamples(leak.Time, series)
			d, err := NewDetector(WithHorizon(horizon), WithSuspectAlerts())
			require.NoError(t, err)
			suspectedAt, alertedAt := -1, -1
			for i, s := range samples {
				for _, a := range d.Observe(s) {
					if a.Severity == SeveritySuspect {
						if a.Stack == 21 && suspectedAt < 0 {
							suspectedAt = i
						}
						continue
					}
					require.Equal(t, uint64(21), a.Stack, "a churning stack flagged at sample %d", i)
					if a.Severity == SeverityAlert && alertedAt < 0 {
						alertedAt = i
					}
				}
			}
			after := func(i int) time.Duration { return time.Duration(float64(i-tc.start) * interval * float64(time.Second)) }
			require.GreaterOrEqual(t, suspectedAt, tc.start, "never suspected, or before the leak started")
			require.GreaterOrEqual(t, alertedAt, tc.start, "never alerted, or before the leak started")
			t.Logf("suspected %v and alerted %v after the leak started (horizon %v)", after(suspectedAt), after(alertedAt), horizon)
			// A suspect waits for its evidence (a few minutes here), then
			// for the next look, at most a horizon away.
			require.LessOrEqual(t, after(suspectedAt), 2*horizon, "the uptime before the leak must not delay its suspect beyond a look")
			require.LessOrEqual(t, after(alertedAt), 4*horizon, "the uptime before the leak must not delay its alert by more than the budget its looks cost")
		})
	}
}

// TestSaturatingCacheBeyondTheHorizon measures where a cache of uniformly
// popular keys stops being benign. Such a cache approaches its size
// exponentially and never quite stops adding entries: what it adds after
// the horizon is growth beyond the horizon, and a large enough remainder is
// evidence the persistence test cannot tell from a leak's. The cache here
// holds 1,000 sampled objects once full (64 MiB at the Guard's 64 KiB
// rate) on a stack of its own, among 20 churning stacks, over 30 minutes
// at the defaults. Full to 98 % within the horizon it is never flagged
// (the README's advice); less full, it may be: its horizon is then too
// short.
func TestSaturatingCacheBeyondTheHorizon(t *testing.T) {
	runs := 100
	if testing.Short() {
		runs = 30
	}
	const interval, n, size = 10.0, 180, 1000.0
	horizon := DefaultHorizon
	var table strings.Builder
	fmt.Fprintf(&table, "| full at the horizon | sampled objects added after it | alerted | warned |\n|---|---|---|---|\n")
	for _, full := range []float64{0.9, 0.95, 0.98, 0.99, 0.999} {
		tau := horizon.Seconds() / -math.Log(1-full)
		var alerted, warned int
		for run := range runs {
			rng := rand.New(rand.NewPCG(17, uint64(run)))
			p := simulate.CountParams{N: n, Interval: interval, Horizon: horizon.Seconds(), Churn: 20}
			series := []simulate.CountSeries{simulate.SaturatingCache(rng, simulate.CountParams{N: n, Interval: interval}, size, tau, 0)}
			for range 20 {
				series = append(series, simulate.CountBenign()[0].Gen(rng, p))
			}
			d, err := NewDetector()
			require.NoError(t, err)
			for _, s := range countSamples(series[0].Time, series) {
				d.Observe(s)
			}
			sev := severityOf(d, 1)
			for _, a := range d.Flagged() {
				require.Equal(t, uint64(1), a.Stack, "a churning stack flagged: %v", a)
			}
			if sev >= SeverityAlert {
				alerted++
			}
			if sev >= SeverityWarning {
				warned++
			}
		}
		fmt.Fprintf(&table, "| %.1f %% | %.0f | %.2f | %.2f |\n", 100*full, size*(1-full), float64(alerted)/float64(runs), float64(warned)/float64(runs))
		if full >= 0.98 {
			require.Zero(t, warned, "a cache %.1f %% full at the horizon flagged", 100*full)
		}
	}
	t.Logf("a cache of %.0f sampled objects approaching its size, %d runs of 30 minutes per row:\n%s", size, runs, table.String())
}

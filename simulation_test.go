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

// simSeries turns per-stack series into the Samples a live run would see,
// one every 10 s.
func simSamples(series [][]float64) []*sampler.Sample {
	n := len(series[0])
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]*sampler.Sample, n)
	for i := range n {
		s := &sampler.Sample{Time: t0.Add(time.Duration(i) * 10 * time.Second), Resource: sampler.Heap, Seq: uint64(i + 1), Rate: 1}
		s.Records = make([]sampler.Record, len(series))
		for k, y := range series {
			s.Records[k] = sampler.Record{Stack: uint64(k + 1), Frames: []sampler.Frame{{Function: fmt.Sprintf("sim.stack%d", k+1)}}, InUseBytes: int64(y[i])}
		}
		out[i] = s
	}
	return out
}

// firstAlarm runs a Detector over samples and returns, per severity, the
// sample index of the first escalation of each stack (absent: never).
func runDetector(t testing.TB, samples []*sampler.Sample, opts ...Option) []Alert {
	d, err := NewDetector(opts...)
	require.NoError(t, err)
	var out []Alert
	for _, s := range samples {
		out = append(out, d.Observe(s)...)
	}
	return out
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
// stacks and its whole run. Each simulated process has stacks of every
// benign shape, monitored for 250 samples; warm-ups, fills and drains
// settle within half a window (what the detector promises to tolerate).
// The measured family-wise rate must be consistent with at most α = 1 −
// confidence: its 99.9 % Clopper–Pearson lower bound may not exceed α.
func TestFamilyWiseFalseAlarms(t *testing.T) {
	processes, perShape := 500, 2 // 500 × 11 shapes × 2 = 11,000 series
	if testing.Short() {
		processes = 100
	}
	if os.Getenv("LEAKGUARD_LONG") != "" {
		processes = 5000
	}
	const looks = 250
	shapes := simulate.Benign()
	rng := rand.New(rand.NewPCG(2026, 11))
	var anyAlert, anyWarn int
	perShapeAlarms := make(map[string]int)
	for range processes {
		var series [][]float64
		var names []string
		for _, sh := range shapes {
			for range perShape {
				p := simulate.Params{N: looks, Base: 1e6 * (1 + 10*rng.Float64()), Sigma: 1e4 * (0.2 + rng.Float64()), Settle: DefaultWindow / 2}
				series = append(series, sh.Gen(rng, p))
				names = append(names, sh.Name)
			}
		}
		alerts := runDetector(t, simSamples(series))
		var a, w bool
		for _, al := range alerts {
			name := "(total)"
			if al.Stack != TotalStack {
				name = names[al.Stack-1]
			}
			perShapeAlarms[name+"/"+al.Severity.String()]++
			if al.Severity == SeverityAlert {
				a = true
			}
			w = true
		}
		if a {
			anyAlert++
		}
		if w {
			anyWarn++
		}
	}
	total := processes * len(shapes) * perShape
	t.Logf("%d processes × %d stacks (%d benign series, %d looks each)", processes, len(shapes)*perShape, total, looks)
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
	keys := make([]string, 0, len(perShapeAlarms))
	for k := range perShapeAlarms {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		t.Logf("  false escalations %-32s %d", k, perShapeAlarms[k])
	}
}

// TestPower measures detection: for every leak shape and growth rate
// (relative to the per-sample noise σ), the share of leaking stacks alerted
// within 60 samples and within 360 samples (an hour at 10 s), and the
// median sample index at detection. Each leaking stack is monitored among
// 20 benign ones. Run with -v to print the table.
func TestPower(t *testing.T) {
	reps := 40
	if testing.Short() {
		reps = 10
	}
	rates := []float64{0.05, 0.1, 0.25, 0.5, 1, 2}
	const n = 360
	rng := rand.New(rand.NewPCG(7, 7))
	benign := simulate.Benign()
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-16s %8s %10s %10s %12s\n", "shape", "rate/σ", "found@60", "found@360", "median idx")
	results := make(map[string][]float64) // shape -> found@60 per rate
	for _, sh := range simulate.Leaks() {
		for _, rate := range rates {
			var at []int
			found60, found360 := 0, 0
			for range reps {
				sigma := 1e4
				var series [][]float64
				series = append(series, sh.Gen(rng, simulate.Params{N: n, Base: 1e6, Sigma: sigma, Rate: rate * sigma, Settle: DefaultWindow / 2}))
				for k := range 20 {
					bs := benign[k%len(benign)]
					series = append(series, bs.Gen(rng, simulate.Params{N: n, Base: 1e6, Sigma: sigma, Settle: DefaultWindow / 2}))
				}
				alerts := runDetector(t, simSamples(series))
				idx := -1
				for _, a := range alerts {
					if a.Stack == 1 && a.Severity == SeverityAlert {
						idx = a.Index
						break
					}
				}
				if idx >= 0 {
					at = append(at, idx)
					found360++
					if idx < 60 {
						found60++
					}
				}
			}
			med := math.NaN()
			if len(at) > 0 {
				slices.Sort(at)
				med = float64(at[len(at)/2])
			}
			fmt.Fprintf(&b, "%-16s %8.2f %10.2f %10.2f %12.0f\n", sh.Name, rate, float64(found60)/float64(reps), float64(found360)/float64(reps), med)
			results[sh.Name] = append(results[sh.Name], float64(found360)/float64(reps))
		}
	}
	t.Log(b.String())
	// A steady leak growing by σ per sample is caught within an hour of
	// samples essentially always; this is the floor the table must show.
	require.GreaterOrEqual(t, results["steady"][4], 0.9)
}

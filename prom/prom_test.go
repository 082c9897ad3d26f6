package prom

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/sampler"
)

// TestMain checks that every Guard the tests start is stopped with its
// goroutines.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// scripted is a source the test drives: run(n, records) serves n samples
// built by records, exactly (the tests are about what the collector
// exports, not about detection), and the returned channel closes once all
// of them have been analysed — the Guard asks for the next sample only
// after analysing the previous one.
type scripted struct {
	mu      sync.Mutex
	i       int
	until   int
	records func(i int) []sampler.Record
	idle    chan struct{}
}

func (s *scripted) run(n int, records func(i int) []sampler.Record) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.idle = make(chan struct{})
	s.until += n
	s.records = records
	return s.idle
}

func (s *scripted) Sample(context.Context) (*sampler.Sample, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.i >= s.until {
		if s.idle != nil {
			close(s.idle)
			s.idle = nil
		}
		return nil, sampler.ErrNoNewData
	}
	s.i++
	return &sampler.Sample{
		Time: time.Unix(1_700_000_000, 0).Add(time.Duration(s.i) * time.Second), Resource: sampler.Heap,
		Rate: 1, Seq: uint64(s.i), Epoch: 1, Records: s.records(s.i),
	}, nil
}
func (*scripted) Resource() sampler.Resource { return sampler.Heap }
func (*scripted) Close() error               { return nil }

func start(t *testing.T, src *scripted, opts ...leakguard.Option) *leakguard.Guard {
	t.Helper()
	g, err := leakguard.Start(append([]leakguard.Option{
		leakguard.WithSampler(src),
		leakguard.WithInterval(time.Millisecond),
		leakguard.WithHorizon(5 * time.Second),
		leakguard.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, g.Stop()) })
	return g
}

// leak is a stack growing by rate MiB per one-second sample, held by one
// object per MiB.
func leak(stack uint64, rate int, i int, frames ...sampler.Frame) sampler.Record {
	return sampler.Record{Stack: stack, Frames: frames, InUseBytes: int64(rate*i) << 20, AllocBytes: int64(rate*i) << 20, InUseObjects: int64(rate * i), AllocObjects: int64(rate * i)}
}

// gathered returns the gathered samples of one metric family, by the value
// of one label.
func gathered(t *testing.T, reg prometheus.Gatherer, name, by string) map[string]*dto.Metric {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]*dto.Metric{}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == by {
					out[l.GetValue()] = m
				}
			}
		}
	}
	return out
}

func TestCollector(t *testing.T) {
	src := &scripted{}
	g := start(t, src)
	<-src.run(80, func(i int) []sampler.Record {
		return []sampler.Record{
			leak(7, 1, i, sampler.Frame{Function: "pkg.leak", File: "pkg/leak.go", Line: 12}, sampler.Frame{Function: "main.main"}),
			{Stack: 8, Frames: []sampler.Frame{{Function: "pkg.steady"}}, InUseBytes: 1 << 20, AllocBytes: int64(i) << 20},
		}
	})

	c, err := NewCollector(g, ConstLabels(prometheus.Labels{"service": "test"}))
	require.NoError(t, err)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	require.Empty(t, problems)
	require.Equal(t, 16, testutil.CollectAndCount(c), "11 Guard-wide metrics, 5 for the one flagged site")

	m := g.Stats()
	want := `
# HELP leakguard_tracked_stacks Stacks under analysis.
# TYPE leakguard_tracked_stacks gauge
leakguard_tracked_stacks{service="test"} 2
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), "leakguard_tracked_stacks"))
	require.GreaterOrEqual(t, m.Alerts, 1)
	wantAlerts := fmt.Sprintf(`
# HELP leakguard_alerts Stacks at each severity.
# TYPE leakguard_alerts gauge
leakguard_alerts{service="test",severity="alert"} %d
leakguard_alerts{service="test",severity="warning"} %d
`, m.Alerts, m.Warnings)
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(wantAlerts), "leakguard_alerts"))
	require.InDelta(t, 1<<20, m.TopGrowthBytesPerSecond, 1, "1 MiB per one-second sample")

	// In use is the newest point at the resolution of the decisive test:
	// the end of the newest block of 2^k samples at level k, so between the
	// 73rd and the 80th sample's 73 to 80 MiB.
	inUse := gathered(t, reg, "leakguard_leak_inuse_bytes", "function")
	require.Len(t, inUse, 1)
	require.InDelta(t, 76.5*(1<<20), inUse["pkg.leak"].GetGauge().GetValue(), 3.5*(1<<20))
	labels := map[string]string{}
	for _, l := range inUse["pkg.leak"].GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	require.Equal(t, map[string]string{"service": "test", "resource": "heap", "function": "pkg.leak", "location": "pkg/leak.go:12", "severity": "alert"}, labels)
	inUseObjects := gathered(t, reg, "leakguard_leak_inuse_objects", "function")
	require.InDelta(t, 76.5, inUseObjects["pkg.leak"].GetGauge().GetValue(), 3.5, "one object per MiB")
	growth := gathered(t, reg, "leakguard_leak_growth_bytes_per_second", "function")
	require.Len(t, growth, 1, "pkg.steady is not flagged")
	require.InDelta(t, 1<<20, growth["pkg.leak"].GetGauge().GetValue(), 1)
	objects := gathered(t, reg, "leakguard_leak_growth_objects_per_second", "function")
	require.InDelta(t, 1, objects["pkg.leak"].GetGauge().GetValue(), 1e-6)
	conf := gathered(t, reg, "leakguard_leak_confidence", "function")
	require.Greater(t, conf["pkg.leak"].GetGauge().GetValue(), leakguard.DefaultAlertConfidence)
}

// Thirty sites leak at once; the per-site gauges carry only the chosen
// number of them, whichever way the collector reads the Guard.
func TestCollectorTopStacks(t *testing.T) {
	src := &scripted{}
	g := start(t, src)
	<-src.run(80, func(i int) []sampler.Record {
		var rs []sampler.Record
		for s := range 30 {
			rs = append(rs, leak(uint64(100+s), s+2, i, sampler.Frame{Function: fmt.Sprintf("pkg.leak%02d", s)}))
		}
		return rs
	})
	r := g.Report()
	require.Len(t, r.Alerts, 30, "every site is flagged")
	require.False(t, slices.ContainsFunc(r.Alerts, func(a leakguard.Alert) bool { return a.Stack == leakguard.TotalStack }),
		"the process total is plotted, not tested")

	for _, tc := range []struct {
		opts []Option
		want int
	}{
		{nil, DefaultTopStacks}, // the Report's ten are all flagged: read them all instead
		{[]Option{TopStacks(3)}, 3},
		{[]Option{TopStacks(25)}, 25},
		{[]Option{TopStacks(100)}, 30},
		{[]Option{TopStacks(0)}, 0},
	} {
		c, err := NewCollector(g, tc.opts...)
		require.NoError(t, err)
		require.Equal(t, 11+5*tc.want, testutil.CollectAndCount(c), "%d sites", tc.want)
		reg := prometheus.NewPedanticRegistry()
		require.NoError(t, reg.Register(c))
		require.Len(t, gathered(t, reg, "leakguard_leak_inuse_bytes", "function"), tc.want)
	}
}

// Two stacks reaching one allocation through different callers are one
// site: one series, their growth added, rather than two colliding label
// sets.
func TestCollectorMergesStacksAtOneSite(t *testing.T) {
	src := &scripted{}
	g := start(t, src)
	site := sampler.Frame{Function: "pkg.alloc", File: "pkg/alloc.go", Line: 3}
	<-src.run(80, func(i int) []sampler.Record {
		return []sampler.Record{
			leak(1, 1, i, site, sampler.Frame{Function: "pkg.fromA"}),
			leak(2, 2, i, site, sampler.Frame{Function: "pkg.fromB"}),
		}
	})
	reg := prometheus.NewPedanticRegistry()
	c, err := NewCollector(g)
	require.NoError(t, err)
	require.NoError(t, reg.Register(c))
	growth := gathered(t, reg, "leakguard_leak_growth_bytes_per_second", "location")
	require.Len(t, growth, 1)
	require.InDelta(t, 3<<20, growth["pkg/alloc.go:3"].GetGauge().GetValue(), 2)
	inUse := gathered(t, reg, "leakguard_leak_inuse_bytes", "location")
	require.InDelta(t, 3*76.5*(1<<20), inUse["pkg/alloc.go:3"].GetGauge().GetValue(), 3*3.5*(1<<20), "3 MiB a sample, over the 73rd to 80th")
}

// A flagged stack that is evicted is gone from the next scrape.
func TestCollectorForgetsEvictedStacks(t *testing.T) {
	src := &scripted{}
	g := start(t, src, leakguard.WithMaxStacks(3))
	<-src.run(80, func(i int) []sampler.Record {
		return []sampler.Record{leak(7, 1, i, sampler.Frame{Function: "pkg.leak"})}
	})
	reg := prometheus.NewPedanticRegistry()
	c, err := NewCollector(g)
	require.NoError(t, err)
	require.NoError(t, reg.Register(c))
	require.Contains(t, gathered(t, reg, "leakguard_leak_growth_bytes_per_second", "function"), "pkg.leak")

	// The leak is fixed (its stack leaves the profile) and new stacks
	// crowd it out of the three the Guard may track.
	// (A full Guard admits a new stack once it grows: these do.)
	<-src.run(6, func(i int) []sampler.Record {
		var rs []sampler.Record
		for k := range 4 {
			rs = append(rs, sampler.Record{Stack: uint64(1000 + k), Frames: []sampler.Frame{{Function: "pkg.other"}},
				InUseBytes: int64(i+1) << 20, InUseObjects: int64(i + 1), AllocBytes: int64(i+1) << 20, AllocObjects: int64(i + 1)})
		}
		return rs
	})
	require.NotZero(t, g.Stats().Evicted)
	for _, name := range []string{
		"leakguard_leak_growth_bytes_per_second", "leakguard_leak_growth_objects_per_second",
		"leakguard_leak_inuse_bytes", "leakguard_leak_inuse_objects", "leakguard_leak_confidence",
	} {
		require.Empty(t, gathered(t, reg, name, "function"), name)
	}
}

func TestNewCollectorRejectsBadOptions(t *testing.T) {
	src := &scripted{}
	g := start(t, src)
	for _, tc := range []struct {
		name string
		g    *leakguard.Guard
		opts []Option
		want string
	}{
		{"nil guard", nil, nil, "nil Guard"},
		{"negative top", g, []Option{TopStacks(-1)}, "TopStacks(-1)"},
		{"nil option", g, []Option{nil}, "nil Option"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewCollector(tc.g, tc.opts...)
			require.ErrorContains(t, err, tc.want)
			require.Nil(t, c)
		})
	}
}

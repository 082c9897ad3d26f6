package prom

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/sampler"
)

// growing is a source whose stack 7 grows by 1 MiB per sample, exactly:
// the test is about what the collector exports, not about detection.
type growing struct {
	mu sync.Mutex
	i  int
}

func (g *growing) Sample(context.Context) (*sampler.Sample, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.i++
	return &sampler.Sample{
		Time: time.Unix(1_700_000_000, 0).Add(time.Duration(g.i) * time.Second), Resource: sampler.Heap,
		Rate: 1, Seq: uint64(g.i), Epoch: 1,
		Records: []sampler.Record{
			{Stack: 7, Frames: []sampler.Frame{{Function: "pkg.leak"}}, InUseBytes: int64(g.i) << 20, AllocBytes: int64(g.i) << 20},
			{Stack: 8, Frames: []sampler.Frame{{Function: "pkg.steady"}}, InUseBytes: 1 << 20, AllocBytes: int64(g.i) << 20},
		},
	}, nil
}
func (*growing) Resource() sampler.Resource { return sampler.Heap }
func (*growing) Close() error               { return nil }

func TestCollector(t *testing.T) {
	defer goleak.VerifyNone(t)
	caught := make(chan struct{}, 1)
	g, err := leakguard.Start(
		leakguard.WithSampler(&growing{}),
		leakguard.WithInterval(time.Millisecond),
		leakguard.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		leakguard.OnAlert(func(a leakguard.Alert) {
			if a.Severity == leakguard.SeverityAlert && a.Stack == 7 {
				select {
				case caught <- struct{}{}:
				default:
				}
			}
		}),
	)
	require.NoError(t, err)
	<-caught
	require.NoError(t, g.Stop()) // freeze the numbers

	c := NewCollector(g, prometheus.Labels{"service": "test"})
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	require.Empty(t, problems)
	require.Equal(t, 10, testutil.CollectAndCount(c))

	m := g.Metrics()
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
}

package leakguard

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/leakguard/leakguard/sampler"
)

// scriptedSampler replays a leaking series, one step per Sample call, and
// can be told to fail or hang. It stands in for a data source only where
// the test is about the Guard's own mechanics.
type scriptedSampler struct {
	mu     sync.Mutex
	step   int
	fail   func(step int) error
	hang   bool
	closed atomic.Int32
	calls  atomic.Int64
	// reached is closed once calls reaches notifyAt (when set).
	notifyAt int64
	reached  chan struct{}
}

func (s *scriptedSampler) Sample(ctx context.Context) (*sampler.Sample, error) {
	if n := s.calls.Add(1); s.reached != nil && n == s.notifyAt {
		close(s.reached)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() > 0 {
		return nil, sampler.ErrClosed
	}
	if s.hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	i := s.step
	s.step++
	if s.fail != nil {
		if err := s.fail(i); err != nil {
			return nil, err
		}
	}
	return counts(i, 0, map[uint64][2]int64{1: {10, 10}, 2: {int64(3 * (i + 1)), int64(3 * (i + 1))}}), nil
}

func (s *scriptedSampler) Resource() sampler.Resource { return sampler.Heap }
func (s *scriptedSampler) Close() error               { s.closed.Add(1); return nil }

func TestGuardDeliversAlertsAndIsolatesPanickingCallback(t *testing.T) {
	defer goleak.VerifyNone(t)
	var logs bytes.Buffer
	got := make(chan Alert, 4)
	var panicked atomic.Int32
	src := &scriptedSampler{}
	g, err := Start(
		WithHorizon(horizon4s),
		WithSampler(src),
		WithInterval(time.Millisecond),
		WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))),
		OnAlert(func(Alert) { panicked.Add(1); panic("callback bug") }),
		OnAlert(func(a Alert) {
			select {
			case got <- a:
			default:
			}
		}),
	)
	require.NoError(t, err)
	a := <-got
	require.Equal(t, uint64(2), a.Stack)
	require.NoError(t, g.Stop())
	require.NoError(t, g.Stop(), "Stop is idempotent")
	require.Positive(t, panicked.Load())
	st := g.Stats()
	require.Equal(t, uint64(panicked.Load()), st.CallbackPanics)
	require.Equal(t, int32(1), src.closed.Load(), "the Guard closes its samplers once")
	require.Contains(t, logs.String(), "OnAlert callback panicked")
	require.Contains(t, logs.String(), `"stack":{"function":"pkg.f2"`)
}

func TestGuardSurvivesFailingAndHangingSamplers(t *testing.T) {
	defer goleak.VerifyNone(t)
	var logs bytes.Buffer
	fails := &scriptedSampler{fail: func(step int) error {
		if step < 5 {
			return errors.New("transient failure")
		}
		return nil
	}}
	hangs := &scriptedSampler{hang: true}
	got := make(chan Alert, 1)
	g, err := Start(
		WithHorizon(horizon4s),
		WithSampler(hangs, fails),
		WithInterval(time.Millisecond),
		WithSampleTimeout(time.Millisecond),
		WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
		OnAlert(func(a Alert) {
			select {
			case got <- a:
			default:
			}
		}),
	)
	require.NoError(t, err)
	<-got // analysis went on despite both
	require.NoError(t, g.Stop())
	st := g.Stats()
	require.GreaterOrEqual(t, st.SampleErrors, uint64(5+1))
	// One log line per burst of failures, not one per failed cycle.
	require.Equal(t, 1, bytes.Count(logs.Bytes(), []byte("transient failure")))
}

func TestGuardBlockedCallbackNeverBlocksAnalysis(t *testing.T) {
	defer goleak.VerifyNone(t)
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	src := &scriptedSampler{notifyAt: 200, reached: make(chan struct{})}
	g, err := Start(
		WithHorizon(horizon4s),
		WithSampler(src),
		WithInterval(time.Millisecond),
		WithAlertQueue(1),
		OnAlert(func(Alert) {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release
		}),
	)
	require.NoError(t, err)
	<-entered
	// The first alert arrives around call 48; the callback is now stuck, and
	// analysis must still reach call 200.
	<-src.reached
	close(release)
	require.NoError(t, g.Stop())
}

func TestGuardStopFromCallbackAndConcurrently(t *testing.T) {
	defer goleak.VerifyNone(t)
	var g *Guard
	ready := make(chan struct{})
	stopped := make(chan error, 1)
	var err error
	g, err = Start(
		WithSampler(&scriptedSampler{}),
		WithInterval(time.Millisecond),
		OnAlert(func(Alert) {
			<-ready
			select {
			case stopped <- g.Stop():
			default:
			}
		}),
	)
	require.NoError(t, err)
	close(ready)
	require.NoError(t, <-stopped)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); require.NoError(t, g.Stop()) }()
	}
	wg.Wait()
}

func TestGuardStopBeforeFirstCycle(t *testing.T) {
	defer goleak.VerifyNone(t)
	src := &scriptedSampler{}
	g, err := Start(WithSampler(src), WithInterval(time.Hour))
	require.NoError(t, err)
	require.NoError(t, g.Stop())
	require.Zero(t, src.calls.Load())
	require.Empty(t, g.Alerts())
}

// paced calls fn on a goroutine of its own about every millisecond until
// the returned stop is called; stop returns once the goroutine has.
func paced(fn func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
				fn()
				time.Sleep(time.Millisecond) // pacing the work, not synchronisation
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

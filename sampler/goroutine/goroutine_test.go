package goroutine

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/leakguard/leakguard/sampler"
)

//go:noinline
func parkedWorker(ch chan struct{}) { <-ch }

func count(s *sampler.Sample, fn string) (sampler.Record, bool) {
	for _, r := range s.Records {
		if strings.HasSuffix(r.Frames[len(r.Frames)-1].Function, fn) {
			return r, true
		}
	}
	return sampler.Record{}, false
}

func TestCountsGoroutinesPerCreationSite(t *testing.T) {
	s, err := New()
	require.NoError(t, err)
	defer s.Close()
	release := make(chan struct{})
	defer close(release)
	ready := make(chan struct{}, 25)
	for range 25 {
		go func() { ready <- struct{}{}; parkedWorker(release) }()
	}
	for range 25 {
		<-ready
	}
	smp, err := s.Sample(context.Background())
	require.NoError(t, err)
	require.Equal(t, sampler.Goroutines, smp.Resource)
	r, ok := count(smp, "TestCountsGoroutinesPerCreationSite.func1")
	require.True(t, ok)
	require.GreaterOrEqual(t, r.InUseObjects, int64(24), "all parked at one site (one may still be between send and park)")
	require.Equal(t, r.InUseObjects*MinStackBytes, r.InUseBytes)
	next, err := s.Sample(context.Background())
	require.NoError(t, err)
	require.Greater(t, next.Seq, smp.Seq)
	if !HasLeakProfile() {
		t.Log("goroutineleak profile not in this runtime (GOEXPERIMENT=goroutineleakprofile); ProvenLeaked stays 0")
	}
}

func TestClosedAndCancelled(t *testing.T) {
	s, err := New(WithLeakProfile(false))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = s.Sample(ctx)
	require.ErrorIs(t, err, context.Canceled)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	_, err = s.Sample(context.Background())
	require.ErrorIs(t, err, sampler.ErrClosed)
	_, err = New(nil)
	require.Error(t, err)
}

package pprofile

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	httppprof "net/http/pprof"
	"os"
	"path/filepath"

	"strings"
	"sync"
	"testing"

	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/require"

	"github.com/leakguard/leakguard/sampler"
	"github.com/leakguard/leakguard/sampler/goroutine"
)

//go:noinline
func parkForTest(release <-chan struct{}, started *sync.WaitGroup) {
	started.Done()
	<-release
}

// parked starts n goroutines blocked in parkForTest until the test ends.
func parked(t testing.TB, n int) {
	t.Helper()
	release := make(chan struct{})
	var started, done sync.WaitGroup
	started.Add(n)
	done.Add(n)
	for range n {
		go func() { // the creation site
			defer done.Done()
			parkForTest(release, &started)
		}()
	}
	started.Wait()
	t.Cleanup(func() { close(release); done.Wait() })
}

// siteCount returns the goroutines a Sample attributes to parkForTest's
// creation site.
func siteCount(t *testing.T, s *sampler.Sample) (count, bytes int64) {
	t.Helper()
	for _, r := range s.Records {
		site := r.Frames[len(r.Frames)-1].Function
		require.NotEqual(t, "runtime.goexit", site, "a site is the function inside goexit")
		if strings.HasSuffix(site, "pprofile.parked.func1") {
			count += r.InUseObjects
			bytes += r.InUseBytes
		}
	}
	return count, bytes
}

func TestGoroutineProfiles(t *testing.T) {
	parked(t, 7)
	p, err := profile.ParseData(goroutineProfile(t))
	require.NoError(t, err)
	res, ok := ResourceOf(p)
	require.True(t, ok)
	require.Equal(t, sampler.Goroutines, res)

	for _, tc := range []struct {
		st        SampleType
		wantBytes int64
	}{
		{InUseSpace, 7 * goroutine.MinStackBytes},
		{InUseObjects, 7},
	} {
		s, err := FromProfile(p, "goroutine.pb.gz", tc.st)
		require.NoError(t, err)
		require.Equal(t, sampler.Goroutines, s.Resource)
		require.Equal(t, p.TimeNanos, s.Time.UnixNano())
		n, b := siteCount(t, s)
		require.Equal(t, int64(7), n, "the goroutines are counted at their creation site")
		require.Equal(t, tc.wantBytes, b, tc.st)
	}

	// Stored: a series of goroutine profiles is read as one, and a profile
	// that repeats the one before is a new observation (goroutine profiles
	// are current whenever taken).
	dir := t.TempDir()
	for i := range 3 {
		p.TimeNanos += int64(i+1) * 1e9
		var buf bytes.Buffer
		require.NoError(t, p.Write(&buf))
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("g-%d.pb.gz", i)), buf.Bytes(), 0o600))
	}
	f, err := Open([]string{dir})
	require.NoError(t, err)
	require.Equal(t, sampler.Goroutines, f.Resource())
	require.Equal(t, 3, f.Len())
	require.Zero(t, f.Repeated())

	// Live: the kind is told by the URL until the first response, by the
	// profile after.
	srv := httptest.NewServer(httppprof.Handler("goroutine"))
	defer srv.Close()
	h, err := NewHTTP(srv.URL + "/debug/pprof/goroutine")
	require.NoError(t, err)
	require.Equal(t, sampler.Goroutines, h.Resource())
	s, err := h.Sample(context.Background())
	require.NoError(t, err)
	require.Equal(t, sampler.Goroutines, s.Resource)
	n, _ := siteCount(t, s)
	require.Equal(t, int64(7), n)

	h, err = NewHTTP(srv.URL + "/other")
	require.NoError(t, err)
	require.Equal(t, sampler.Heap, h.Resource())
	_, err = h.Sample(context.Background())
	require.NoError(t, err)
	require.Equal(t, sampler.Goroutines, h.Resource())
}

// TestHTTPSaysWhyNothingIsNew serves the same heap numbers under new
// timestamps, as an endpoint read between garbage collections does.
func TestHTTPSaysWhyNothingIsNew(t *testing.T) {
	p, err := profile.ParseData(heapProfile(t))
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.TimeNanos++
		_ = p.Write(w)
	}))
	defer srv.Close()
	h, err := NewHTTP(srv.URL)
	require.NoError(t, err)
	_, err = h.Sample(context.Background())
	require.NoError(t, err)
	_, err = h.Sample(context.Background())
	require.ErrorIs(t, err, sampler.ErrNoNewData)
	require.ErrorIs(t, err, ErrNoGC)
	require.ErrorContains(t, err, "no GC completed since the last profile")
}

package pprofile

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// writeBomb writes a gzip stream that inflates to n zero bytes, a chunk at
// a time: the bomb is made without holding what it inflates to.
func writeBomb(t testing.TB, w io.Writer, n int64) {
	t.Helper()
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	require.NoError(t, err)
	zeros := make([]byte, 64<<10)
	for ; n > 0; n -= int64(len(zeros)) {
		_, err := zw.Write(zeros[:min(n, int64(len(zeros)))])
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
}

// allocated reports the bytes fn allocated on the heap in total.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

const (
	bombSize = 32 << 20 // inflated; about 32 KiB as stored
	testCap  = 1 << 20
	// budget bounds what refusing a bomb may allocate: a few times the cap
	// for the buffers, nowhere near the bomb.
	budget = 16 << 20
)

// TestDecompressionBombIsRefused stores and serves gzip streams of zeros
// that inflate to 32× and 256× the cap: they are refused, naming the file
// or URL, after reading at most the cap.
func TestDecompressionBombIsRefused(t *testing.T) {
	var bomb bytes.Buffer
	writeBomb(t, &bomb, bombSize)
	require.Less(t, bomb.Len(), testCap, "the bomb is small as stored")
	// gzip readers read concatenated members as one stream: 64 copies of a
	// 4 MiB member inflate to 256 MiB, cheaply made.
	var member, multi bytes.Buffer
	writeBomb(t, &member, 4<<20)
	for range 64 {
		multi.Write(member.Bytes())
	}
	var twice bytes.Buffer // a small gzip that inflates to the bomb
	zw := gzip.NewWriter(&twice)
	_, err := zw.Write(bomb.Bytes())
	require.NoError(t, err)
	require.NoError(t, zw.Close())

	dir := t.TempDir()
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"bomb", bomb.Bytes(), "profile too large: more than 1048576 bytes once decompressed"},
		{"multi-member bomb", multi.Bytes(), "profile too large: more than 1048576 bytes once decompressed"},
		{"gzip inside gzip", twice.Bytes(), "gzip inside gzip"},
		{"too large as read", bytes.Repeat([]byte{0}, testCap+1), "more than 1048576 bytes as "},
	}
	for _, tc := range tests {
		t.Run(tc.name+"/file", func(t *testing.T) {
			path := filepath.Join(dir, "bomb.pb.gz")
			require.NoError(t, os.WriteFile(path, tc.data, 0o600))
			var err error
			n := allocated(func() { _, err = Open([]string{path}, WithMaxProfileSize(testCap)) })
			require.ErrorContains(t, err, path+": ")
			require.ErrorContains(t, err, tc.want)
			if tc.name != "gzip inside gzip" {
				require.ErrorIs(t, err, ErrTooLarge)
			}
			require.Less(t, n, uint64(budget), "refused within bounded memory")
		})
		t.Run(tc.name+"/http", func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(tc.data) }))
			defer srv.Close()
			h, err := NewHTTP(srv.URL+"/debug/pprof/heap", WithHTTPMaxProfileSize(testCap))
			require.NoError(t, err)
			defer h.Close()
			n := allocated(func() { _, err = h.Sample(context.Background()) })
			require.ErrorContains(t, err, srv.URL+"/debug/pprof/heap: ")
			require.ErrorContains(t, err, tc.want)
			require.Less(t, n, uint64(budget), "refused within bounded memory")
		})
	}

	// Sent with Content-Encoding: gzip, the bomb is inflated by the HTTP
	// client, under the same cap.
	t.Run("content-encoding", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(bomb.Bytes())
		}))
		defer srv.Close()
		h, err := NewHTTP(srv.URL, WithHTTPMaxProfileSize(testCap))
		require.NoError(t, err)
		defer h.Close()
		n := allocated(func() { _, err = h.Sample(context.Background()) })
		require.ErrorIs(t, err, ErrTooLarge)
		require.ErrorContains(t, err, "more than 1048576 bytes as received")
		require.Less(t, n, uint64(budget), "refused within bounded memory")
	})

	// A real profile passes the default cap.
	path := filepath.Join(dir, "heap.pb.gz")
	require.NoError(t, os.WriteFile(path, heapProfile(t), 0o600))
	_, err = Open([]string{path})
	require.NoError(t, err)
}

func TestReadAtMost(t *testing.T) {
	const limit = 200 << 10 // past the first two chunks (64 and 128 KiB)
	for _, tc := range []struct {
		n    int
		over bool
	}{
		{0, false}, {1, false}, {64 << 10, false}, {64<<10 + 1, false},
		{192 << 10, false}, {limit - 1, false}, {limit, false}, {limit + 1, true}, {4 * limit, true},
	} {
		in := make([]byte, tc.n)
		for i := range in {
			in[i] = byte(i)
		}
		b, over, err := readAtMost(bytes.NewReader(in), limit)
		require.NoError(t, err, tc.n)
		require.Equal(t, tc.over, over, tc.n)
		if !tc.over {
			require.Equal(t, in, b, tc.n)
		}
	}
}

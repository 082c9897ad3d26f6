package leaktest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Code under test shared by the tests below; the matrices of leak forms
// and benign forms are in forms_test.go.

var sink [][]byte

func appendGlobal() { sink = append(sink, make([]byte, 256)) }

var block = make(chan struct{})

func goroutineBlockedWithBuffer() {
	buf := make([]byte, 1024)
	ch := block
	go func() {
		<-ch // never closed while measured: the goroutine and its buffer live on
		_ = buf
	}()
}

var pool = sync.Pool{New: func() any { return make([]byte, 4096) }}

func usePool() {
	b := pool.Get().([]byte)
	b[0]++
	//lint:ignore SA6002 a []byte in a Pool is what this test exercises
	pool.Put(b)
}

var discard []byte

func churnOnly() {
	for range 10 {
		discard = make([]byte, 1024)
	}
	discard = nil
}

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	failed bool
	msg    string
}

func (r *recorder) Helper() {}
func (r *recorder) Error(args ...any) {
	r.failed = true
	r.msg = fmt.Sprint(args...)
}

func TestIgnoreFunctionAndFloor(t *testing.T) {
	sink = nil
	require.NoError(t, Find(appendGlobal, IgnoreFunction("github.com/leakguard/leakguard/leaktest.appendGlobal")))
	require.NoError(t, Find(appendGlobal, IgnoreFunction("github.com/leakguard/leakguard/leaktest.*")))
	require.NoError(t, Find(appendGlobal, MinBytesPerCall(1<<20)))
	require.NoError(t, Find(goroutineBlockedWithBuffer, HeapOnly()))
	close(block)
	block = make(chan struct{})
	require.ErrorContains(t, Find(appendGlobal, GoroutinesOnly(), HeapOnly()), "nothing to check")
}

func TestOptionsRejected(t *testing.T) {
	tests := []struct {
		opt  Option
		want string
	}{
		{Rounds(-1, 16), "Rounds"},
		{Rounds(2, 3), "Rounds"},
		{Rounds(2, 15), "Rounds"},
		{CallsPerRound(0), "CallsPerRound"},
		{Confidence(1), "Confidence"},
		{IgnoreFunction(""), "IgnoreFunction"},
		{MinBytesPerCall(-1), "MinBytesPerCall"},
		{nil, "nil Option"},
	}
	for _, tc := range tests {
		require.ErrorContains(t, Find(func() {}, tc.opt), tc.want)
	}
	require.ErrorContains(t, Find(nil), "nil function")
}

// TestParallelChecksDoNotBlameEachOther runs a leaky and a clean Check at
// the same time: the clean one must pass.
func TestParallelChecksDoNotBlameEachOther(t *testing.T) {
	sink = nil
	t.Run("group", func(t *testing.T) {
		t.Run("leaky", func(t *testing.T) {
			t.Parallel()
			var local [][]byte
			r := &recorder{TB: t}
			Check(r, func() { local = append(local, make([]byte, 300)) })
			require.True(t, r.failed)
		})
		t.Run("clean", func(t *testing.T) {
			t.Parallel()
			Check(t, churnOnly)
		})
	})
}

func ExampleCheck() {
	// In a test: leaktest.Check(t, func() { handler.Serve(req) })
	var cache [][]byte
	err := Find(func() { cache = append(cache, make([]byte, 100)) })
	fmt.Println(err != nil)
	// Output: true
}

// BenchmarkCheck measures a default Check of a function taking about
// 10 µs.
func BenchmarkCheck(b *testing.B) {
	work := func() {
		x := 0
		for i := range 20000 {
			x += i * i
		}
		discard = make([]byte, x%7)
	}
	for b.Loop() {
		if err := Find(work); err != nil {
			b.Fatal(err)
		}
	}
}

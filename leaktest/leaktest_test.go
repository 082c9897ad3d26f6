package leaktest

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Leaky and benign code under test. Package-level state is reset by each
// test that uses it.

var sink [][]byte

func appendGlobal() { sink = append(sink, make([]byte, 256)) }

var registry = map[int][]byte{}
var nextID int

func mapNeverPruned() {
	nextID++
	registry[nextID] = make([]byte, 128)
}

var block = make(chan struct{})

func goroutineBlockedWithBuffer() {
	buf := make([]byte, 1024)
	ch := block
	go func() {
		<-ch // never closed while measured: the goroutine and its buffer live on
		_ = buf
	}()
}

var calls int

func leakEveryTenthCall() {
	calls++
	if calls%10 == 0 {
		sink = append(sink, make([]byte, 512))
	}
}

var (
	once     sync.Once
	initOnce []byte
)

func onceInit() { once.Do(func() { initOnce = make([]byte, 1<<20) }) }

var lazy map[string][]byte

func lazyPackageCache() {
	if lazy == nil {
		lazy = map[string][]byte{}
		for i := range 50 {
			lazy[fmt.Sprint(i)] = make([]byte, 64)
		}
	}
	_ = lazy["7"]
}

type bounded struct {
	mu    sync.Mutex
	slots [100][]byte
	n     int
}

func (b *bounded) put() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.slots[b.n%len(b.slots)] = make([]byte, 200)
	b.n++
}

var pool = sync.Pool{New: func() any { return make([]byte, 4096) }}

func usePool() {
	b := pool.Get().([]byte)
	b[0]++
	pool.Put(b) //nolint:staticcheck // a []byte in a Pool is fine for this test
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

func TestCheckCatchesLeaks(t *testing.T) {
	tests := []struct {
		name      string
		fn        func()
		goroutine bool
		leaf      string
	}{
		{"global slice append", appendGlobal, false, "leaktest.appendGlobal"},
		{"map never pruned", mapNeverPruned, false, "leaktest.mapNeverPruned"},
		{"goroutine blocked forever holding a buffer", goroutineBlockedWithBuffer, true, "leaktest.goroutineBlockedWithBuffer.func1"},
		{"leak on every 10th call", leakEveryTenthCall, false, "leaktest.leakEveryTenthCall"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink, registry, nextID, calls = nil, map[int][]byte{}, 0, 0
			t.Cleanup(func() { close(block); block = make(chan struct{}) }) // release the leaked goroutines
			r := &recorder{TB: t}
			Check(r, tc.fn)
			require.True(t, r.failed, "leak not reported")
			require.Contains(t, r.msg, tc.leaf)
			err := Find(tc.fn)
			var le *Error
			require.ErrorAs(t, err, &le)
			found := false
			for _, l := range le.Leaks {
				if l.Goroutine == tc.goroutine && strings.Contains(strings.Join(l.Frames, "\n"), tc.leaf) {
					found = true
					require.Positive(t, l.PerCall)
					require.GreaterOrEqual(t, l.Confidence, 0.999)
				}
			}
			require.True(t, found, "%v", err)
		})
	}
}

func TestCheckPassesBenignCode(t *testing.T) {
	b := new(bounded)
	tests := []struct {
		name string
		fn   func()
	}{
		{"sync.Once initialisation", onceInit},
		{"lazily filled package cache", lazyPackageCache},
		{"bounded cache filling during warm-up", b.put},
		{"sync.Pool", usePool},
		{"allocates heavily, retains nothing", churnOnly},
		{"short-lived goroutine", func() {
			done := make(chan struct{})
			go func() { close(done) }()
			<-done
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, Find(tc.fn))
		})
	}
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

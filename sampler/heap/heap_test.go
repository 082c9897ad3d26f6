package heap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/leakguard/leakguard/sampler"
	"github.com/leakguard/leakguard/storage"
)

// These tests change runtime.MemProfileRate, which is process-wide, so none
// of them runs in parallel.

func withRate(t testing.TB, rate int) {
	old := runtime.MemProfileRate
	runtime.MemProfileRate = rate
	t.Cleanup(func() { runtime.MemProfileRate = old })
}

var retained [][]byte

//go:noinline
func leakyAllocator(n, size int) {
	for range n {
		retained = append(retained, make([]byte, size))
	}
}

// find returns the record whose leaf is fn called from caller (other tests,
// and earlier -count runs, allocate from the same leaf at other sites).
func find(s *sampler.Sample, fn, caller string) (sampler.Record, bool) {
	for _, r := range s.Records {
		if len(r.Frames) > 1 && strings.HasSuffix(r.Frames[0].Function, fn) && strings.HasSuffix(r.Frames[1].Function, caller) && r.InUseObjects > 0 {
			return r, true
		}
	}
	return sampler.Record{}, false
}

func TestSampleSeesRetainedAllocationsAtTheirLeaf(t *testing.T) {
	defer goleak.VerifyNone(t)
	withRate(t, 1)
	t.Cleanup(func() { retained = nil })
	s, err := New(WithForceGC(true))
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()

	retained = make([][]byte, 0, 1000) // appends below never grow it
	var got [2]*sampler.Sample
	for i := range got { // one call site, so one stack
		leakyAllocator(100, 1000)
		got[i], err = s.Sample(ctx)
		require.NoError(t, err)
	}
	first, second := got[0], got[1]

	r1, ok := find(first, ".leakyAllocator", ".TestSampleSeesRetainedAllocationsAtTheirLeaf")
	require.True(t, ok, "leaf must be the allocating function, not runtime.mallocgc")
	r2, ok := find(second, ".leakyAllocator", ".TestSampleSeesRetainedAllocationsAtTheirLeaf")
	require.True(t, ok)
	require.Equal(t, r1.Stack, r2.Stack, "fingerprints are stable")
	require.Equal(t, int64(100), r1.InUseObjects)
	require.Equal(t, int64(200), r2.InUseObjects)
	// 1000-byte requests land in the 1024-byte size class.
	require.Equal(t, int64(200*1024), r2.InUseBytes)
	require.GreaterOrEqual(t, r2.AllocObjects, r2.InUseObjects)
	require.Equal(t, int64(1), second.Rate)
	require.Greater(t, second.Seq, first.Seq)
	require.Equal(t, sampler.Heap, second.Resource)
	require.Equal(t, "runtime", second.Source)
	require.Contains(t, r2.Frames[0].File, "heap_test.go")
}

var garbage []byte

// collectByItself allocates garbage until the runtime has completed a
// collection it started on its own, as a service's are.
func collectByItself(t *testing.T) {
	t.Helper()
	auto := []metrics.Sample{{Name: "/gc/cycles/automatic:gc-cycles"}}
	metrics.Read(auto)
	before := auto[0].Value.Uint64()
	for range 1 << 20 { // a thousand times what any heap here needs
		garbage = make([]byte, 64<<10)
		metrics.Read(auto)
		if auto[0].Value.Uint64() > before {
			return
		}
	}
	t.Fatal("no collection after 64 GiB of garbage")
}

// TestSampleShowsThePublishedCycle: after a collection the program ran by
// itself, the runtime publishes the snapshot of the collection before it
// (runtime/mprof.go), so objects retained just before the newest collection
// are not in the profile yet and the Sample is stamped with the previous
// collection's end; runtime.GC publishes its own at once.
func TestSampleShowsThePublishedCycle(t *testing.T) {
	withRate(t, 1)
	t.Cleanup(func() { retained = nil; garbage = nil })
	s, err := New()
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()
	var st debug.GCStats
	runtime.GC()
	_, err = s.Sample(ctx)
	require.NoError(t, err)
	runtime.GC()
	_, err = s.Sample(ctx)
	require.NoError(t, err)
	// The next collection the program runs publishes the forced one's
	// snapshot again: nothing new.
	collectByItself(t)
	_, err = s.Sample(ctx)
	require.ErrorIs(t, err, sampler.ErrNoNewData)

	retained = make([][]byte, 0, 100)
	leakyAllocator(100, 1000)
	collectByItself(t)
	got, err := s.Sample(ctx)
	require.NoError(t, err)
	debug.ReadGCStats(&st)
	_, ok := find(got, ".leakyAllocator", ".TestSampleShowsThePublishedCycle")
	require.False(t, ok, "objects retained before the newest collection are published only by the next")
	require.True(t, got.Time.Equal(st.PauseEnd[1]), "stamped with the previous collection's end (%v), not the newest's (%v): %v", st.PauseEnd[1], st.LastGC, got.Time)

	runtime.GC()
	got, err = s.Sample(ctx)
	require.NoError(t, err)
	debug.ReadGCStats(&st)
	r, ok := find(got, ".leakyAllocator", ".TestSampleShowsThePublishedCycle")
	require.True(t, ok, "runtime.GC publishes its own snapshot")
	require.Equal(t, int64(100), r.InUseObjects)
	require.True(t, got.Time.Equal(st.LastGC), "stamped with the forced collection's end")
}

func TestSampleWaitsForAGarbageCollection(t *testing.T) {
	s, err := New()
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()
	runtime.GC()
	_, err = s.Sample(ctx)
	require.NoError(t, err)
	_, err = s.Sample(ctx)
	require.ErrorIs(t, err, sampler.ErrNoNewData, "no GC completed in between")
	runtime.GC()
	_, err = s.Sample(ctx)
	require.NoError(t, err)
}

func TestSampleCollectsWhenTheLastGCIsTooOld(t *testing.T) {
	s, err := New(WithMaxGCAge(time.Nanosecond))
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()
	first, err := s.Sample(ctx)
	require.NoError(t, err)
	second, err := s.Sample(ctx)
	require.NoError(t, err, "the sampler collected rather than report no new data")
	require.NotEqual(t, first.Seq, second.Seq)
	require.False(t, second.Time.Before(first.Time), "stamped with the collection it describes")

	_, err = New(WithMaxGCAge(-time.Second))
	require.ErrorContains(t, err, "WithMaxGCAge")
}

func TestEpochChangesWithTheRate(t *testing.T) {
	withRate(t, 512<<10)
	s, err := New(WithForceGC(true))
	require.NoError(t, err)
	defer s.Close()
	a, err := s.Sample(context.Background())
	require.NoError(t, err)
	runtime.MemProfileRate = 64 << 10
	b, err := s.Sample(context.Background())
	require.NoError(t, err)
	require.NotEqual(t, a.Epoch, b.Epoch)
	c, err := s.Sample(context.Background())
	require.NoError(t, err)
	require.Equal(t, b.Epoch, c.Epoch)
	require.Equal(t, int64(64<<10), c.Rate)
}

func TestErrors(t *testing.T) {
	_, err := New(WithSymbolCacheSize(0))
	require.ErrorContains(t, err, "WithSymbolCacheSize")
	_, err = New(nil)
	require.Error(t, err)

	s, err := New()
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = s.Sample(ctx)
	require.ErrorIs(t, err, context.Canceled)

	withRate(t, 0)
	_, err = s.Sample(context.Background())
	require.ErrorContains(t, err, "MemProfileRate = 0")

	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	_, err = s.Sample(context.Background())
	require.True(t, errors.Is(err, sampler.ErrClosed))
}

// TestScalingMatchesPprof compares the scaled totals with what
// runtime/pprof writes for the same heap at the default rate.
func TestScalingMatchesPprof(t *testing.T) {
	t.Cleanup(func() { retained = nil })
	retained = make([][]byte, 0, 5000)
	leakyAllocator(5000, 3000)
	s, err := New(WithForceGC(true))
	require.NoError(t, err)
	defer s.Close()
	ours, err := s.Sample(context.Background())
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, pprof.Lookup("heap").WriteTo(&buf, 0))
	p, err := profile.Parse(&buf)
	require.NoError(t, err)
	var inuseIdx int
	for i, st := range p.SampleType {
		if st.Type == "inuse_space" {
			inuseIdx = i
		}
	}
	var theirs int64
	for _, smp := range p.Sample {
		for _, loc := range smp.Location {
			if len(loc.Line) > 0 && strings.HasSuffix(loc.Line[0].Function.Name, ".leakyAllocator") &&
				len(smp.Location) > 1 && strings.HasSuffix(smp.Location[1].Line[0].Function.Name, ".TestScalingMatchesPprof") {
				theirs += smp.Value[inuseIdx]
				break
			}
		}
	}
	r, ok := find(ours, ".leakyAllocator", ".TestScalingMatchesPprof")
	require.True(t, ok)
	require.Equal(t, theirs, r.InUseBytes, "same data, same scaling")
}

func TestSymbolCacheIsBounded(t *testing.T) {
	s, err := New(WithSymbolCacheSize(2), WithForceGC(true))
	require.NoError(t, err)
	defer s.Close()
	smp, err := s.Sample(context.Background())
	require.NoError(t, err)
	require.Greater(t, len(smp.Records), 2)
	require.LessOrEqual(t, s.symbols.Len(), 2)
	for _, r := range smp.Records {
		require.NotEmpty(t, r.Frames)
	}
}

var benchSink [][]byte

// distinctStacks allocates one retained object from each of 2^depth
// distinct call paths.
func distinctStacks(depth int) {
	var walk func(d int)
	left := func(d int) { walk(d) }
	right := func(d int) { walk(d) }
	walk = func(d int) {
		if d == 0 {
			benchSink = append(benchSink, make([]byte, 64))
			return
		}
		left(d - 1)
		right(d - 1)
	}
	walk(depth)
}

// BenchmarkSample compares reading runtime.MemProfile directly (what the
// Sampler does, listing every stack or, as a Guard reads, the changes) with
// writing a pprof profile and parsing it back, at about 100, 1,000 and
// 10,000 live stacks.
func BenchmarkSample(b *testing.B) {
	for _, depth := range []int{7, 10, 13} {
		withRate(b, 1)
		benchSink = nil
		distinctStacks(depth)
		runtime.GC()
		stacks := 1 << depth
		b.Run(fmt.Sprintf("direct/stacks=%d", stacks), func(b *testing.B) {
			s, _ := New(WithForceGC(false))
			defer s.Close()
			// Symbolising every stack happens once; the cycle after it is what
			// a running Guard pays, so warm the cache outside the timing.
			if _, err := s.Sample(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				s.sampled = false // measure the read, not the GC wait
				if _, err := s.Sample(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("changes/stacks=%d", stacks), func(b *testing.B) {
			// As a Guard reads: lazy frames, and only the stacks that changed.
			s, _ := New(WithLazyFrames(true), WithChanges(true))
			defer s.Close()
			if _, err := s.Sample(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				s.lastGC = 0 // measure the read, not the GC wait
				if _, err := s.Sample(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("pprof/stacks=%d", stacks), func(b *testing.B) {
			var buf bytes.Buffer
			b.ReportAllocs()
			for b.Loop() {
				buf.Reset()
				if err := pprof.Lookup("heap").WriteTo(&buf, 0); err != nil {
					b.Fatal(err)
				}
				if _, err := profile.Parse(&buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

var retainedHistories []*storage.Counts

func TestLeakguardsOwnAllocationsAreLeftOut(t *testing.T) {
	withRate(t, 1)
	for range 64 {
		h, err := storage.NewCounts(48, 4)
		require.NoError(t, err)
		for i := range uint64(100) {
			h.Push(i, uint32(i), uint32(i), 0)
		}
		retainedHistories = append(retainedHistories, h)
	}
	defer func() { retainedHistories = nil }()
	fromStorage := func(s *sampler.Sample) bool {
		for _, r := range s.Records {
			frames := s.FramesOf(&r)
			if len(frames) > 0 && strings.HasPrefix(frames[0].Function, "github.com/leakguard/leakguard/storage.") && r.InUseBytes > 0 {
				return true
			}
		}
		return false
	}
	for _, tc := range []struct {
		name string
		opts []Option
		want bool
	}{
		{"default", nil, false},
		{"WithSelf", []Option{WithSelf(true)}, true},
		{"lazy frames", []Option{WithLazyFrames(true)}, false},
		{"lazy frames WithSelf", []Option{WithLazyFrames(true), WithSelf(true)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(append(tc.opts, WithForceGC(true))...)
			require.NoError(t, err)
			defer s.Close()
			got, err := s.Sample(context.Background())
			require.NoError(t, err)
			require.Equal(t, tc.want, fromStorage(got))
			require.Positive(t, s.SelfBytes(), "measured whether or not reported")
		})
	}
}

func TestAllocatedBySelf(t *testing.T) {
	fr := func(fn, file string) sampler.Frame { return sampler.Frame{Function: fn, File: file} }
	for _, tc := range []struct {
		name   string
		frames []sampler.Frame
		want   bool
	}{
		{"storage", []sampler.Frame{fr("github.com/leakguard/leakguard/storage.(*level).add", "/m/storage/history.go")}, true},
		{"lru on behalf of the detector", []sampler.Frame{
			fr("github.com/hashicorp/golang-lru/v2/internal.(*LruList[...]).insertValue", "/x/list.go"),
			fr("github.com/hashicorp/golang-lru/v2/simplelru.(*LRU[...]).Add", "/x/lru.go"),
			fr("github.com/leakguard/leakguard.(*Detector).Observe", "/m/detector.go"),
		}, true},
		{"stdlib on behalf of the guard", []sampler.Frame{fr("encoding/json.Marshal", "/go/json.go"), fr("github.com/leakguard/leakguard.(*Guard).Report", "/m/report.go")}, true},
		{"user callback", []sampler.Frame{fr("main.onAlert", "/app/main.go"), fr("github.com/leakguard/leakguard.(*Guard).deliver", "/m/guard.go")}, false},
		{"leakguard's own tests", []sampler.Frame{fr("github.com/leakguard/leakguard.leakForTest", "/m/guard_test.go")}, false},
		{"workloads", []sampler.Frame{fr("github.com/leakguard/leakguard/internal/workload.leakSession", "/m/internal/workload/workload.go")}, false},
		{"user package", []sampler.Frame{fr("example.com/svc/cache.(*C).Put", "/app/cache.go")}, false},
		{"runtime only", []sampler.Frame{fr("runtime.malg", "/go/proc.go")}, false},
	} {
		require.Equal(t, tc.want, allocatedBySelf(tc.frames), tc.name)
	}
}

//go:noinline
func retainSizes(sizes ...int) {
	for _, n := range sizes {
		leakyAllocator(1, n) // one stack, several sizes
	}
}

func TestOneRecordPerStackAcrossSizes(t *testing.T) {
	withRate(t, 1)
	retainSizes(1000, 5000, 20000)
	defer func() { retained = nil }()
	s, err := New(WithForceGC(true))
	require.NoError(t, err)
	defer s.Close()
	got, err := s.Sample(context.Background())
	require.NoError(t, err)
	seen := map[uint64]bool{}
	for _, r := range got.Records {
		require.False(t, seen[r.Stack], "stack %x appears twice", r.Stack)
		seen[r.Stack] = true
	}
	// The slices themselves: appending to retained is another stack with
	// the same symbolised frames.
	var merged bool
	for _, r := range got.Records {
		if len(r.Frames) > 1 && strings.HasSuffix(r.Frames[0].Function, "leakyAllocator") &&
			strings.HasSuffix(r.Frames[1].Function, "retainSizes") && r.InUseBytes >= 26000 {
			merged = r.InUseObjects == 3
		}
	}
	require.True(t, merged, "the three sizes are one record")
}

// TestSelfByProgramCounter checks the per-PC classification lazy frames use
// against allocatedBySelf on the symbolised stack, for every stack of this
// process's profile.
func TestSelfByProgramCounter(t *testing.T) {
	withRate(t, 1)
	retainSizes(1000, 5000)
	defer func() { retained = nil }()
	runtime.GC()
	s, err := New()
	require.NoError(t, err)
	defer s.Close()
	n := s.read()
	require.Positive(t, n)
	for _, r := range s.records[:n] {
		stk := r.Stack()
		require.Equal(t, allocatedBySelf(symbolise(stk)), s.selfStack(stk), "%v", symbolise(stk))
	}
}

func TestLazyFramesResolveUntilTheNextSample(t *testing.T) {
	withRate(t, 1)
	retainSizes(1000)
	defer func() { retained = nil }()
	s, err := New(WithLazyFrames(true), WithForceGC(true))
	require.NoError(t, err)
	defer s.Close()
	first, err := s.Sample(context.Background())
	require.NoError(t, err)
	require.NotEmpty(t, first.Records)
	var found bool
	for _, r := range first.Records {
		require.Nil(t, r.Frames)
		frames := first.FramesOf(&r)
		require.NotEmpty(t, frames)
		found = found || strings.HasSuffix(frames[0].Function, "leakyAllocator")
	}
	require.True(t, found)
	s.Release() // a small buffer is kept: Resolve still answers
	require.NotNil(t, first.Resolve(first.Records[0].Stack))
	_, err = s.Sample(context.Background())
	require.NoError(t, err)
	require.Nil(t, first.Resolve(first.Records[0].Stack), "a Sample resolves only until the next")
}

func TestIndex(t *testing.T) {
	var s Sampler
	for _, n := range []int{0, 5, 1000, 3, 5000} {
		s.forget()
		for i := range n {
			s.buckets = append(s.buckets, bucket{key: uint64(i) * 0x9e3779b97f4a7c15})
			s.growIndex(i + 1) // grows while full of keys
			s.insert(i)
		}
		for i := range n {
			got, ok := s.find(uint64(i) * 0x9e3779b97f4a7c15)
			require.True(t, ok)
			require.Equal(t, i, got)
		}
		_, ok := s.find(12345)
		require.False(t, ok)
	}
}

// TestRecordsCarryOverBetweenSamples checks that what a Sample carries over
// from the previous one for each profile record (fingerprint, own or not)
// is what working it out afresh gives, after new stacks appeared between
// the two.
func TestRecordsCarryOverBetweenSamples(t *testing.T) {
	withRate(t, 1)
	defer func() { retained = nil }()
	s, err := New(WithLazyFrames(true), WithForceGC(true))
	require.NoError(t, err)
	defer s.Close()
	for round := range 3 {
		retainSizes(100*(round+1), 7000*(round+1)) // new buckets each round
		_, err := s.Sample(context.Background())
		require.NoError(t, err)
		n := s.last
		require.Len(t, s.buckets, n)
		for i, r := range s.records[:n] {
			stk := r.Stack()
			b := s.buckets[n-1-i]
			require.Equal(t, s.fingerprint(s.userStack(stk)), b.key, "record %d", i)
			require.Equal(t, s.selfStack(stk), b.self, "record %d", i)
			require.Equal(t, b.key, s.buckets[b.canon].key, "record %d", i)
		}
	}
}

//go:noinline
func retainSizesAgain(sizes ...int) {
	for _, n := range sizes {
		leakyAllocator(1, n)
	}
}

// TestChangesAddUpToTheWholeProfile applies each Sample of a Sampler
// WithChanges to what the previous ones listed and checks the result, and
// the Total, against the whole profile read at the same collection: after
// new stacks, a stack gaining a size in the same cycle its only other size
// changed, a change to one size of a stack with several, and frees.
func TestChangesAddUpToTheWholeProfile(t *testing.T) {
	withRate(t, 1)
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // only the test's collections: both read the same one
	defer func() { retained = nil }()
	changes, err := New(WithChanges(true), WithLazyFrames(true))
	require.NoError(t, err)
	defer changes.Close()
	whole, err := New(WithLazyFrames(true))
	require.NoError(t, err)
	defer whole.Close()
	whole.seed = changes.seed
	held := map[uint64]sampler.Record{}
	for round, sizes := range [][]int{{3000}, {3000, 9000}, {9000}, {}, nil} {
		retainSizesAgain(sizes...)
		if sizes == nil {
			retained = nil
		}
		runtime.GC()
		got, err := changes.Sample(context.Background())
		require.NoError(t, err)
		want, err := whole.Sample(context.Background())
		require.NoError(t, err)
		require.Equal(t, round > 0, got.Changes)
		require.False(t, want.Changes)
		require.Nil(t, want.Total)
		if round > 0 {
			require.Less(t, len(got.Records), len(want.Records), "round %d: some stacks hold still", round)
		}
		for _, r := range got.Records {
			held[r.Stack] = r
		}
		var sum sampler.Record
		for _, r := range want.Records {
			require.Equal(t, r, held[r.Stack], "round %d", round)
			sum.InUseBytes += r.InUseBytes
			sum.InUseObjects += r.InUseObjects
			sum.InUseSampled += r.InUseSampled
			sum.AllocSampled += r.AllocSampled
		}
		require.Len(t, held, len(want.Records), "round %d", round)
		require.Equal(t, sum, *got.Total, "round %d", round)
	}

	// A bucket not where the runtime's order puts it: the Sample is read
	// afresh and lists every stack.
	changes.buckets[len(changes.buckets)/2].leaf++
	runtime.GC()
	got, err := changes.Sample(context.Background())
	require.NoError(t, err)
	want, err := whole.Sample(context.Background())
	require.NoError(t, err)
	require.False(t, got.Changes)
	require.ElementsMatch(t, want.Records, got.Records)
}

// TestLargeBufferOutsideTheHeap checks that a profile buffer too large to
// keep is mapped outside the Go heap where the system allows it, holds
// what MemProfile writes, and is let go by Release and Close.
func TestLargeBufferOutsideTheHeap(t *testing.T) {
	s, err := New()
	require.NoError(t, err)
	s.alloc(keepRecords + 1)
	require.Equal(t, runtime.GOOS == "linux", s.mapped)
	require.Len(t, s.records, keepRecords+1)
	n, ok := runtime.MemProfile(s.records, true)
	require.True(t, ok)
	require.Positive(t, n)
	require.NotEmpty(t, s.records[0].Stack())
	s.Release()
	require.Nil(t, s.records)
	require.False(t, s.mapped)
	s.alloc(keepRecords + 1)
	require.NoError(t, s.Close())
	require.Nil(t, s.records)
	require.False(t, s.mapped)
}

// TestStampBeforeTheFirstCollection: a fresh process's first sample, read
// before any collection, is stamped when it was read, not at the Unix
// epoch runtime/debug reports for the last collection.
func TestStampBeforeTheFirstCollection(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	gc, earlier := now.Add(-3*time.Second), now.Add(-9*time.Second)
	tests := []struct {
		name     string
		st       debug.GCStats
		previous bool
		want     time.Time
	}{
		{"no collection yet", debug.GCStats{LastGC: time.Unix(0, 0)}, false, now},
		{"after one", debug.GCStats{NumGC: 1, LastGC: gc, PauseEnd: []time.Time{gc}}, false, gc},
		{"after one, its snapshot published by the next", debug.GCStats{NumGC: 1, LastGC: gc, PauseEnd: []time.Time{gc}}, true, gc},
		{"the one before the newest", debug.GCStats{NumGC: 2, LastGC: gc, PauseEnd: []time.Time{gc, earlier}}, true, earlier},
		{"the newest", debug.GCStats{NumGC: 2, LastGC: gc, PauseEnd: []time.Time{gc, earlier}}, false, gc},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.True(t, tc.want.Equal(stampOf(&tc.st, now, tc.previous)))
		})
	}
}

var keptMap map[int]int

//go:noinline
func growMap(n int) {
	for i := range n {
		keptMap[i] = i // the map's groups, tables and directory: allocated on several runtime paths
	}
}

// TestOneRecordPerStackAcrossRuntimePaths: a map growing at one line is
// allocated by the runtime on several paths (new groups, tables, a larger
// directory), each a bucket of its own in runtime.MemProfile. Their stacks
// differ only in the runtime's frames, which are hidden, so they are one
// stack to a user — and one record, as in the heap profiles runtime/pprof
// writes, which hide the same frames: the leak's evidence is not split.
func TestOneRecordPerStackAcrossRuntimePaths(t *testing.T) {
	withRate(t, 1)
	keptMap = map[int]int{}
	growMap(1 << 14)
	defer func() { keptMap = nil }()
	s, err := New(WithForceGC(true))
	require.NoError(t, err)
	defer s.Close()
	got, err := s.Sample(context.Background())
	require.NoError(t, err)
	var atGrowMap int
	var objects int64
	for _, r := range got.Records {
		if len(r.Frames) > 0 && strings.HasSuffix(r.Frames[0].Function, ".growMap") {
			atGrowMap++
			objects += r.InUseObjects
		}
	}
	require.Equal(t, 1, atGrowMap, "one record for the line that grows the map")
	require.Greater(t, objects, int64(1), "its several allocations are in it")
}

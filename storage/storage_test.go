package storage

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

func pt(i int) Point {
	return Point{T: float32(i), InUseBytes: float32(10 * i), InUseObjects: float32(i), AllocBytes: float32(100 * i)}
}

func TestNewHistoryRejects(t *testing.T) {
	tests := []struct {
		capacity, levels int
		want             string
	}{
		{3, 1, "capacity"},
		{8, 0, "levels"},
		{8, 17, "levels"},
	}
	for _, tc := range tests {
		_, err := NewHistory(tc.capacity, tc.levels)
		require.ErrorContains(t, err, tc.want)
	}
	_, err := NewStore[int](0, nil)
	require.ErrorContains(t, err, "maxEntries")
}

func TestHistoryLevelsAreExactMeans(t *testing.T) {
	h, err := NewHistory(4, 3)
	require.NoError(t, err)
	for i := range 20 {
		h.Push(pt(i))
	}
	tests := []struct {
		level  int
		pushed uint64
		want   []float32 // T of the held points, oldest first
	}{
		{0, 20, []float32{16, 17, 18, 19}},
		{1, 10, []float32{12.5, 14.5, 16.5, 18.5}}, // means of (12,13), …
		{2, 5, []float32{5.5, 9.5, 13.5, 17.5}},    // means of (4..7), …
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("level%d", tc.level), func(t *testing.T) {
			require.Equal(t, tc.pushed, h.Pushed(tc.level))
			got := h.Last(tc.level, 100, nil)
			require.Len(t, got, len(tc.want))
			for i, p := range got {
				require.Equal(t, tc.want[i], p.T)
				require.Equal(t, 10*tc.want[i], p.InUseBytes, "every field is averaged")
				require.Equal(t, 100*tc.want[i], p.AllocBytes)
			}
		})
	}
	last := h.Last(0, 2, nil)
	require.Equal(t, []Point{pt(18), pt(19)}, last)
	newest, ok := h.Newest()
	require.True(t, ok)
	require.Equal(t, pt(19), newest)
	require.Equal(t, 0, h.Len(7))
	require.Zero(t, h.Pushed(-1))
	require.Empty(t, h.Last(9, 3, nil))
}

func TestHistoryGrowsLazilyAndResets(t *testing.T) {
	h, err := NewHistory(48, 4)
	require.NoError(t, err)
	empty := h.SizeBytes()
	h.Push(pt(1))
	require.Less(t, h.SizeBytes(), empty+48*16, "one point must not allocate a full ring")
	for i := range 1000 {
		h.Push(pt(i))
	}
	full := h.SizeBytes()
	require.LessOrEqual(t, full, empty+4*48*16+4*16*8, "bounded by capacity × levels")
	h.Reset()
	_, ok := h.Newest()
	require.False(t, ok)
	require.Zero(t, h.Pushed(0))
	require.Equal(t, full, h.SizeBytes(), "Reset keeps the buffers")
}

func TestHistorySteadyStateDoesNotAllocate(t *testing.T) {
	h, err := NewHistory(64, 4)
	require.NoError(t, err)
	for i := range 1000 {
		h.Push(pt(i))
	}
	dst := make([]Point, 0, 64)
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		h.Push(pt(i))
		dst = h.Last(0, 64, dst[:0])
		i++
	})
	require.Zero(t, allocs)
}

func TestStoreEvictsLeastRecentlyUsed(t *testing.T) {
	var evicted []uint64
	s, err := NewStore(3, func(k uint64, _ string) { evicted = append(evicted, k) })
	require.NoError(t, err)
	s.Add(1, "a")
	s.Add(2, "b")
	s.Add(3, "c")
	_, ok := s.Get(1) // 1 becomes most recent
	require.True(t, ok)
	_, ok = s.Peek(2) // Peek does not save 2
	require.True(t, ok)
	require.True(t, s.Add(4, "d"))
	require.Equal(t, []uint64{2}, evicted)
	require.Equal(t, uint64(1), s.Evictions())
	var keys []uint64
	s.Range(func(k uint64, _ string) bool { keys = append(keys, k); return true })
	require.Equal(t, []uint64{3, 1, 4}, keys, "oldest to newest")
	require.True(t, s.Remove(3))
	require.False(t, s.Remove(3))
	s.Purge()
	require.Zero(t, s.Len())
	require.Equal(t, uint64(1), s.Evictions(), "Remove and Purge are not evictions")
	require.Equal(t, []uint64{2}, evicted)
	require.Equal(t, 3, s.Cap())
}

// TestStoreMemoryBound feeds 1,000,000 distinct stacks, each with a
// History, through a Store bounded at 10,000 and measures what stays live.
func TestStoreMemoryBound(t *testing.T) {
	const max = 10_000
	distinct := 1_000_000
	if testing.Short() {
		distinct = 200_000
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s, err := NewStore[*History](max, nil)
	require.NoError(t, err)
	for k := range distinct {
		h, err := NewHistory(48, 4)
		require.NoError(t, err)
		for i := range 100 { // every stack's history is full at levels 0 and 1
			h.Push(pt(i))
		}
		s.Add(uint64(k)+1, h)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	require.Equal(t, max, s.Len())
	require.Equal(t, uint64(distinct-max), s.Evictions())
	var histBytes int
	s.Range(func(_ uint64, h *History) bool { histBytes += h.SizeBytes(); return true })
	live := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	perStack := float64(live) / max
	t.Logf("%d distinct stacks through a Store of %d: %d bytes live (%.0f B/stack; histories account for %d)", distinct, max, live, perStack, histBytes)
	// Histories plus at most 200 bytes of LRU bookkeeping per entry.
	require.Less(t, live, int64(histBytes+max*200))
	runtime.KeepAlive(s)
}

func BenchmarkHistoryPush(b *testing.B) {
	h, _ := NewHistory(48, 4)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		h.Push(pt(i))
		i++
	}
}

func BenchmarkHistoryLast(b *testing.B) {
	for _, n := range []int{64, 256, 1024} {
		b.Run(fmt.Sprintf("history=%d", n), func(b *testing.B) {
			h, _ := NewHistory(n, 1)
			for i := range n {
				h.Push(pt(i))
			}
			dst := make([]Point, 0, n)
			b.ReportAllocs()
			for b.Loop() {
				dst = h.Last(0, n, dst[:0])
			}
		})
	}
}

func BenchmarkStoreAddWithEviction(b *testing.B) {
	s, _ := NewStore[int](10_000, nil)
	k := uint64(0)
	b.ReportAllocs()
	for b.Loop() {
		s.Add(k, 1)
		k++
	}
}

package storage

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

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
// Counts history, through a Store bounded at 10,000 and measures what stays
// live.
func TestStoreMemoryBound(t *testing.T) {
	const max = 10_000
	distinct := 1_000_000
	if testing.Short() {
		distinct = 200_000
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s, err := NewStore[*Counts](max, nil)
	require.NoError(t, err)
	for k := range distinct {
		h, err := NewCounts(16, 10)
		require.NoError(t, err)
		for i := range uint64(100) { // levels 0 to 2 full
			h.Push(i, uint32(i), uint32(2*i), 0)
		}
		s.Add(uint64(k)+1, h)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	require.Equal(t, max, s.Len())
	require.Equal(t, uint64(distinct-max), s.Evictions())
	var histBytes int
	s.Range(func(_ uint64, h *Counts) bool { histBytes += h.SizeBytes(); return true })
	live := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	perStack := float64(live) / max
	t.Logf("%d distinct stacks through a Store of %d: %d bytes live (%.0f B/stack; histories account for %d)", distinct, max, live, perStack, histBytes)
	// Histories plus at most 200 bytes of LRU bookkeeping per entry.
	require.Less(t, live, int64(histBytes+max*200))
	runtime.KeepAlive(s)
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

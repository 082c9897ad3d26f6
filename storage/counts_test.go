package storage

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// refCounts keeps every level whole, the plain way: each level's ring and
// the running peak of its block in progress. Counts must read the same.
type refCounts struct {
	capacity int
	levels   []refLevel
}

type refLevel struct {
	buf     []Count
	peak    uint32
	open    bool
	dropped bool // a block has left the ring
}

func (c *refCounts) push(i uint64, live, born uint32) {
	for k := range c.levels {
		l := &c.levels[k]
		if !l.open || live > l.peak {
			l.peak = live
		}
		l.open = true
		if (i+1)%(uint64(1)<<k) != 0 {
			continue
		}
		l.buf = append(l.buf, Count{Live: live, Born: born, Peak: l.peak})
		if len(l.buf) > c.capacity {
			l.buf, l.dropped = l.buf[1:], true
		}
		l.open = false
	}
}

func TestCountsMatchWholeLevels(t *testing.T) {
	for _, tc := range []struct {
		capacity, levels int
		first            uint64
		pushes           int
	}{
		{4, 1, 0, 50},
		{4, 6, 0, 400},
		{5, 6, 3, 500},
		{8, 8, 7, 3000},
		{16, 10, 0, 9000},
		{16, 10, 1234, 9000},
		{17, 7, 5, 4000},
		{48, 4, 11, 1000},
	} {
		t.Run(fmt.Sprintf("cap=%d,levels=%d,first=%d", tc.capacity, tc.levels, tc.first), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.capacity), tc.first))
			c, err := NewCounts(tc.capacity, tc.levels)
			require.NoError(t, err)
			ref := &refCounts{capacity: tc.capacity, levels: make([]refLevel, tc.levels)}
			var live, born, prevLive, prevBorn uint32
			var dst []Count
			for n := range tc.pushes {
				i := tc.first + uint64(n)
				if rng.IntN(3) == 0 {
					d := uint32(rng.IntN(5))
					born += d
					live = uint32(max(0, int(live)+int(d)-rng.IntN(5)))
				}
				// A caller may hold back a sample equal to the previous one
				// and push when the counts change or are read: the Counts
				// repeat it over the indices skipped.
				if n == 0 || live != prevLive || born != prevBorn || rng.IntN(2) == 0 {
					c.Push(i, live, born, 0)
				}
				prevLive, prevBorn = live, born
				ref.push(i, live, born)
				if n%7 != 0 && n < tc.pushes-1 {
					continue
				}
				c.Push(i, live, born, 0)
				var start []int
				dst, start = c.Windows(tc.levels-1, dst[:0], start)
				for k := range tc.levels {
					want := ref.levels[k].buf
					require.Equal(t, len(want), c.Len(k), "push %d level %d", n, k)
					require.Equal(t, !ref.levels[k].dropped, c.Whole(k), "push %d level %d", n, k)
					require.Equal(t, want, append([]Count(nil), dst[start[k]:start[k]+len(want)]...), "push %d level %d", n, k)
					if len(want) > 0 {
						require.Equal(t, want[len(want)-min(2, len(want)):], c.Last(k, 2, nil), "push %d level %d", n, k)
					}
				}
			}
		})
	}
}

func TestCountsStoreLessThanTheyHold(t *testing.T) {
	c, err := NewCounts(16, 10)
	require.NoError(t, err)
	for i := range uint64(16 << 9) {
		c.Push(i, uint32(i), uint32(i), 0)
	}
	held := 0
	for k := range 10 {
		held += c.Len(k)
	}
	require.Equal(t, 160, held)
	require.LessOrEqual(t, cap(c.buf), 16+9*10, "a coarse level stores only what the level below no longer holds")
}

func TestCountsSkippedSamplesRepeat(t *testing.T) {
	c, err := NewCounts(4, 2)
	require.NoError(t, err)
	c.Push(0, 1, 1, 0)
	c.Push(3, 5, 6, 0)
	c.Push(2, 9, 9, 0) // already pushed: ignored
	require.Equal(t, []Count{{1, 1, 1, 0}, {1, 1, 1, 0}, {1, 1, 1, 0}, {5, 6, 5, 0}}, c.Last(0, 4, nil))
	require.Equal(t, []Count{{1, 1, 1, 0}, {5, 6, 5, 0}}, c.Last(1, 4, nil))
}

func BenchmarkCountsPush(b *testing.B) {
	c, err := NewCounts(16, 10)
	require.NoError(b, err)
	i := uint64(0)
	for b.Loop() {
		c.Push(i, uint32(i%64), uint32(i), 0)
		i++
	}
}

func TestFastMod(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, d := range []uint64{4, 5, 10, 16, 17, 48, 1 << 20} {
		inv := ^uint64(0)/d + 1
		for range 10000 {
			a := rng.Uint64() >> rng.IntN(64)
			require.Equal(t, a%d, fastMod(a, d, inv), "%d mod %d", a, d)
		}
	}
}

func TestStoreTouchBySlot(t *testing.T) {
	s, err := NewStore[string](3, nil)
	require.NoError(t, err)
	for k := range uint64(3) {
		s.Add(k+1, fmt.Sprint(k+1))
	}
	slot, ok := s.Slot(1)
	require.True(t, ok)
	for _, tc := range []struct {
		name    string
		slot    int32
		key     uint64
		touched bool
	}{
		{"the key's slot", slot, 1, true},
		{"another key's slot", slot, 2, false},
		{"no slot", 0, 1, false},
		{"past the end", 99, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.touched, s.Touch(tc.slot, tc.key))
		})
	}
	s.Add(4, "4") // evicts 2, the least recently used now that 1 was touched
	_, ok = s.Peek(2)
	require.False(t, ok)
	require.False(t, s.Touch(slot, 2), "a freed or reused slot is not touched for a key that left")
	var keys []uint64
	s.Range(func(k uint64, _ string) bool { keys = append(keys, k); return true })
	require.Equal(t, []uint64{3, 1, 4}, keys)
}

// TestCountsSizeFollowsTheNewerBlock: a coarse block keeps the later
// block's size, as it keeps its live and born counts, and a skipped sample
// repeats the size before it.
func TestCountsSizeFollowsTheNewerBlock(t *testing.T) {
	c, err := NewCounts(4, 2)
	require.NoError(t, err)
	c.Push(0, 1, 1, 100)
	c.Push(1, 1, 2, 200)
	c.Push(3, 1, 3, 400) // sample 2 skipped: it repeats sample 1
	require.Equal(t, []uint32{100, 200, 200, 400}, sizes(c.Last(0, 4, nil)))
	require.Equal(t, []uint32{200, 400}, sizes(c.Last(1, 4, nil)))
}

func sizes(b []Count) []uint32 {
	out := make([]uint32, len(b))
	for i, x := range b {
		out[i] = x.Size
	}
	return out
}

// TestPack16Bounds: the 16-bit floats a Counts keeps Peak and Size in are
// exact below 2048, within one part in 2048 above, rounded the way each
// field needs, and never reorder two values.
func TestPack16Bounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 16))
	values := []uint32{0, 1, 2047, 2048, 2049, 4095, 4096, 4097, 1<<20 + 1, math.MaxUint32 - 1, math.MaxUint32}
	for range 20000 {
		values = append(values, rng.Uint32()>>rng.IntN(32))
	}
	for _, tc := range []struct {
		name    string
		roundUp bool
	}{{"rounded up (Peak)", true}, {"rounded down (Size)", false}} {
		t.Run(tc.name, func(t *testing.T) {
			prev := uint16(0)
			slices.Sort(values)
			for _, v := range values {
				code := pack16(v, tc.roundUp)
				got := unpack16(code)
				if v < 2048 {
					require.Equal(t, uint64(v), got, "exact below 2048")
				}
				if tc.roundUp {
					require.GreaterOrEqual(t, got, uint64(v))
				} else {
					require.LessOrEqual(t, got, uint64(v))
				}
				diff := max(got, uint64(v)) - min(got, uint64(v))
				require.LessOrEqual(t, diff*2048, uint64(v), "%d read back as %d", v, got)
				require.GreaterOrEqual(t, code, prev, "order kept at %d", v)
				require.Equal(t, code, pack16(uint32(min(got, math.MaxUint32)), tc.roundUp), "a value read back packs to itself")
				prev = code
			}
		})
	}
}

// TestCountsKeepLargePeaksAndSizesConservatively: above 2048 a block's
// Peak may read a little high and its Size a little low, never the other
// way, and Live and Born stay exact.
func TestCountsKeepLargePeaksAndSizesConservatively(t *testing.T) {
	c, err := NewCounts(4, 2)
	require.NoError(t, err)
	c.Push(0, 100_000, 200_000, 1<<20+12345)
	c.Push(1, 3, 200_001, 1<<20+12345) // the level-1 block's peak is the first sample's
	got := c.Last(1, 1, nil)[0]
	require.Equal(t, uint32(3), got.Live)
	require.Equal(t, uint32(200_001), got.Born)
	require.GreaterOrEqual(t, got.Peak, uint32(100_000))
	require.LessOrEqual(t, got.Peak, uint32(100_000+100_000/2048))
	require.LessOrEqual(t, got.Size, uint32(1<<20+12345))
	require.GreaterOrEqual(t, got.Size, uint32(1<<20+12345-(1<<20)/2048))
}

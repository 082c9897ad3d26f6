package storage

import (
	"fmt"
	"math/bits"
	"unsafe"
)

// Count is one block of a stack's sampled-object counts: the evidence the
// detector tests. Integers, not estimates: a heap profile's evidence is the
// number of sampled objects, and 32 bits hold any count one block can see.
type Count struct {
	// Live is the number of live sampled objects at the block's end.
	Live uint32
	// Born is the cumulative number of sampled births at the block's end.
	// It wraps around at 2^32; differences between blocks stay exact as long
	// as fewer than 2^32 births fall between them.
	Born uint32
	// Peak is the highest live count of any sample within the block.
	Peak uint32
}

// Counts is a bounded multi-resolution history of one stack's Counts. Level
// k holds the newest capacity blocks of 2^k consecutive samples, aligned to
// the sample index the caller passes (so that the blocks of every stack of a
// family line up with one shared Clock).
//
// A coarse block is the merge of two finer ones (the later one's Live and
// Born, the higher Peak), so a level stores only its blocks older than
// what the level below still holds; the newer ones are rebuilt from below
// when read. A full level therefore stores about half its blocks, and a
// young stack's coarse levels store nothing. Buffers grow lazily, in one
// backing array per stack.
//
// A Counts is not safe for concurrent use.
type Counts struct {
	first    uint64  // index of the first sample pushed
	next     uint64  // index the next sample must have
	buf      []Count // level 0's ring, then each coarser level's stored blocks
	capacity int32
	levels   uint8
	started  bool
}

// NewCounts returns an empty Counts keeping capacity blocks at each of
// levels resolutions.
func NewCounts(capacity, levels int) (*Counts, error) {
	if capacity < 4 {
		return nil, fmt.Errorf("storage: NewCounts: capacity %d must be at least 4", capacity)
	}
	if capacity > 1<<20 {
		return nil, fmt.Errorf("storage: NewCounts: capacity %d must be at most %d", capacity, 1<<20)
	}
	if levels < 1 || levels > 24 {
		return nil, fmt.Errorf("storage: NewCounts: levels %d must be in [1, 24]", levels)
	}
	return &Counts{capacity: int32(capacity), levels: uint8(levels)}, nil
}

// Levels reports the number of resolution levels.
func (c *Counts) Levels() int { return int(c.levels) }

// stored is how many blocks a coarse level must keep: those of its newest
// capacity that the level below no longer holds. Half the capacity and a
// block of misalignment at each end bound it.
func (c *Counts) stored() uint64 { return uint64(c.capacity)/2 + 2 }

// complete is the number of level k blocks completed before sample next.
func (c *Counts) complete(next uint64, k int) uint64 { return next>>k - c.first>>k }

// rebuilt returns the first level k block (k ≥ 1) that can be rebuilt from
// level k−1 as of sample next: every finer block it merges is still held.
func (c *Counts) rebuilt(next uint64, k int) uint64 {
	capacity := uint64(c.capacity)
	if c.complete(next, k-1) <= capacity {
		return c.first >> k
	}
	oldest := next>>(k-1) - capacity
	return (oldest + 1) / 2
}

// regionSize is the slots a region holding n blocks, at most most, gets:
// powers of two, so that the backing array is rarely reallocated.
func regionSize(n, most uint64) uint64 {
	if n == 0 {
		return 0
	}
	return min(max(2, uint64(1)<<bits.Len64(n-1)), most)
}

// sizes fills size with the regions of levels 0 through upTo as of sample
// next.
func (c *Counts) sizes(next uint64, upTo int, size *[25]uint64) {
	size[0] = regionSize(next-c.first, uint64(c.capacity))
	for k := 1; k <= upTo; k++ {
		size[k] = regionSize(c.rebuilt(next, k)-c.first>>k, c.stored())
	}
}

// Push records the sample with 0-based index i: live sampled objects and
// cumulative sampled births. Level k completes a block when i+1 is a
// multiple of 2^k; a block the Counts joined part-way holds only the samples
// it saw. Indices follow one another; an index already pushed is ignored,
// and samples skipped repeat the previous one.
func (c *Counts) Push(i uint64, live, born uint32) {
	if !c.started {
		c.started, c.first, c.next = true, i, i
	}
	if i < c.next {
		return
	}
	for c.next < i {
		var size [25]uint64
		c.sizes(c.next, 0, &size)
		prev := c.buf[(c.next-1-c.first)%size[0]]
		c.push(prev.Live, prev.Born)
	}
	c.push(live, born)
}

func (c *Counts) push(live, born uint32) {
	next := c.next + 1
	// Level k stores a block only when level k−1 completes one, which
	// happens at one push in 2^(k−1): most pushes touch levels 0 and 1.
	top := min(int(c.levels)-1, bits.TrailingZeros64(next)+1)
	capacity, stored := uint64(c.capacity), c.stored()
	var size, off, from, to [25]uint64
	size[0] = regionSize(next-c.first, capacity)
	grow := size[0] != regionSize(c.next-c.first, capacity)
	for k := 1; k <= top; k++ {
		lo := c.first >> k
		from[k], to[k] = c.rebuilt(c.next, k), c.rebuilt(next, k)
		size[k] = regionSize(to[k]-lo, stored)
		grow = grow || size[k] != regionSize(from[k]-lo, stored)
		off[k] = off[k-1] + size[k-1]
	}
	if grow {
		c.relayout(next)
	}
	// Coarsest first: a level's new stored blocks are rebuilt from the level
	// below as it was before this sample changed it.
	for k := top; k >= 1; k-- {
		for j := from[k]; j < to[k]; j++ {
			b := c.block(k, j, &size, &off)
			c.buf[off[k]+(j-c.first>>k)%size[k]] = b
		}
	}
	c.buf[(c.next-c.first)%size[0]] = Count{Live: live, Born: born, Peak: live}
	c.next = next
}

// relayout grows the backing array to the regions sample next needs,
// keeping every region's blocks at their slots.
func (c *Counts) relayout(next uint64) {
	top := int(c.levels) - 1
	var size, was [25]uint64
	c.sizes(next, top, &size)
	c.sizes(c.next, top, &was)
	var total, old uint64
	for k := 0; k <= top; k++ {
		total += size[k]
	}
	grown := make([]Count, total)
	total = 0
	for k := 0; k <= top; k++ {
		copy(grown[total:total+was[k]], c.buf[old:old+was[k]])
		total += size[k]
		old += was[k]
	}
	c.buf = grown
}

// block returns block j of level k as of the samples pushed so far.
func (c *Counts) block(k int, j uint64, size, off *[25]uint64) Count {
	if k == 0 {
		return c.buf[off[0]+(j-c.first)%size[0]]
	}
	if j < c.rebuilt(c.next, k) {
		return c.buf[off[k]+(j-c.first>>k)%size[k]]
	}
	b := c.block(k-1, 2*j+1, size, off)
	if 2*j >= c.first>>(k-1) {
		b.Peak = max(b.Peak, c.block(k-1, 2*j, size, off).Peak)
	}
	return b
}

// Len reports the blocks currently held at level.
func (c *Counts) Len(level int) int {
	if level < 0 || level >= int(c.levels) || !c.started {
		return 0
	}
	return int(min(c.complete(c.next, level), uint64(c.capacity)))
}

// Last appends the newest min(n, Len(level)) blocks of level to dst, oldest
// first, and returns the extended slice. It does not allocate when dst has
// room for the blocks of every level up to level.
func (c *Counts) Last(level, n int, dst []Count) []Count {
	if level < 0 || level >= int(c.levels) || n <= 0 {
		return dst
	}
	base := len(dst)
	var buf [25]int
	all, start := c.Windows(level, dst, buf[:0])
	held := c.Len(level)
	n = min(n, held)
	from := start[level] + held - n
	copy(all[base:], all[from:from+n])
	return all[:base+n]
}

// Windows appends the held blocks of levels 0 through upTo to dst, each
// level oldest first, and returns the extended slice with, appended to
// start, the offset in it of each level's Len(k) blocks. Rebuilding a coarse
// level needs the levels below it, so reading several levels at once costs
// no more than reading the coarsest.
func (c *Counts) Windows(upTo int, dst []Count, start []int) ([]Count, []int) {
	upTo = min(upTo, int(c.levels)-1)
	if !c.started || upTo < 0 {
		for range upTo + 1 {
			start = append(start, len(dst))
		}
		return dst, start
	}
	var size, off [25]uint64
	c.sizes(c.next, upTo, &size)
	for k := 1; k <= upTo; k++ {
		off[k] = off[k-1] + size[k-1]
	}
	capacity := uint64(c.capacity)
	var prevStart int
	var prevOldest uint64
	for k := 0; k <= upTo; k++ {
		st := len(dst)
		start = append(start, st)
		end := c.next >> k // one past the newest complete block
		held := min(c.complete(c.next, k), capacity)
		oldest := end - held
		if k == 0 {
			for j := oldest; j < end; j++ {
				dst = append(dst, c.buf[off[0]+(j-c.first)%size[0]])
			}
		} else {
			r := c.rebuilt(c.next, k)
			lo := c.first >> k
			for j := oldest; j < min(r, end); j++ {
				dst = append(dst, c.buf[off[k]+(j-lo)%size[k]])
			}
			finerLo := c.first >> (k - 1)
			for j := max(oldest, r); j < end; j++ {
				b := dst[prevStart+int(2*j+1-prevOldest)]
				if 2*j >= finerLo {
					b.Peak = max(b.Peak, dst[prevStart+int(2*j-prevOldest)].Peak)
				}
				dst = append(dst, b)
			}
		}
		prevStart, prevOldest = st, oldest
	}
	return dst, start
}

// SizeBytes approximates the memory the Counts holds: the struct and its
// buffer's capacity.
func (c *Counts) SizeBytes() int {
	return int(unsafe.Sizeof(*c)) + cap(c.buf)*int(unsafe.Sizeof(Count{}))
}

// Clock is the time column shared by every Counts of a family: the time at
// which each block of each level ended, aligned the same way. Keeping it once
// per family rather than once per stack is what keeps a stack's history at
// twelve bytes a block.
type Clock struct {
	capacity int
	levels   []clockLevel
}

type clockLevel struct {
	buf  []float64 // block end times, ring once full
	head int
}

// NewClock returns an empty Clock for Counts of the same shape.
func NewClock(capacity, levels int) (*Clock, error) {
	if _, err := NewCounts(capacity, levels); err != nil {
		return nil, err
	}
	return &Clock{capacity: capacity, levels: make([]clockLevel, levels)}, nil
}

// Levels reports the number of resolution levels.
func (c *Clock) Levels() int { return len(c.levels) }

// Push records that the sample with 0-based index i was taken at time t (in
// any unit, non-decreasing).
func (c *Clock) Push(i uint64, t float64) {
	for k := range c.levels {
		if (i+1)%(uint64(1)<<k) != 0 {
			continue
		}
		l := &c.levels[k]
		if len(l.buf) < c.capacity {
			l.buf = append(l.buf, t)
			continue
		}
		l.buf[l.head] = t
		l.head = (l.head + 1) % c.capacity
	}
}

// Last appends the end times of the newest min(n, held) blocks of level to
// dst, oldest first. The newest time belongs to the newest block of every
// Counts pushed with the same indices.
func (c *Clock) Last(level, n int, dst []float64) []float64 {
	if level < 0 || level >= len(c.levels) || n <= 0 {
		return dst
	}
	l := &c.levels[level]
	size := len(l.buf)
	n = min(n, size)
	for i := size - n; i < size; i++ {
		dst = append(dst, l.buf[(l.head+i)%size])
	}
	return dst
}

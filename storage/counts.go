package storage

import (
	"fmt"
	"math"
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
	// Peak is the highest live count of any sample within the block. A
	// Counts keeps it to one part in 2048 above 2047, rounded up.
	Peak uint32
	// Size is the largest size in bytes (at most 2^32−1) of the objects
	// born by the block's end, as the caller measures it: for a stack
	// holding one object at a time, the size of the largest so far, whose
	// rises are the evidence that it keeps growing. A Counts keeps it to
	// one part in 2048 above 2047, rounded down.
	Size uint32
}

// cell is how a Counts stores a Count: in twelve bytes rather than sixteen,
// because the history of every tracked stack is walked at every sample and
// its size is what the walk costs. Live and Born are exact. Peak (as its
// excess over Live) and Size are kept as 16-bit floats: exact below 2048,
// to one part in 2048 above. Peak is rounded up, so a test measuring a rise
// above it can only become more conservative; Size is rounded down, so
// sizes too close to tell apart read as one, which can only take new
// highs away.
type cell struct {
	live, born uint32
	over       uint16 // Peak − Live, rounded up
	size       uint16 // Size, rounded down
}

// pack16 encodes v in 16 bits: exact below 2048, else an 11-bit mantissa
// with its leading one implied and a 5-bit exponent.
func pack16(v uint32, roundUp bool) uint16 {
	if v < 2048 {
		return uint16(v)
	}
	shift := uint(bits.Len32(v) - 12)
	m := v >> shift
	if roundUp && m<<shift != v {
		m++
		if m == 4096 {
			m, shift = 2048, shift+1
		}
	}
	return uint16((shift+1)<<11 | uint(m-2048))
}

// unpack16 decodes pack16's code, in 64 bits: a code rounded up from near
// 2^32 exceeds 32.
func unpack16(c uint16) uint64 {
	e := c >> 11
	if e == 0 {
		return uint64(c)
	}
	return uint64(c&2047|2048) << (e - 1)
}

func (x cell) count() Count {
	return Count{
		Live: x.live,
		Born: x.born,
		Peak: uint32(min(uint64(x.live)+unpack16(x.over), math.MaxUint32)),
		Size: uint32(min(unpack16(x.size), math.MaxUint32)),
	}
}

// Counts is a bounded multi-resolution history of one stack's Counts. Level
// k holds the newest capacity blocks of 2^k consecutive samples, aligned to
// the sample index the caller passes (so that the blocks of every stack of a
// family line up with one shared Clock).
//
// A coarse block is the merge of two finer ones (the later one's Live,
// Born and Size, the higher Peak), so a level stores only its blocks older than
// what the level below still holds; the newer ones are rebuilt from below
// when read. A full level therefore stores about half its blocks, and a
// young stack's coarse levels store nothing. The backing array, one per
// stack, grows as the stack's history reaches coarser levels.
//
// A Counts is not safe for concurrent use.
type Counts struct {
	first    uint64 // index of the first sample pushed
	next     uint64 // index the next sample must have
	buf      []cell // level 0's ring, then each coarser level's stored blocks
	capacity int32
	levels   uint8
	started  bool
	// Reciprocals of capacity and stored(): ring slots are taken at every
	// push, and a 64-bit division costs more than the rest of a push.
	inv0, invK uint64
}

// fastMod returns a mod d given inv = ^uint64(0)/d + 1 (Lemire's method,
// exact for a and d below 2^32).
func fastMod(a, d, inv uint64) uint64 {
	if a >= 1<<32 {
		return a % d
	}
	hi, _ := bits.Mul64(inv*a, d)
	return hi
}

// slot0 is the slot in level 0's ring of the sample pushed n samples after
// the first.
func (c *Counts) slot0(n uint64) uint64 { return fastMod(n, uint64(c.capacity), c.inv0) }

// slotK is the slot in a coarse level's region of its n-th block.
func (c *Counts) slotK(n uint64) uint64 { return fastMod(n, c.stored(), c.invK) }

// NewCounts returns an empty Counts keeping capacity blocks at each of
// levels resolutions.
func NewCounts(capacity, levels int) (*Counts, error) {
	if err := checkShape(capacity, levels); err != nil {
		return nil, err
	}
	// Small enough to inline, so that a caller keeping the Counts by value
	// does not allocate it.
	stored := uint64(capacity)/2 + 2
	return &Counts{capacity: int32(capacity), levels: uint8(levels), inv0: ^uint64(0)/uint64(capacity) + 1, invK: ^uint64(0)/stored + 1}, nil
}

func checkShape(capacity, levels int) error {
	if capacity < 4 {
		return fmt.Errorf("storage: NewCounts: capacity %d must be at least 4", capacity)
	}
	if capacity > 1<<20 {
		return fmt.Errorf("storage: NewCounts: capacity %d must be at most %d", capacity, 1<<20)
	}
	if levels < 1 || levels > 24 {
		return fmt.Errorf("storage: NewCounts: levels %d must be in [1, 24]", levels)
	}
	return nil
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

// Push records the sample with 0-based index i: live sampled objects,
// cumulative sampled births and the largest size born so far (see
// Count.Size). Level k completes a block when i+1 is a multiple of 2^k; a
// block the Counts joined part-way holds only the samples it saw. Indices
// follow one another; an index already pushed is ignored, and samples
// skipped repeat the previous one.
func (c *Counts) Push(i uint64, live, born, size uint32) {
	if !c.started {
		c.started, c.first, c.next = true, i, i
		c.buf = make([]cell, c.capacity)
	}
	if i < c.next {
		return
	}
	for c.next < i {
		prev := c.buf[c.slot0(c.next-1-c.first)]
		c.push(prev.live, prev.born, prev.size)
	}
	c.push(live, born, pack16(size, false))
}

// The backing array holds level 0's ring, then one region of stored()
// blocks for each coarser level that has stored any: a level stores blocks
// only after the level below has, so the regions that exist are a prefix.
func (c *Counts) region(k int) uint64 {
	return uint64(c.capacity) + uint64(k-1)*c.stored()
}

func (c *Counts) push(live, born uint32, size uint16) {
	next := c.next + 1
	// Level k stores a block only when level k−1 completes one, which
	// happens at one push in 2^(k−1): most pushes touch levels 0 and 1.
	top := min(int(c.levels)-1, bits.TrailingZeros64(next)+1)
	stored := c.stored()
	// Coarsest first: a level's new stored blocks are rebuilt from the level
	// below as it was before this sample changed it.
	for k := top; k >= 1; k-- {
		from, to := c.rebuilt(c.next, k), c.rebuilt(next, k)
		if from == to {
			continue
		}
		if end := c.region(k) + stored; uint64(len(c.buf)) < end {
			grown := make([]cell, end)
			copy(grown, c.buf)
			c.buf = grown
		}
		for j := from; j < to; j++ {
			c.buf[c.region(k)+c.slotK(j-c.first>>k)] = c.block(k, j)
		}
	}
	c.buf[c.slot0(c.next-c.first)] = cell{live: live, born: born, size: size}
	c.next = next
}

// block returns block j of level k as of the samples pushed so far, as
// stored: merging cells without decoding the fields the merge keeps.
func (c *Counts) block(k int, j uint64) cell {
	if k == 0 {
		return c.buf[c.slot0(j-c.first)]
	}
	if j < c.rebuilt(c.next, k) {
		return c.buf[c.region(k)+c.slotK(j-c.first>>k)]
	}
	b := c.block(k-1, 2*j+1)
	if 2*j >= c.first>>(k-1) {
		b = withPeak(b, c.block(k-1, 2*j))
	}
	return b
}

// withPeak returns later with its peak raised to earlier's if that is
// higher: the peak of the two blocks merged.
func withPeak(later, earlier cell) cell {
	pe := uint64(earlier.live) + unpack16(earlier.over)
	if pe > uint64(later.live)+unpack16(later.over) {
		later.over = pack16(uint32(min(pe-uint64(later.live), math.MaxUint32)), true)
	}
	return later
}

// Len reports the blocks currently held at level.
func (c *Counts) Len(level int) int {
	if level < 0 || level >= int(c.levels) || !c.started {
		return 0
	}
	return int(min(c.complete(c.next, level), uint64(c.capacity)))
}

// Whole reports whether level holds every block since the first sample
// pushed: none has been dropped from its ring yet.
func (c *Counts) Whole(level int) bool {
	return c.started && level >= 0 && level < int(c.levels) && c.complete(c.next, level) <= uint64(c.capacity)
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
			dst = appendRing(dst, c.buf[:capacity], c.slot0(oldest-c.first), held)
		} else {
			r := c.rebuilt(c.next, k)
			if stored := min(r, end); stored > oldest {
				base := c.region(k)
				dst = appendRing(dst, c.buf[base:base+c.stored()], c.slotK(oldest-c.first>>k), stored-oldest)
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

// appendRing appends n blocks of ring to dst, from slot from on, wrapping
// around: in one or two runs rather than a division per block.
func appendRing(dst []Count, ring []cell, from, n uint64) []Count {
	head := min(n, uint64(len(ring))-from)
	for _, x := range ring[from : from+head] {
		dst = append(dst, x.count())
	}
	for _, x := range ring[:n-head] {
		dst = append(dst, x.count())
	}
	return dst
}

// SizeBytes approximates the memory the Counts holds: the struct and its
// buffer's capacity.
func (c *Counts) SizeBytes() int {
	return int(unsafe.Sizeof(*c)) + cap(c.buf)*int(unsafe.Sizeof(cell{}))
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

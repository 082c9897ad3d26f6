package storage

import (
	"fmt"
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
// family line up with one shared Clock). Buffers grow lazily up to capacity,
// so a young or short-lived stack costs little.
//
// A Counts is not safe for concurrent use.
type Counts struct {
	capacity int
	levels   []countLevel
}

type countLevel struct {
	buf  []Count // ring once full
	head int     // index of the oldest block once full
	peak uint32  // running peak of the block in progress
	open bool    // a block is in progress
}

// NewCounts returns an empty Counts keeping capacity blocks at each of
// levels resolutions.
func NewCounts(capacity, levels int) (*Counts, error) {
	if capacity < 4 {
		return nil, fmt.Errorf("storage: NewCounts: capacity %d must be at least 4", capacity)
	}
	if levels < 1 || levels > 24 {
		return nil, fmt.Errorf("storage: NewCounts: levels %d must be in [1, 24]", levels)
	}
	return &Counts{capacity: capacity, levels: make([]countLevel, levels)}, nil
}

// Levels reports the number of resolution levels.
func (c *Counts) Levels() int { return len(c.levels) }

// Push records the sample with 0-based index i: live sampled objects and
// cumulative sampled births. Level k completes a block when i+1 is a
// multiple of 2^k; a block the Counts joined part-way holds only the samples
// it saw.
func (c *Counts) Push(i uint64, live, born uint32) {
	for k := range c.levels {
		l := &c.levels[k]
		if !l.open || live > l.peak {
			l.peak = live
		}
		l.open = true
		if (i+1)%(uint64(1)<<k) != 0 {
			continue
		}
		l.add(Count{Live: live, Born: born, Peak: l.peak}, c.capacity)
		l.open = false
	}
}

func (l *countLevel) add(b Count, capacity int) {
	if len(l.buf) < capacity {
		if len(l.buf) == cap(l.buf) {
			// Grow by doubling, never past capacity: append's own growth
			// would overshoot the bound.
			grown := make([]Count, len(l.buf), min(capacity, max(2, 2*cap(l.buf))))
			copy(grown, l.buf)
			l.buf = grown
		}
		l.buf = append(l.buf, b)
		return
	}
	l.buf[l.head] = b
	l.head = (l.head + 1) % capacity
}

// Len reports the blocks currently held at level.
func (c *Counts) Len(level int) int {
	if level < 0 || level >= len(c.levels) {
		return 0
	}
	return len(c.levels[level].buf)
}

// Last appends the newest min(n, Len(level)) blocks of level to dst, oldest
// first, and returns the extended slice. It does not allocate when dst has
// room.
func (c *Counts) Last(level, n int, dst []Count) []Count {
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

// SizeBytes approximates the memory the Counts holds: the struct, its level
// headers and its buffers' capacity.
func (c *Counts) SizeBytes() int {
	n := int(unsafe.Sizeof(*c)) + cap(c.levels)*int(unsafe.Sizeof(countLevel{}))
	for k := range c.levels {
		n += cap(c.levels[k].buf) * int(unsafe.Sizeof(Count{}))
	}
	return n
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

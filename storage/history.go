package storage

import (
	"fmt"
	"unsafe"
)

// Point is one compact observation of a stack. Float32 halves the memory of
// long histories; its relative precision (6·10⁻⁸) is far below the sampling
// noise of any heap profile.
type Point struct {
	// T is seconds since the series' origin (the caller's choice).
	T float32
	// InUseBytes and InUseObjects are what the stack holds.
	InUseBytes   float32
	InUseObjects float32
	// AllocBytes is cumulative allocated bytes, 0 when unknown.
	AllocBytes float32
}

// History is a bounded multi-resolution history of Points. Level 0 holds the
// newest capacity raw points; level k holds the newest capacity means of 2^k
// consecutive raw points (every field averaged, T too), so long-term context
// survives in O(capacity × levels) memory. Buffers grow lazily up to
// capacity, so a young or short-lived stack costs little.
//
// A History is not safe for concurrent use.
type History struct {
	capacity int
	levels   []level
}

type level struct {
	buf    []Point // ring once full
	head   int     // index of the oldest point once full
	pushed uint64
	// acc accumulates raw points towards this level's next mean.
	acc  [4]float64
	accN uint64
}

// NewHistory returns an empty History keeping capacity points at each of
// levels resolutions.
func NewHistory(capacity, levels int) (*History, error) {
	if capacity < 4 {
		return nil, fmt.Errorf("storage: NewHistory: capacity %d must be at least 4", capacity)
	}
	if levels < 1 || levels > 16 {
		return nil, fmt.Errorf("storage: NewHistory: levels %d must be in [1, 16]", levels)
	}
	return &History{capacity: capacity, levels: make([]level, levels)}, nil
}

// Levels reports the number of resolution levels.
func (h *History) Levels() int { return len(h.levels) }

// Capacity reports the points kept per level.
func (h *History) Capacity() int { return h.capacity }

// Push appends a raw point, completing a coarser point at every level k
// whose 2^k-th raw point this is.
func (h *History) Push(p Point) {
	h.levels[0].add(p, h.capacity)
	for k := 1; k < len(h.levels); k++ {
		l := &h.levels[k]
		l.acc[0] += float64(p.T)
		l.acc[1] += float64(p.InUseBytes)
		l.acc[2] += float64(p.InUseObjects)
		l.acc[3] += float64(p.AllocBytes)
		l.accN++
		if l.accN < 1<<k {
			continue
		}
		n := float64(l.accN)
		l.add(Point{T: float32(l.acc[0] / n), InUseBytes: float32(l.acc[1] / n), InUseObjects: float32(l.acc[2] / n), AllocBytes: float32(l.acc[3] / n)}, h.capacity)
		l.acc, l.accN = [4]float64{}, 0
	}
}

func (l *level) add(p Point, capacity int) {
	l.pushed++
	if len(l.buf) < capacity {
		if len(l.buf) == cap(l.buf) {
			// Grow by doubling, but never past capacity: append's own growth
			// would overshoot and cost memory the bound does not allow.
			grown := make([]Point, len(l.buf), min(capacity, max(4, 2*cap(l.buf))))
			copy(grown, l.buf)
			l.buf = grown
		}
		l.buf = append(l.buf, p)
		return
	}
	l.buf[l.head] = p
	l.head = (l.head + 1) % capacity
}

// Len reports the points currently held at level.
func (h *History) Len(level int) int {
	if level < 0 || level >= len(h.levels) {
		return 0
	}
	return len(h.levels[level].buf)
}

// Pushed reports how many points were ever completed at level.
func (h *History) Pushed(level int) uint64 {
	if level < 0 || level >= len(h.levels) {
		return 0
	}
	return h.levels[level].pushed
}

// Last appends the newest min(n, Len(level)) points of level to dst, oldest
// first, and returns the extended slice. It does not allocate when dst has
// room.
func (h *History) Last(level, n int, dst []Point) []Point {
	if level < 0 || level >= len(h.levels) || n <= 0 {
		return dst
	}
	l := &h.levels[level]
	size := len(l.buf)
	n = min(n, size)
	// Logical index i (0 = oldest) lives at (head+i) % size.
	for i := size - n; i < size; i++ {
		dst = append(dst, l.buf[(l.head+i)%size])
	}
	return dst
}

// Newest returns the newest raw point.
func (h *History) Newest() (Point, bool) {
	l := &h.levels[0]
	if len(l.buf) == 0 {
		return Point{}, false
	}
	return l.buf[(l.head+len(l.buf)-1)%len(l.buf)], true
}

// Reset forgets every point but keeps the buffers for reuse.
func (h *History) Reset() {
	for k := range h.levels {
		l := &h.levels[k]
		*l = level{buf: l.buf[:0]}
	}
}

// SizeBytes approximates the memory the History holds: the struct, its
// level headers and its buffers' capacity.
func (h *History) SizeBytes() int {
	n := int(unsafe.Sizeof(*h)) + cap(h.levels)*int(unsafe.Sizeof(level{}))
	for k := range h.levels {
		n += cap(h.levels[k].buf) * int(unsafe.Sizeof(Point{}))
	}
	return n
}

package heap

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/leakguard/leakguard/sampler"
)

const gcCyclesMetric = "/gc/cycles/total:gc-cycles"

// DefaultSymbolCacheSize bounds how many stacks' symbolised frames are kept.
const DefaultSymbolCacheSize = 16384

// Option configures a Sampler.
type Option func(*config) error

type config struct {
	forceGC     bool
	maxGCAge    time.Duration
	symbolCache int
	includeSelf bool
	lazyFrames  bool
}

// WithLazyFrames leaves Records' Frames nil and symbolises a stack only
// when the consumer asks for it through Sample.Resolve (the Guard does so
// for the stacks it keeps). A profile with tens of thousands of stacks is
// then read without symbolising each of them every cycle. Telling
// leakguard's own allocation sites apart still needs symbols; they are
// cached per program counter, a cache the program's size bounds.
func WithLazyFrames(lazy bool) Option {
	return func(c *config) error {
		c.lazyFrames = lazy
		return nil
	}
}

// WithForceGC makes every Sample run a garbage collection first, so that
// each Sample reflects the heap at that moment. This costs a full GC per
// sample — fine in tests and tools, rarely wanted in a service, where the
// default waits for the runtime's own GC cycles.
func WithForceGC(force bool) Option {
	return func(c *config) error {
		c.forceGC = force
		return nil
	}
}

// WithMaxGCAge makes Sample run a garbage collection when none has
// completed for longer than d (0, the default: never). A service whose
// heap grows collects ever more rarely — the next cycle waits for the heap
// to double — and its heap profile, which only changes at a collection,
// goes stale just when a leak is growing it; one collection per d at most
// keeps the evidence coming at a bounded cost.
func WithMaxGCAge(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("heap: WithMaxGCAge(%v): must not be negative", d)
		}
		c.maxGCAge = d
		return nil
	}
}

// WithSelf makes the Sampler report leakguard's own allocation sites too.
// By default they are left out: leakguard's memory is bounded by its
// configuration, but it fills that bound gradually (histories, caches) and
// a detector in the same process would read its own warm-up as growth.
func WithSelf(include bool) Option {
	return func(c *config) error {
		c.includeSelf = include
		return nil
	}
}

// WithSymbolCacheSize bounds the number of stacks whose symbolised frames
// are cached (default DefaultSymbolCacheSize). A stack evicted from the cache
// is symbolised again when next seen.
func WithSymbolCacheSize(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("heap: WithSymbolCacheSize(%d): must be at least 1", n)
		}
		c.symbolCache = n
		return nil
	}
}

// Sampler reads the Go runtime's heap profile. It implements
// sampler.Sampler with Resource sampler.Heap.
type Sampler struct {
	cfg     config
	seed    maphash.Seed
	symbols *simplelru.LRU[uint64, symbolised]
	records []runtime.MemProfileRecord
	index   positions // stack → position in the Sample being built
	last    int       // records in the previous profile
	at      []int32   // position in the Sample → its first profile record
	classes map[uintptr]pcClass
	gen     uint64       // Samples taken: Resolve answers only for the newest
	seen    []seenRecord // per profile record, what the previous Sample worked out
	// selfBytes is what the newest profile holds at leakguard's own
	// allocation sites.
	selfBytes int64
	gc        []metrics.Sample
	gcStats   debug.GCStats
	// lastStamp is the time of the collection the newest Sample describes.
	lastStamp time.Time
	lastGC    uint64
	sampled   bool
	rate      int
	epoch     uint64
	closed    bool
}

// New returns a heap Sampler.
func New(opts ...Option) (*Sampler, error) {
	cfg := config{symbolCache: DefaultSymbolCacheSize}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("heap: nil Option")
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	symbols, err := simplelru.NewLRU[uint64, symbolised](cfg.symbolCache, nil)
	if err != nil {
		return nil, fmt.Errorf("heap: %w", err)
	}
	return &Sampler{
		cfg:     cfg,
		seed:    maphash.MakeSeed(),
		symbols: symbols,
		gc:      []metrics.Sample{{Name: gcCyclesMetric}},
		classes: make(map[uintptr]pcClass),
		epoch:   1,
	}, nil
}

// Resource reports sampler.Heap.
func (s *Sampler) Resource() sampler.Resource { return sampler.Heap }

// Close releases the symbol cache. It is safe to call more than once.
func (s *Sampler) Close() error {
	s.closed = true
	s.symbols.Purge()
	s.records, s.index, s.at, s.classes, s.seen = nil, positions{}, nil, nil, nil
	return nil
}

// Sample reads the heap profile as of the most recently completed GC cycle.
// It returns sampler.ErrNoNewData when no cycle completed since the previous
// Sample (unless WithForceGC), because the profile would only repeat itself.
func (s *Sampler) Sample(ctx context.Context) (*sampler.Sample, error) {
	if s.closed {
		return nil, sampler.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rate := runtime.MemProfileRate
	if rate <= 0 {
		return nil, errors.New("heap: heap profiling is disabled (runtime.MemProfileRate = 0)")
	}
	if s.cfg.forceGC {
		runtime.GC()
	}
	cycle := s.gcCycle()
	if s.sampled && cycle == s.lastGC && !s.cfg.forceGC {
		// No collection since the last Sample, whose stamp is therefore
		// the newest collection's time: collect only when that is too old.
		if s.cfg.maxGCAge == 0 || time.Since(s.lastStamp) <= s.cfg.maxGCAge {
			return nil, sampler.ErrNoNewData
		}
		runtime.GC()
		cycle = s.gcCycle()
	}
	if s.sampled && rate != s.rate {
		// Estimates at different rates are not comparable point to point.
		s.epoch++
	}
	n := s.read()
	s.lastStamp = s.gcTime()
	out := &sampler.Sample{
		Time:     s.lastStamp,
		Resource: sampler.Heap,
		Records:  make([]sampler.Record, 0, n),
		Rate:     int64(rate),
		Seq:      cycle,
		Epoch:    s.epoch,
		Source:   "runtime",
	}
	s.index.reset(n)
	s.at = s.at[:0]
	var selfBytes int64
	s.gen++
	if s.cfg.lazyFrames {
		gen := s.gen
		out.Resolve = func(stack uint64) []sampler.Frame {
			if gen != s.gen || s.closed {
				return nil
			}
			j, ok := s.index.find(stack)
			if !ok {
				return nil
			}
			// Not cached: the consumer keeps what it resolves, and caching
			// every resolved stack would hold their frames twice.
			return symbolise(s.records[s.at[j]].Stack())
		}
	}
	// The runtime lists its buckets newest first and never removes one, so
	// the previous profile's records reappear, in order, after the new
	// ones: their fingerprints and classes carry over, checked against the
	// stack's depth and leaf.
	added := n - len(s.seen)
	if added < 0 {
		s.seen, added = s.seen[:0], n
	}
	s.seen = slices.Grow(s.seen, added)[:n]
	copy(s.seen[added:], s.seen[:n-added])
	for i := range s.records[:n] {
		r := &s.records[i]
		stk := r.Stack()
		var key uint64
		var self, known bool
		if sn := &s.seen[i]; i >= added && len(stk) > 0 && int(sn.depth) == len(stk) && sn.leaf == stk[0] {
			key, self, known = sn.key, sn.self, s.cfg.lazyFrames
		} else {
			key = s.fingerprint(stk)
		}
		var sym symbolised
		switch {
		case known:
		case s.cfg.lazyFrames:
			self = s.selfStack(stk)
		default:
			sym = s.symbolised(key, stk)
			self = sym.self
		}
		s.seen[i] = seenRecord{key: key, self: self, depth: int32(len(stk))}
		if len(stk) > 0 {
			s.seen[i].leaf = stk[0]
		}
		if self {
			_, b := scale(r.InUseObjects(), r.InUseBytes(), int64(rate))
			selfBytes += b
			if !s.cfg.includeSelf {
				continue
			}
		}
		rawIn, rawAlloc := r.InUseObjects(), r.AllocObjects
		inObj, inBytes := scale(r.InUseObjects(), r.InUseBytes(), int64(rate))
		allocObj, allocBytes := scale(r.AllocObjects, r.AllocBytes, int64(rate))
		// The runtime keeps one record per stack and allocation size, so a
		// stack that allocates several sizes has several; a Sample has one
		// per stack. Scaling is per size, as the estimate's variance is.
		if j, ok := s.index.find(key); ok {
			agg := &out.Records[j]
			agg.InUseBytes += inBytes
			agg.InUseObjects += inObj
			agg.AllocBytes += allocBytes
			agg.AllocObjects += allocObj
			agg.InUseSampled += rawIn
			agg.AllocSampled += rawAlloc
			continue
		}
		s.index.insert(key, len(out.Records))
		s.at = append(s.at, int32(i))
		out.Records = append(out.Records, sampler.Record{
			Stack:        key,
			Frames:       sym.frames,
			InUseBytes:   inBytes,
			InUseObjects: inObj,
			AllocBytes:   allocBytes,
			AllocObjects: allocObj,
			InUseSampled: rawIn,
			AllocSampled: rawAlloc,
		})
	}
	s.sampled, s.lastGC, s.rate = true, cycle, rate
	s.selfBytes = selfBytes
	if !s.cfg.lazyFrames {
		// Nothing refers to the buffer once the Sample is built.
		s.Release()
	}
	return out, nil
}

// SelfBytes reports the heap bytes in use at leakguard's own allocation
// sites (histories, caches, this Sampler's buffers: whatever a Guard in
// this process holds) in the newest Sample's profile, estimated from the
// runtime's sampling like every other stack. It is measured whether or
// not WithSelf reports those sites.
func (s *Sampler) SelfBytes() int64 { return s.selfBytes }

// Release lets go of the profile buffer when it is large (more than
// keepRecords records) rather than holding it until the next Sample; the
// newest Sample's Resolve returns nil afterwards. A consumer calls it once
// it is done with a Sample.
func (s *Sampler) Release() {
	if cap(s.records) > keepRecords {
		s.records = nil
		s.gen++
	}
}

// gcCycle is the number of completed collections, read without stopping
// the world.
func (s *Sampler) gcCycle() uint64 {
	metrics.Read(s.gc)
	if s.gc[0].Value.Kind() == metrics.KindUint64 {
		return s.gc[0].Value.Uint64()
	}
	return 0
}

// gcTime is when the most recent garbage collection ended: the heap
// profile describes the heap as of a completed cycle, so a sample read long
// after it must not be stamped with the time it was read (a leak would look
// faster than it is, and a sample read twice as late as the last GC would
// squeeze the interval between two GCs).
func (s *Sampler) gcTime() time.Time {
	debug.ReadGCStats(&s.gcStats)
	if s.gcStats.LastGC.IsZero() {
		return time.Now()
	}
	return s.gcStats.LastGC
}

// seenRecord is what one profile record's stack came to: its fingerprint
// and whether leakguard allocated there, with the depth and leaf PC that
// identify the stack when the record reappears.
type seenRecord struct {
	key   uint64
	leaf  uintptr
	depth int32
	self  bool
}

// keepRecords is the largest profile buffer kept between Samples (4.5 MiB
// of records): a process with more live stacks than that pays an allocation
// per cycle rather than holding the buffer.
const keepRecords = 16384

// read fills s.records with the current profile and returns its length,
// growing the buffer the way runtime/pprof does when the profile grew
// between the size query and the read.
func (s *Sampler) read() int {
	if len(s.records) < s.last {
		// The buffer was released: size it from the previous profile so
		// that one pass over the runtime's buckets usually suffices.
		s.records = make([]runtime.MemProfileRecord, s.last+s.last/4+50)
	}
	n, ok := runtime.MemProfile(s.records, true)
	for !ok {
		s.records = make([]runtime.MemProfileRecord, n+n/4+50)
		n, ok = runtime.MemProfile(s.records, true)
	}
	s.last = n
	return n
}

func (s *Sampler) fingerprint(stk []uintptr) uint64 {
	if len(stk) == 0 {
		return 0
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&stk[0])), len(stk)*int(unsafe.Sizeof(stk[0])))
	h := maphash.Bytes(s.seed, b)
	if h == 0 {
		h = 1 // 0 is reserved for the process total downstream
	}
	return h
}

// symbolised is a stack's frames and whether leakguard itself allocated
// there.
type symbolised struct {
	frames []sampler.Frame
	self   bool
}

// symbolised symbolises a stack once and caches it by fingerprint.
func (s *Sampler) symbolised(key uint64, stk []uintptr) symbolised {
	if sym, ok := s.symbols.Get(key); ok {
		return sym
	}
	f := symbolise(stk)
	sym := symbolised{frames: f, self: allocatedBySelf(f)}
	s.symbols.Add(key, sym)
	return sym
}

// pcClass says what symbolising one program counter tells about whose
// allocation a stack is.
type pcClass uint8

const (
	pcLibrary pcClass = iota + 1 // only standard library or dependency frames: look further
	pcSelf                       // first frame past the libraries is leakguard's
	pcOther                      // first frame past the libraries is the user's
)

// maxClasses bounds the per-PC cache. Distinct allocation-site PCs are
// bounded by the program's code, so it rarely fills; when it does it starts
// over.
const maxClasses = 1 << 16

// selfStack reports, like allocatedBySelf on the symbolised stack, whether
// leakguard allocated at stk, symbolising each PC once.
func (s *Sampler) selfStack(stk []uintptr) bool {
	for _, pc := range stk {
		c, ok := s.classes[pc]
		if !ok {
			c = classify(pc)
			if len(s.classes) >= maxClasses {
				clear(s.classes)
			}
			s.classes[pc] = c
		}
		if c != pcLibrary {
			return c == pcSelf
		}
	}
	return false
}

// classify symbolises one PC, inlined calls included, the way symbolise
// does within a stack.
func classify(pc uintptr) pcClass {
	it := runtime.CallersFrames([]uintptr{pc})
	for {
		fr, more := it.Next()
		if fr.Function != "" || fr.File != "" {
			pkg := funcPackage(fr.Function)
			if !isLibrary(pkg) {
				if slices.Contains(selfPackages, pkg) && !strings.HasSuffix(fr.File, "_test.go") {
					return pcSelf
				}
				return pcOther
			}
		}
		if !more {
			return pcLibrary
		}
	}
}

// selfPackages are the packages whose code runs inside a Guard.
var selfPackages = []string{
	"github.com/leakguard/leakguard",
	"github.com/leakguard/leakguard/internal/render",
	"github.com/leakguard/leakguard/prom",
	"github.com/leakguard/leakguard/sampler",
	"github.com/leakguard/leakguard/sampler/goroutine",
	"github.com/leakguard/leakguard/sampler/heap",
	"github.com/leakguard/leakguard/sampler/pprofile",
	"github.com/leakguard/leakguard/sampler/uprobe",
	"github.com/leakguard/leakguard/stats",
	"github.com/leakguard/leakguard/storage",
}

// libraryPrefixes are the code leakguard calls into that allocates on its
// behalf: the standard library and leakguard's dependencies.
var libraryPrefixes = []string{
	"github.com/hashicorp/golang-lru/",
	"github.com/google/pprof/",
	"gonum.org/",
	"github.com/cilium/ebpf",
	"github.com/prometheus/",
}

// allocatedBySelf reports whether the code that asked for the memory is
// leakguard's: walking from the leaf past the standard library and
// leakguard's dependencies, the first frame is in a Guard package and not
// in a test file. A user's callback that allocates is the user's.
func allocatedBySelf(frames []sampler.Frame) bool {
	for _, f := range frames {
		pkg := funcPackage(f.Function)
		if isLibrary(pkg) {
			continue
		}
		return slices.Contains(selfPackages, pkg) && !strings.HasSuffix(f.File, "_test.go")
	}
	return false
}

func isLibrary(pkg string) bool {
	for _, p := range libraryPrefixes {
		if strings.HasPrefix(pkg, p) {
			return true
		}
	}
	first, _, _ := strings.Cut(pkg, "/")
	// The standard library's paths have no dot in their first element; a
	// main package has none either but is the user's.
	return pkg != "" && pkg != "main" && !strings.Contains(first, ".")
}

// funcPackage returns the import path of a symbolised function name such
// as "github.com/a/b.(*T).m" or "encoding/json.Marshal".
func funcPackage(fn string) string {
	slash := strings.LastIndex(fn, "/")
	dot := strings.Index(fn[slash+1:], ".")
	if dot < 0 {
		return fn
	}
	return fn[:slash+1+dot]
}

// symbolise resolves a stack leaf first. Like `go tool pprof`, it hides the
// runtime's own allocation frames at the leaf, so the first frame is the
// function that allocated; a stack made only of runtime frames is kept whole.
func symbolise(stk []uintptr) []sampler.Frame {
	var all []sampler.Frame
	it := runtime.CallersFrames(stk)
	for {
		fr, more := it.Next()
		if fr.Function != "" || fr.File != "" {
			all = append(all, sampler.Frame{Function: fr.Function, File: fr.File, Line: fr.Line})
		}
		if !more {
			break
		}
	}
	for i, f := range all {
		if !strings.HasPrefix(f.Function, "runtime.") && !strings.HasPrefix(f.Function, "internal/runtime/") {
			return all[i:]
		}
	}
	return all
}

// scale converts sampled counts to unbiased estimates of the true counts,
// as runtime/pprof does: an allocation of average size s was recorded with
// probability 1 − exp(−s/rate).
func scale(count, size, rate int64) (int64, int64) {
	if count == 0 || size == 0 {
		return 0, 0
	}
	if rate <= 1 {
		return count, size
	}
	avg := float64(size) / float64(count)
	f := 1 / (1 - math.Exp(-avg/float64(rate)))
	return int64(float64(count) * f), int64(float64(size) * f)
}

// positions maps fingerprints to positions: open addressing on the
// fingerprint, already a hash, in one array reused from Sample to Sample.
// Merging the per-size records of a profile with tens of thousands of
// stacks costs a map operation each otherwise.
type positions struct {
	slots []slot
}

type slot struct {
	key uint64
	pos int32 // position + 1; 0 marks an empty slot
}

// reset empties the table, sized for n keys at most half full.
func (p *positions) reset(n int) {
	size := 64
	for size < 2*n {
		size *= 2
	}
	if len(p.slots) < size || len(p.slots) > 4*size {
		p.slots = make([]slot, size)
		return
	}
	clear(p.slots)
}

func (p *positions) find(key uint64) (int, bool) {
	if len(p.slots) == 0 {
		return 0, false
	}
	mask := uint64(len(p.slots) - 1)
	for i := key & mask; ; i = (i + 1) & mask {
		sl := &p.slots[i]
		if sl.pos == 0 {
			return 0, false
		}
		if sl.key == key {
			return int(sl.pos - 1), true
		}
	}
}

// insert adds a key not present; reset sized the table for every key.
func (p *positions) insert(key uint64, pos int) {
	mask := uint64(len(p.slots) - 1)
	i := key & mask
	for p.slots[i].pos != 0 {
		i = (i + 1) & mask
	}
	p.slots[i] = slot{key: key, pos: int32(pos + 1)}
}

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

// gcForcedMetric counts the collections runtime.GC ran.
const gcForcedMetric = "/gc/cycles/forced:gc-cycles"

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
	changes     bool
}

// WithChanges makes every Sample after the first list only the stacks whose
// counts changed since the previous one (Sample.Changes), with the sums
// over every stack in Sample.Total. In a process with tens of thousands of
// live stacks most hold still from one collection to the next, and the
// consumer then neither receives nor reads them. The consumer must observe
// every Sample, in order. A Sample at a new Epoch lists every stack.
func WithChanges(changes bool) Option {
	return func(c *config) error {
		c.changes = changes
		return nil
	}
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
	mapped  bool    // records lives outside the Go heap (mapRecords)
	index   []int32 // stack → its first bucket's id+1, 0 marking an empty slot
	last    int     // records in the previous profile
	n       int     // records in the newest profile
	classes map[uintptr]pcClass
	// runtimePCs says whether a PC is in the runtime (userStack).
	runtimePCs map[uintptr]bool
	gen        uint64   // Samples taken: Resolve answers only for the newest
	buckets    []bucket // by id: position in the profile counted from its end
	pending    []int32  // stacks summed after the walk
	// selfBytes is what the newest profile holds at leakguard's own
	// allocation sites, total what it holds at the others (or all, WithSelf).
	selfBytes int64
	total     sampler.Record
	gc        []metrics.Sample
	gcStats   debug.GCStats
	// lastStamp is the time of the collection the newest Sample describes.
	lastStamp time.Time
	lastGC    uint64
	// lastForced and lastSnap are the forced collections and the cycle
	// whose snapshot the newest Sample showed.
	lastForced, lastSnap uint64
	sampled              bool
	rate                 int
	epoch                uint64
	closed               bool
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
		cfg:        cfg,
		seed:       maphash.MakeSeed(),
		symbols:    symbols,
		gc:         []metrics.Sample{{Name: gcCyclesMetric}, {Name: gcForcedMetric}},
		classes:    make(map[uintptr]pcClass),
		runtimePCs: make(map[uintptr]bool),
		epoch:      1,
	}, nil
}

// Resource reports sampler.Heap.
func (s *Sampler) Resource() sampler.Resource { return sampler.Heap }

// Close releases the symbol cache. It is safe to call more than once.
func (s *Sampler) Close() error {
	s.closed = true
	s.symbols.Purge()
	s.free()
	s.index, s.classes, s.runtimePCs, s.buckets, s.pending = nil, nil, nil, nil, nil
	return nil
}

// Sample reads the heap profile as of the most recently completed GC cycle
// the runtime published, and stamps it with that cycle's time. It returns
// sampler.ErrNoNewData when the runtime published no new cycle since the
// previous Sample (unless WithForceGC), because the profile would only
// repeat itself.
//
// The runtime publishes a cycle's snapshot when the next one ends, since
// only then have all of its frees been swept (runtime/mprof.go); runtime.GC
// alone publishes its own once it has swept. So after collections the
// program ran by itself, the profile shows the heap as of the one before
// the newest, and is stamped with that one's end.
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
	cycle, forced := s.gcCycles()
	snap := s.published(cycle, forced)
	if s.sampled && snap == s.lastSnap && !s.cfg.forceGC {
		// Nothing published since the last Sample: collect only when the
		// newest collection is too old.
		if s.cfg.maxGCAge == 0 || time.Since(s.newestGCEnd()) <= s.cfg.maxGCAge {
			s.lastGC, s.lastForced = cycle, forced
			return nil, sampler.ErrNoNewData
		}
		runtime.GC()
		cycle, forced = s.gcCycles()
		snap = cycle
	}
	if s.sampled && rate != s.rate {
		// Estimates at different rates are not comparable point to point.
		s.epoch++
	}
	n := s.read()
	stamp := s.gcTime(snap < cycle)
	if s.cfg.changes && stamp.Before(s.lastStamp) {
		// The wall clock was set back. A consumer restarts its series when
		// time runs backwards, and could not from a Sample of changes.
		stamp = s.lastStamp
	}
	s.lastStamp = stamp
	out := &sampler.Sample{
		Time:     s.lastStamp,
		Resource: sampler.Heap,
		Rate:     int64(rate),
		Seq:      cycle,
		Epoch:    s.epoch,
		Source:   "runtime",
	}
	// Changes only against a Sample of the same epoch, whose estimates the
	// buckets still hold.
	full := !s.cfg.changes || !s.sampled || rate != s.rate
	if full {
		out.Records = make([]sampler.Record, 0, n)
	}
	s.gen++
	s.n = n
	if s.cfg.lazyFrames {
		gen := s.gen
		out.Resolve = func(stack uint64) []sampler.Frame {
			if gen != s.gen || s.closed {
				return nil
			}
			id, ok := s.find(stack)
			if !ok || id >= s.n {
				return nil
			}
			// Not cached: the consumer keeps what it resolves, and caching
			// every resolved stack would hold their frames twice.
			return symbolise(s.records[s.n-1-id].Stack())
		}
	}
	if !s.walk(out, n, full) {
		// The runtime listed its buckets in an order other than the one
		// walk relies on: work every record out afresh.
		s.forget()
		full = true
		out.Records = make([]sampler.Record, 0, n)
		s.walk(out, n, true)
	}
	if s.cfg.changes {
		out.Changes = !full
		total := s.total
		out.Total = &total
	}
	s.sampled, s.lastGC, s.lastForced, s.lastSnap, s.rate = true, cycle, forced, snap, rate
	if !s.cfg.lazyFrames {
		// Nothing refers to the buffer once the Sample is built.
		s.Release()
	}
	return out, nil
}

// walk builds out's records from the n profile records read, all of them
// when full and otherwise those of the stacks whose counts changed since the
// previous Sample, and brings the sums over every stack reported (s.total)
// and over leakguard's own (s.selfBytes) up to date. It reports false,
// having built nothing usable, when a bucket seen before is not where the
// runtime's order puts it.
//
// The runtime lists its buckets newest first and never removes one (the
// profile is read with every bucket, in use or not), so the previous
// profile's buckets reappear, in order, after the new ones: counted from
// the end, a bucket keeps its place, its fingerprint and what it held. Each
// bucket seen before is checked against its stack's depth and leaf.
func (s *Sampler) walk(out *sampler.Sample, n int, full bool) bool {
	rate := out.Rate
	known := len(s.buckets)
	if n < known {
		s.forget()
		known, full = 0, true
	}
	if full {
		s.total, s.selfBytes = sampler.Record{}, 0
	}
	s.buckets = slices.Grow(s.buckets, n-known)[:n]
	s.growIndex(n)
	s.pending = s.pending[:0]
	// Oldest first: a stack's first bucket, which carries its fingerprint
	// and its place in out, comes before the stack's other sizes.
	for id := range n {
		r := &s.records[n-1-id]
		b := &s.buckets[id]
		fresh := id >= known
		if !fresh {
			d := int(b.depth)
			if r.Stack0[0] != b.leaf || d < len(r.Stack0) && r.Stack0[d] != 0 || d > 0 && r.Stack0[d-1] == 0 {
				return false
			}
		} else {
			s.addBucket(id, r.Stack())
		}
		// A bucket is one stack and one allocation size: its bytes follow
		// its objects.
		if !full && !fresh && r.AllocObjects == b.allocs && r.FreeObjects == b.frees {
			continue
		}
		// The sums change by the bucket's new counts less its old ones,
		// scaled as they were.
		var was inUse
		if !full && !fresh && r.AllocObjects > 0 {
			in, size := b.allocs-b.frees, r.AllocBytes/r.AllocObjects
			was.objects, was.bytes = scale(in, in*size, rate)
			was.sampled, was.born = in, b.allocs
		}
		b.allocs, b.frees = r.AllocObjects, r.FreeObjects
		now := inUseOf(r, rate)
		if b.self {
			s.selfBytes += now.bytes - was.bytes
			if !s.cfg.includeSelf {
				continue
			}
		}
		s.total.InUseBytes += now.bytes - was.bytes
		s.total.InUseObjects += now.objects - was.objects
		s.total.InUseSampled += now.sampled - was.sampled
		s.total.AllocSampled += now.born - was.born
		switch {
		case full && b.canon == int32(id):
			b.out = int32(len(out.Records))
			out.Records = append(out.Records, s.record(b.key, r, rate, &now))
		case full:
			// The runtime keeps one record per stack and allocation size; a
			// Sample has one per stack. Scaling is per size, as the
			// estimate's variance is.
			add(&out.Records[s.buckets[b.canon].out], r, rate, &now)
		case b.canon == int32(id) && b.next == 0:
			b.out = int32(len(out.Records))
			out.Records = append(out.Records, s.record(b.key, r, rate, &now))
		default:
			c := &s.buckets[b.canon]
			if p := c.out; p >= 0 && int(p) < len(out.Records) && out.Records[p].Stack == c.key {
				// A new size of a stack listed above with its only other.
				add(&out.Records[p], r, rate, &now)
				continue
			}
			// One size of a stack with several: the stack's record sums
			// them all, the unchanged ones too, once every bucket has been
			// read.
			if c.out != pendingOut {
				c.out = pendingOut
				s.pending = append(s.pending, b.canon)
			}
		}
	}
	for _, c := range s.pending {
		r := &s.records[n-1-int(c)]
		in := inUseOf(r, rate)
		rec := s.record(s.buckets[c].key, r, rate, &in)
		for id := s.buckets[c].next; id != 0; id = s.buckets[id-1].next {
			r := &s.records[n-int(id)]
			in := inUseOf(r, rate)
			add(&rec, r, rate, &in)
		}
		out.Records = append(out.Records, rec)
		s.buckets[c].out = -1
	}
	return true
}

// addBucket works out what a bucket seen for the first time is: its
// fingerprint, whether leakguard allocated there, and the stack's first
// bucket if this is another size of a stack already seen.
func (s *Sampler) addBucket(id int, stk []uintptr) {
	b := &s.buckets[id]
	key := s.fingerprint(s.userStack(stk))
	*b = bucket{key: key, canon: int32(id), out: -1, depth: uint8(len(stk))}
	if len(stk) > 0 {
		b.leaf = stk[0]
	}
	if first, ok := s.find(key); ok {
		c := &s.buckets[first]
		b.canon, b.self = int32(first), c.self
		b.next, c.next = c.next, int32(id)+1
		return
	}
	s.insert(id)
	if s.cfg.lazyFrames {
		b.self = s.selfStack(stk)
	} else {
		b.self = s.symbolised(key, stk).self
	}
}

// forget drops what was worked out about every bucket.
func (s *Sampler) forget() {
	s.buckets = s.buckets[:0]
	clear(s.index)
}

// record is the Sample's record for one profile record of stack key, whose
// in-use counts are in.
func (s *Sampler) record(key uint64, r *runtime.MemProfileRecord, rate int64, in *inUse) sampler.Record {
	out := sampler.Record{Stack: key}
	if !s.cfg.lazyFrames {
		out.Frames = s.symbolised(key, r.Stack()).frames
	}
	add(&out, r, rate, in)
	return out
}

// inUse is what one profile record holds: its live objects scaled to an
// estimate, sampled, and its sampled births.
type inUse struct {
	objects, bytes int64
	sampled, born  int64
}

func inUseOf(r *runtime.MemProfileRecord, rate int64) inUse {
	objects, bytes := scale(r.InUseObjects(), r.InUseBytes(), rate)
	return inUse{objects: objects, bytes: bytes, sampled: r.InUseObjects(), born: r.AllocObjects}
}

// add adds one profile record's counts, in use as inUseOf gave them, to a
// Sample's record.
func add(agg *sampler.Record, r *runtime.MemProfileRecord, rate int64, in *inUse) {
	allocObj, allocBytes := scale(r.AllocObjects, r.AllocBytes, rate)
	agg.InUseBytes += in.bytes
	agg.InUseObjects += in.objects
	agg.AllocBytes += allocBytes
	agg.AllocObjects += allocObj
	agg.InUseSampled += in.sampled
	agg.AllocSampled += in.born
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
		s.free()
		s.gen++
	}
}

// alloc replaces the profile buffer with one of n records: outside the Go
// heap when it is too large to keep between Samples.
func (s *Sampler) alloc(n int) {
	s.free()
	if n > keepRecords {
		if r, ok := mapRecords(n); ok {
			s.records, s.mapped = r, true
			return
		}
	}
	s.records = make([]runtime.MemProfileRecord, n)
}

// free lets go of the profile buffer.
func (s *Sampler) free() {
	if s.mapped {
		unmapRecords(s.records)
		s.mapped = false
	}
	s.records = nil
}

// gcCycles returns the number of completed collections and of those
// runtime.GC ran, read without stopping the world.
func (s *Sampler) gcCycles() (total, forced uint64) {
	metrics.Read(s.gc)
	if s.gc[0].Value.Kind() == metrics.KindUint64 {
		total = s.gc[0].Value.Uint64()
	}
	if s.gc[1].Value.Kind() == metrics.KindUint64 {
		forced = s.gc[1].Value.Uint64()
	}
	return total, forced
}

// published returns the cycle whose snapshot the heap profile shows, given
// the completed and forced collections now: the newest when every
// collection since the last Sample was forced (runtime.GC publishes its
// own), else the one before it. A program that collects by itself and then
// calls runtime.GC between two Samples is read as the former case's
// opposite — the counters cannot tell which came last — and its Sample is
// stamped a cycle early.
func (s *Sampler) published(cycle, forced uint64) uint64 {
	switch {
	case s.sampled && cycle == s.lastGC:
		return s.lastSnap
	case s.cfg.forceGC, cycle == 0:
		return cycle
	case cycle-s.lastGC == forced-s.lastForced:
		return cycle
	default:
		return cycle - 1
	}
}

// gcTime is when the collection the profile shows ended — the newest, or
// (previous) the one before it: the heap profile describes the heap as of
// a completed cycle, so a sample read long after it must not be stamped
// with the time it was read (a leak would look faster than it is, and a
// sample read twice as late as the last GC would squeeze the interval
// between two GCs).
func (s *Sampler) gcTime(previous bool) time.Time {
	debug.ReadGCStats(&s.gcStats)
	return stampOf(&s.gcStats, time.Now(), previous)
}

// newestGCEnd is when the newest collection ended, or now before the first.
func (s *Sampler) newestGCEnd() time.Time {
	debug.ReadGCStats(&s.gcStats)
	return stampOf(&s.gcStats, time.Now(), false)
}

// stampOf is the time a sample read at now describes: the end of the last
// collection, or of the one before it (previous), or now before the first
// one (when runtime/debug reports the Unix epoch, which would put a fresh
// process's first sample in 1970). Before the second collection, the
// first's snapshot, published only then, is stamped with the first's end.
func stampOf(st *debug.GCStats, now time.Time, previous bool) time.Time {
	if st.NumGC == 0 || st.LastGC.UnixNano() <= 0 {
		return now
	}
	if previous && len(st.PauseEnd) >= 2 && st.PauseEnd[1].UnixNano() > 0 {
		return st.PauseEnd[1]
	}
	return st.LastGC
}

// bucket is what the previous Samples worked out about one of the
// runtime's profile buckets (one stack and allocation size): enough to
// recognise it, to tell whether its counts changed, and to sum what it
// holds without reading its record again.
type bucket struct {
	key  uint64
	leaf uintptr
	// allocs and frees are the sampled counts as of the previous Sample.
	allocs, frees int64
	canon         int32 // id of the stack's first bucket
	next          int32 // id+1 of the stack's next bucket after canon, 0 if none (canon only)
	out           int32 // canon's position in a full Sample being built, or pendingOut
	depth         uint8
	self          bool
}

// pendingOut marks a stack whose record is summed after the walk.
const pendingOut = -2

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
		s.alloc(s.last + s.last/16 + 64)
	}
	n, ok := runtime.MemProfile(s.records, true)
	for !ok {
		s.alloc(n + n/4 + 50)
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

// userStack returns stk without the runtime's frames at its leaf, as
// runtime/pprof writes heap profiles and as frames are shown: the runtime
// allocates for one line of code on several paths (a map's groups, tables
// and directory; a slice's growth), each a bucket of its own, and keying
// the stack without them makes them one stack — one series, whose evidence
// is not split, and the same series a stored profile gives. A stack of
// runtime frames only is kept whole. Each PC is looked up once.
func (s *Sampler) userStack(stk []uintptr) []uintptr {
	for i, pc := range stk {
		rt, ok := s.runtimePCs[pc]
		if !ok {
			if f := runtime.FuncForPC(pc); f != nil {
				name := f.Name()
				rt = strings.HasPrefix(name, "runtime.") || strings.HasPrefix(name, "internal/runtime/")
			}
			if len(s.runtimePCs) >= maxClasses {
				clear(s.runtimePCs)
			}
			s.runtimePCs[pc] = rt
		}
		if !rt {
			return stk[i:]
		}
	}
	return stk
}

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

// The index maps fingerprints to bucket ids: open addressing on the
// fingerprint, already a hash, over the ids alone (the keys are the
// buckets'), kept from Sample to Sample as the buckets are, so that a
// bucket is looked up once, when first seen.

// growIndex makes room for n stacks at most half full.
func (s *Sampler) growIndex(n int) {
	size := max(64, len(s.index))
	for size < 2*n {
		size *= 2
	}
	if size == len(s.index) {
		return
	}
	old := s.index
	s.index = make([]int32, size)
	for _, id := range old {
		if id != 0 {
			s.insert(int(id - 1))
		}
	}
}

func (s *Sampler) find(key uint64) (int, bool) {
	if len(s.index) == 0 {
		return 0, false
	}
	mask := uint64(len(s.index) - 1)
	for i := key & mask; ; i = (i + 1) & mask {
		id := s.index[i]
		if id == 0 {
			return 0, false
		}
		if s.buckets[id-1].key == key {
			return int(id - 1), true
		}
	}
}

// insert indexes bucket id's stack, not indexed yet; growIndex made room.
func (s *Sampler) insert(id int) {
	mask := uint64(len(s.index) - 1)
	i := s.buckets[id].key & mask
	for s.index[i] != 0 {
		i = (i + 1) & mask
	}
	s.index[i] = int32(id + 1)
}

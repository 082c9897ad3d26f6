//go:build linux && amd64

package uprobe

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"

	"github.com/leakguard/leakguard/sampler"
)

// maxDepth is the stack depth the BPF program stores (MAX_DEPTH in
// bpf/malloc.c).
const maxDepth = 64

// batchSize is how many outstanding allocations one map read returns.
const batchSize = 4096

// Counter indices (enum counter in bpf/malloc.c).
const (
	cCalls = iota
	cSampled
	cAllocsFull
	cStackFail
	cPendingFull
	cFrees
	cTotalsFull
	cCount
)

// probe is one allocator entry point: the BPF program at its entry and
// whether its return value is the new block (so the return probe runs).
type probe struct {
	name     string
	required bool
	ret      bool
	prog     func(*mallocObjects) *ebpf.Program
}

var probes = []probe{
	{"malloc", true, true, func(o *mallocObjects) *ebpf.Program { return o.MallocEnter }},
	{"free", true, false, func(o *mallocObjects) *ebpf.Program { return o.FreeEnter }},
	{"calloc", false, true, func(o *mallocObjects) *ebpf.Program { return o.CallocEnter }},
	{"realloc", false, true, func(o *mallocObjects) *ebpf.Program { return o.ReallocEnter }},
	{"posix_memalign", false, true, func(o *mallocObjects) *ebpf.Program { return o.PosixMemalignEnter }},
	{"aligned_alloc", false, true, func(o *mallocObjects) *ebpf.Program { return o.AlignedAllocEnter }},
	{"memalign", false, true, func(o *mallocObjects) *ebpf.Program { return o.AlignedAllocEnter }},
	{"valloc", false, true, func(o *mallocObjects) *ebpf.Program { return o.MallocEnter }},
	{"pvalloc", false, true, func(o *mallocObjects) *ebpf.Program { return o.MallocEnter }},
}

// Sampler traces a process's C allocator with eBPF uprobes. It implements
// sampler.Sampler with Resource sampler.Native.
type Sampler struct {
	cfg     config
	pid     int
	start   uint64
	library string
	source  string

	mu      sync.Mutex
	objs    mallocObjects
	links   []link.Link
	sym     *symbolizer
	seed    maphash.Seed
	stacks  map[int64]stackInfo
	agg     map[int64]*sampler.Record
	keys    []uint64
	vals    []mallocAlloc
	seq     uint64
	closed  bool
	goneErr error

	// owned is set for a program started by Start: until its caller reaps
	// it, its PID cannot be reused, so its zombie is still the process
	// traced, and the maps hold what it had allocated when it exited.
	owned  bool
	exited chan struct{}
}

type stackInfo struct {
	fp     uint64
	frames []sampler.Frame
}

var _ sampler.Sampler = (*Sampler)(nil)

// New attaches uprobes to the C allocator of process pid (0 means the
// current process) and returns a Sampler reading what they record.
//
// It fails with an error wrapping os.ErrProcessDone when the process does
// not exist, ErrPermission without the needed privileges, ErrUnsupported
// without kernel BPF support, and ErrNoAllocator when the process maps no C
// library (a static binary: name the executable with WithLibrary).
func New(pid int, opts ...Option) (*Sampler, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if pid < 0 {
		return nil, fmt.Errorf("uprobe: New(%d): pid must not be negative", pid)
	}
	if pid == 0 {
		pid = os.Getpid()
	}
	start, err := startTime(pid)
	if err != nil {
		return nil, err
	}
	maps, err := readMaps(pid)
	if err != nil {
		return nil, err
	}
	lib := cfg.library
	if lib == "" {
		l, ok := findLibc(maps)
		if !ok {
			return nil, fmt.Errorf("%w: process %d maps no libc (statically linked?); use WithLibrary to name the object holding the allocator", ErrNoAllocator, pid)
		}
		lib = inProcRoot(pid, l)
	}
	if _, err := os.Stat(lib); err != nil {
		return nil, fmt.Errorf("uprobe: allocator library %s: %w", lib, err)
	}
	if err := checkCaps(); err != nil {
		return nil, err
	}
	if err := features.HaveProgramType(ebpf.Kprobe); err != nil {
		return nil, fmt.Errorf("%w: kernel cannot load kprobe/uprobe BPF programs: %v", ErrUnsupported, err)
	}
	// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK; later ones
	// to the cgroup, and this is a no-op.
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("uprobe: raising RLIMIT_MEMLOCK for BPF maps: %w", err)
	}

	s := &Sampler{
		cfg:     cfg,
		pid:     pid,
		start:   start,
		library: lib,
		source:  fmt.Sprintf("pid %d (%s)", pid, lib),
		sym:     newSymbolizer(pid, maps),
		seed:    maphash.MakeSeed(),
		stacks:  make(map[int64]stackInfo),
		agg:     make(map[int64]*sampler.Record),
		keys:    make([]uint64, batchSize),
		vals:    make([]mallocAlloc, batchSize),
	}
	if err := s.load(); err != nil {
		s.sym.close()
		return nil, err
	}
	if err := s.attach(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Sampler) load() error {
	spec, err := loadMalloc()
	if err != nil {
		return fmt.Errorf("uprobe: parsing embedded BPF object: %w", err)
	}
	spec.Maps["allocs"].MaxEntries = uint32(s.cfg.maxOutstanding)
	spec.Maps["stacks"].MaxEntries = uint32(s.cfg.maxStacks)
	spec.Maps["totals"].MaxEntries = uint32(s.cfg.maxStacks)
	if err := spec.Variables["sample_every"].Set(uint64(s.cfg.sampleEvery)); err != nil {
		return fmt.Errorf("uprobe: setting sample_every: %w", err)
	}
	if err := spec.Variables["min_size"].Set(uint64(s.cfg.minSize)); err != nil {
		return fmt.Errorf("uprobe: setting min_size: %w", err)
	}
	if err := spec.LoadAndAssign(&s.objs, nil); err != nil {
		if errors.Is(err, ebpf.ErrNotSupported) {
			return fmt.Errorf("%w: %v", ErrUnsupported, err)
		}
		return fmt.Errorf("uprobe: loading BPF programs: %w", err)
	}
	return nil
}

func (s *Sampler) attach() error {
	ex, err := link.OpenExecutable(s.library)
	if err != nil {
		return fmt.Errorf("uprobe: opening allocator library %s: %w", s.library, err)
	}
	opts := &link.UprobeOptions{PID: s.pid}
	for _, p := range probes {
		sym := s.cfg.prefix + p.name
		// The return probe goes first: an entry probe without it would
		// leave per-thread pending entries behind.
		if p.ret {
			l, err := ex.Uretprobe(sym, s.objs.AllocReturn, opts)
			if err != nil {
				if !p.required && errors.Is(err, link.ErrNoSymbol) {
					continue
				}
				return fmt.Errorf("uprobe: attaching return probe to %s in %s: %w", sym, s.library, err)
			}
			s.links = append(s.links, l)
		}
		l, err := ex.Uprobe(sym, p.prog(&s.objs), opts)
		if err != nil {
			if !p.required && errors.Is(err, link.ErrNoSymbol) {
				continue
			}
			return fmt.Errorf("uprobe: attaching probe to %s in %s: %w", sym, s.library, err)
		}
		s.links = append(s.links, l)
	}
	return nil
}

// Resource reports sampler.Native.
func (s *Sampler) Resource() sampler.Resource { return sampler.Native }

// Library reports the path of the object whose allocator is probed.
func (s *Sampler) Library() string { return s.library }

// Sample reads the outstanding allocations and per-stack totals the probes
// recorded. Counts are scaled by the sampling interval. Once the target has
// exited (a program started by Start: once it has been waited for), Sample
// returns an error wrapping os.ErrProcessDone; Close still needs to be
// called.
func (s *Sampler) Sample(ctx context.Context) (*sampler.Sample, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, sampler.ErrClosed
	}
	if s.goneErr != nil {
		return nil, s.goneErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.alive(); err != nil {
		s.goneErr = err
		return nil, err
	}
	now := time.Now()
	clear(s.agg)
	if err := s.readAllocs(ctx); err != nil {
		return nil, err
	}
	var sumBytes, sumCount uint64
	it := s.objs.Totals.Iterate()
	var id int64
	var tot mallocStackTotals
	for it.Next(&id, &tot) {
		r := s.record(id)
		r.AllocBytes += int64(tot.Bytes)
		r.AllocObjects += int64(tot.Count)
		sumBytes += tot.Bytes
		sumCount += tot.Count
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("uprobe: reading per-stack totals: %w", err)
	}
	n := int64(s.cfg.sampleEvery)
	out := &sampler.Sample{
		Time:     now,
		Resource: sampler.Native,
		Records:  make([]sampler.Record, 0, len(s.agg)),
		Rate:     1,
		Seq:      s.seq + 1,
		Epoch:    1,
		Source:   s.source,
	}
	if n > 1 {
		// One recorded allocation per n calls is, in bytes, one per
		// n × mean size: the meaning Rate has for the Go heap profile.
		out.Rate = n
		if sumCount > 0 {
			out.Rate = n * int64(sumBytes/sumCount)
		}
	}
	for id, r := range s.agg {
		info, err := s.stack(id)
		if err != nil {
			return nil, err
		}
		r.Stack, r.Frames = info.fp, info.frames
		r.InUseSampled, r.AllocSampled = r.InUseObjects, r.AllocObjects
		r.InUseBytes *= n
		r.InUseObjects *= n
		r.AllocBytes *= n
		r.AllocObjects *= n
		out.Records = append(out.Records, *r)
	}
	slices.SortFunc(out.Records, func(a, b sampler.Record) int {
		if c := cmp.Compare(b.InUseBytes, a.InUseBytes); c != 0 {
			return c
		}
		return cmp.Compare(a.Stack, b.Stack)
	})
	s.sym.reread = false
	// The target may have exited while the maps were read.
	if err := s.alive(); err != nil {
		s.goneErr = err
		return nil, err
	}
	s.seq++
	return out, nil
}

func (s *Sampler) alive() error {
	st, zombie, err := procStart(s.pid)
	if err == nil && zombie && !s.owned {
		err = fmt.Errorf("uprobe: process %d: %w", s.pid, os.ErrProcessDone)
	}
	if err == nil && st != s.start {
		err = fmt.Errorf("uprobe: process %d: %w (its PID now belongs to another process)", s.pid, os.ErrProcessDone)
	}
	if err != nil {
		if !errors.Is(err, os.ErrProcessDone) {
			err = fmt.Errorf("%w: %w", err, os.ErrProcessDone)
		}
		return fmt.Errorf("%w; the sampler saw it until %s", err, time.Now().UTC().Format(time.RFC3339))
	}
	return nil
}

func (s *Sampler) record(id int64) *sampler.Record {
	if id < 0 {
		id = -1 // every failed stack capture is one unknown stack
	}
	r := s.agg[id]
	if r == nil {
		r = &sampler.Record{}
		s.agg[id] = r
	}
	return r
}

// readAllocs aggregates the outstanding-allocation map by stack.
func (s *Sampler) readAllocs(ctx context.Context) error {
	var cursor ebpf.MapBatchCursor
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		k, err := s.objs.Allocs.BatchLookup(&cursor, s.keys, s.vals, nil)
		for i := range k {
			r := s.record(s.vals[i].StackId)
			r.InUseBytes += int64(s.vals[i].Size)
			r.InUseObjects++
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return nil
		}
		if errors.Is(err, ebpf.ErrNotSupported) {
			return s.iterateAllocs()
		}
		if err != nil {
			return fmt.Errorf("uprobe: reading outstanding allocations: %w", err)
		}
	}
}

// iterateAllocs is the slow path for kernels without batch map reads.
func (s *Sampler) iterateAllocs() error {
	clear(s.agg)
	it := s.objs.Allocs.Iterate()
	var addr uint64
	var a mallocAlloc
	for it.Next(&addr, &a) {
		r := s.record(a.StackId)
		r.InUseBytes += int64(a.Size)
		r.InUseObjects++
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("uprobe: reading outstanding allocations: %w", err)
	}
	return nil
}

// stack returns the fingerprint and frames of a stack id, symbolising it
// the first time. Stack ids are never reused (the map is not cleared and
// the program does not overwrite), so the cache is bounded by the map.
func (s *Sampler) stack(id int64) (stackInfo, error) {
	if info, ok := s.stacks[id]; ok {
		return info, nil
	}
	var info stackInfo
	if id < 0 {
		info = stackInfo{fp: 0, frames: []sampler.Frame{{Function: "[unknown stack: stack map full]"}}}
	} else {
		raw, err := s.objs.Stacks.LookupBytes(uint32(id))
		if err != nil {
			return info, fmt.Errorf("uprobe: reading stack %d: %w", id, err)
		}
		ips := make([]uint64, 0, maxDepth)
		for i := 0; i+8 <= len(raw); i += 8 {
			ip := binary.NativeEndian.Uint64(raw[i:])
			if ip == 0 {
				break
			}
			ips = append(ips, ip)
		}
		var h maphash.Hash
		h.SetSeed(s.seed)
		h.Write(raw[:len(ips)*8])
		info = stackInfo{fp: h.Sum64(), frames: s.sym.frames(ips)}
	}
	s.stacks[id] = info
	return info, nil
}

// Stats reads the probes' counters.
func (s *Sampler) Stats() (Stats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Stats{}, sampler.ErrClosed
	}
	var c [cCount]uint64
	for i := range c {
		var perCPU []uint64
		if err := s.objs.Counters.Lookup(uint32(i), &perCPU); err != nil {
			return Stats{}, fmt.Errorf("uprobe: reading counters: %w", err)
		}
		for _, v := range perCPU {
			c[i] += v
		}
	}
	return Stats{
		Calls:          c[cCalls],
		Recorded:       c[cSampled],
		Frees:          c[cFrees],
		AllocsDropped:  c[cAllocsFull],
		StacksDropped:  c[cStackFail],
		PendingDropped: c[cPendingFull],
		TotalsDropped:  c[cTotalsFull],
	}, nil
}

// Close detaches the probes and frees the kernel maps. It is safe to call
// more than once.
func (s *Sampler) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	for _, l := range s.links {
		errs = append(errs, l.Close())
	}
	s.links = nil
	errs = append(errs, s.objs.Close(), s.sym.close())
	return errors.Join(errs...)
}

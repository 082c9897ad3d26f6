package uprobe

import (
	"errors"
	"fmt"
)

// Defaults, chosen by measurement (see the package doc).
const (
	// DefaultSampleEvery records every allocation: the uprobe trap costs
	// the same whether or not the call is sampled, so sampling buys little
	// speed and costs precision.
	DefaultSampleEvery = 1
	// DefaultMaxOutstanding bounds the kernel map of live allocations.
	DefaultMaxOutstanding = 1 << 20
	// DefaultMaxStacks bounds the kernel's stack-trace map and the
	// per-stack totals.
	DefaultMaxStacks = 16384
)

// ErrUnsupported is returned by New where eBPF uprobes cannot run: another
// operating system or architecture, or a kernel without BPF support.
var ErrUnsupported = errors.New("uprobe: eBPF uprobe sampling is unsupported here")

// ErrPermission is returned by New when the process lacks the privileges to
// load BPF programs and attach uprobes (root, or CAP_BPF and CAP_PERFMON).
var ErrPermission = errors.New("uprobe: insufficient privileges")

// ErrNoAllocator is returned by New when the target maps no C library with
// malloc and free (for example a statically linked binary) and no
// library was named with WithLibrary.
var ErrNoAllocator = errors.New("uprobe: no C allocator mapped in the target")

// Option configures a Sampler.
type Option func(*config) error

type config struct {
	sampleEvery    int
	minSize        int
	library        string
	prefix         string
	maxOutstanding int
	maxStacks      int
}

func newConfig(opts []Option) (config, error) {
	c := config{
		sampleEvery:    DefaultSampleEvery,
		maxOutstanding: DefaultMaxOutstanding,
		maxStacks:      DefaultMaxStacks,
	}
	for _, o := range opts {
		if o == nil {
			return c, errors.New("uprobe: nil Option")
		}
		if err := o(&c); err != nil {
			return c, err
		}
	}
	return c, nil
}

// WithSampleEvery records each allocation call with probability 1/n (a
// kernel random number, so sampling cannot alias with a program that
// allocates in a fixed cycle) and scales the recorded counts by n, so that
// they remain unbiased estimates. n = 1 records everything.
func WithSampleEvery(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("uprobe: WithSampleEvery(%d): must be at least 1", n)
		}
		c.sampleEvery = n
		return nil
	}
}

// WithMinSize ignores allocations smaller than bytes. Unlike sampling, this
// is a filter, not an estimate: small allocations are simply not counted.
func WithMinSize(bytes int) Option {
	return func(c *config) error {
		if bytes < 0 {
			return fmt.Errorf("uprobe: WithMinSize(%d): must not be negative", bytes)
		}
		c.minSize = bytes
		return nil
	}
}

// WithLibrary probes the allocator in the ELF object at path (a shared
// library such as libjemalloc.so.2, or the target executable itself when
// it links its allocator statically) instead of the C library found in
// the target's /proc/PID/maps.
func WithLibrary(path string) Option {
	return func(c *config) error {
		if path == "" {
			return errors.New("uprobe: WithLibrary(\"\"): empty path")
		}
		c.library = path
		return nil
	}
}

// WithSymbolPrefix prefixes the allocator symbol names, for allocators that
// export prefixed entry points (jemalloc built with --with-jemalloc-prefix=je_
// exports je_malloc, je_free, ...).
func WithSymbolPrefix(p string) Option {
	return func(c *config) error {
		c.prefix = p
		return nil
	}
}

// WithMaxOutstanding bounds the kernel hash map of live allocations to n
// entries. When it is full, new allocations are not recorded and
// Stats().AllocsDropped counts them.
func WithMaxOutstanding(n int) Option {
	return func(c *config) error {
		if n < 1 || n > 1<<28 {
			return fmt.Errorf("uprobe: WithMaxOutstanding(%d): must be in [1, 2^28]", n)
		}
		c.maxOutstanding = n
		return nil
	}
}

// WithMaxStacks bounds the number of distinct allocation stacks kept in the
// kernel (default DefaultMaxStacks). Allocations whose stack does not fit
// are still counted, under an unknown stack, and Stats().StacksDropped
// counts them.
func WithMaxStacks(n int) Option {
	return func(c *config) error {
		if n < 1 || n > 1<<20 {
			return fmt.Errorf("uprobe: WithMaxStacks(%d): must be in [1, 2^20]", n)
		}
		c.maxStacks = n
		return nil
	}
}

// Stats counts what the probes saw and what they could not record. Every
// drop makes the Samples undercount, so a caller should watch them.
type Stats struct {
	// Calls is the number of allocation calls seen, sampled or not.
	Calls uint64
	// Recorded is the number of allocations recorded.
	Recorded uint64
	// Frees is the number of recorded allocations freed.
	Frees uint64
	// AllocsDropped counts allocations not recorded because the map of
	// outstanding allocations was full (see WithMaxOutstanding).
	AllocsDropped uint64
	// StacksDropped counts allocations whose stack could not be stored (the
	// stack map was full or two stacks collided); they are reported under
	// an unknown stack.
	StacksDropped uint64
	// PendingDropped counts allocation calls lost because too many threads
	// were inside the allocator at once.
	PendingDropped uint64
	// TotalsDropped counts allocations missing from cumulative totals
	// because the per-stack totals map was full.
	TotalsDropped uint64
}

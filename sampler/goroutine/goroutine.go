// Package goroutine is leakguard's sampler over live goroutines: it counts
// them per creation site, so the same engine that finds heap leaks finds
// goroutine leaks in a running service.
//
// A goroutine's site is the function it was started with (the outermost
// frame of its stack in the goroutine profile); its Record carries the
// count as InUseObjects and, since the detector tests bytes, an estimate of
// the memory they pin as InUseBytes: count × MinStackBytes, the smallest
// goroutine stack (the real figure is larger; growth is what matters).
//
// Where the runtime offers the goroutineleak profile (Go 1.26 built with
// GOEXPERIMENT=goroutineleakprofile, standard from Go 1.27), the Sampler
// also reads it: it reports goroutines blocked on primitives no running
// goroutine can reach, which is sound — such a goroutine is certainly
// leaked — and each Record's ProvenLeaked carries their count. Its
// presence is detected at run time; nothing requires it. Reading it costs
// a garbage collection cycle, so it can be turned off (WithLeakProfile).
package goroutine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"runtime/pprof"
	"time"

	"github.com/google/pprof/profile"

	"github.com/leakguard/leakguard/sampler"
)

// MinStackBytes is the per-goroutine memory estimate: the runtime's
// smallest goroutine stack.
const MinStackBytes = 2048

// Option configures a Sampler. Options are validated by New, which
// returns the first error.
type Option func(*config) error

type config struct {
	useLeak bool
}

// WithLeakProfile enables or disables reading the goroutineleak profile
// when the runtime has it (default enabled).
func WithLeakProfile(on bool) Option { return func(c *config) error { c.useLeak = on; return nil } }

// Sampler counts live goroutines per creation site. It implements
// sampler.Sampler with Resource sampler.Goroutines.
type Sampler struct {
	useLeak bool
	closed  bool
	seq     uint64
	buf     bytes.Buffer
}

// New returns a goroutine Sampler.
func New(opts ...Option) (*Sampler, error) {
	cfg := config{useLeak: true}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("goroutine: nil Option")
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	return &Sampler{useLeak: cfg.useLeak}, nil
}

// HasLeakProfile reports whether this runtime offers the goroutineleak
// profile.
func HasLeakProfile() bool { return pprof.Lookup("goroutineleak") != nil }

// Resource reports sampler.Goroutines.
func (s *Sampler) Resource() sampler.Resource { return sampler.Goroutines }

// Close makes further Samples fail. It is safe to call more than once.
func (s *Sampler) Close() error { s.closed = true; return nil }

// Sample reads the goroutine profile (and the goroutineleak profile where
// available) and counts goroutines per creation site.
func (s *Sampler) Sample(ctx context.Context) (*sampler.Sample, error) {
	if s.closed {
		return nil, sampler.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := time.Now()
	sites, err := s.read("goroutine")
	if err != nil {
		return nil, err
	}
	if s.useLeak && HasLeakProfile() {
		leaked, err := s.read("goroutineleak")
		if err != nil {
			return nil, err
		}
		for k, l := range leaked {
			if r, ok := sites[k]; ok {
				r.ProvenLeaked = l.InUseObjects
			}
		}
	}
	s.seq++
	out := &sampler.Sample{Time: now, Resource: sampler.Goroutines, Rate: 1, Seq: s.seq, Epoch: 1, Source: "runtime"}
	out.Records = make([]sampler.Record, 0, len(sites))
	for _, r := range sites {
		out.Records = append(out.Records, *r)
	}
	return out, nil
}

func (s *Sampler) read(name string) (map[uint64]*sampler.Record, error) {
	p := pprof.Lookup(name)
	if p == nil {
		return nil, fmt.Errorf("goroutine: no %s profile in this runtime", name)
	}
	s.buf.Reset()
	if err := p.WriteTo(&s.buf, 0); err != nil {
		return nil, fmt.Errorf("goroutine: writing the %s profile: %w", name, err)
	}
	prof, err := profile.Parse(&s.buf)
	if err != nil {
		return nil, fmt.Errorf("goroutine: parsing the %s profile: %w", name, err)
	}
	sites := make(map[uint64]*sampler.Record)
	for _, smp := range prof.Sample {
		var frames []sampler.Frame
		for _, loc := range smp.Location {
			for _, l := range loc.Line {
				if l.Function == nil || l.Function.Name == "runtime.goexit" {
					continue
				}
				frames = append(frames, sampler.Frame{Function: l.Function.Name, File: l.Function.Filename, Line: int(l.Line)})
			}
		}
		if len(frames) == 0 || len(smp.Value) == 0 {
			continue
		}
		entry := frames[len(frames)-1]
		key := SiteKey(entry)
		r := sites[key]
		if r == nil {
			// The first stack seen at a site represents it; the entry
			// function is what the key and the report rest on.
			r = &sampler.Record{Stack: key, Frames: frames}
			sites[key] = r
		}
		r.InUseObjects += smp.Value[0]
		// Every goroutine is counted, none sampled; births are unknown.
		r.InUseSampled += smp.Value[0]
		r.InUseBytes += smp.Value[0] * MinStackBytes
	}
	return sites, nil
}

// SiteKey fingerprints a creation site by its entry function and file, so
// that a site's goroutines line up however far their stacks have run: the
// Record.Stack of this sampler, and of stored goroutine profiles read by
// package pprofile.
func SiteKey(entry sampler.Frame) uint64 {
	h := fnv.New64a()
	h.Write([]byte(entry.Function))
	h.Write([]byte{0})
	h.Write([]byte(entry.File))
	if k := h.Sum64(); k != 0 {
		return k
	}
	return 1
}

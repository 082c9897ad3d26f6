package pprofile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/google/pprof/profile"

	"github.com/leakguard/leakguard/internal/gcdate"
	"github.com/leakguard/leakguard/sampler"
)

// Files is a Sampler over stored heap or goroutine profiles (one kind per
// series), replayed in the order of their own TimeNanos.
type Files struct {
	samples  []*sampler.Sample
	resource sampler.Resource
	next     int
	skipped  []error
	repeated int
	undated  int
	closed   bool
}

// FilesOption configures Open. Options are validated by Open, which
// returns the first error.
type FilesOption func(*filesConfig) error

type filesConfig struct {
	skipBad    bool
	sampleType SampleType
	maxSize    int64
}

// WithMaxProfileSize caps the size of one profile file, as stored and once
// decompressed (default DefaultMaxProfileSize); a larger file is an error
// wrapping ErrTooLarge, found without reading past the cap.
func WithMaxProfileSize(n int64) FilesOption {
	return func(c *filesConfig) error {
		if n <= 0 {
			return fmt.Errorf("maximum profile size %d must be positive", n)
		}
		c.maxSize = n
		return nil
	}
}

// SkipBad makes Open leave out files that cannot be parsed as heap
// profiles (reported by Skipped) instead of failing.
func SkipBad() FilesOption { return func(c *filesConfig) error { c.skipBad = true; return nil } }

// WithSampleType selects the in-use measure (default InUseSpace).
func WithSampleType(st SampleType) FilesOption {
	return func(c *filesConfig) error {
		if st != InUseSpace && st != InUseObjects {
			return fmt.Errorf("unknown sample type %q (want inuse_space or inuse_objects)", st)
		}
		c.sampleType = st
		return nil
	}
}

// Open reads every profile named by paths (files, or directories whose
// regular files are all read) and orders them by their timestamps. The series is
// of heap profiles or of goroutine profiles, told by their sample types
// (Resource reports which). Errors name the file: unreadable or corrupt
// files (unless SkipBad), files over the size limit (unless SkipBad),
// profiles of neither kind, delta profiles (ErrDelta), a mix of both kinds,
// a mix of the debug=1 and debug=0 formats, two profiles with the same
// timestamp, profiles of different programs, heap profiles at different
// sampling rates or of different processes (a restart: see comparable),
// and a directory with no files.
// A profile without a timestamp of its own (the debug=1 text format) is
// placed at its file's modification time (see Undated). A heap profile that
// repeats the one before it is left out (see Repeated), and when any was,
// every heap profile is dated at the collection it shows (gcdate).
func Open(paths []string, opts ...FilesOption) (*Files, error) {
	cfg := filesConfig{sampleType: InUseSpace, maxSize: DefaultMaxProfileSize}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("nil FilesOption")
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if len(paths) == 0 {
		return nil, errors.New("no profiles given")
	}
	var names []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			names = append(names, p)
			continue
		}
		before := len(names)
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				names = append(names, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(names) == before {
			return nil, fmt.Errorf("no profiles in %s: the directory holds no files", p)
		}
	}
	f := &Files{}
	type loaded struct {
		name    string
		prof    *profile.Profile
		program string
		undated bool
	}
	var all []loaded
	var firstOfKind string
	for _, name := range names {
		p, err := parseFile(name, cfg.maxSize)
		var res sampler.Resource
		if err == nil {
			var ok bool
			if res, ok = ResourceOf(p); !ok {
				err = fmt.Errorf("%s: %w", name, ErrNotSupported)
			} else {
				err = checkSnapshot(p, name)
			}
		}
		if err != nil {
			if cfg.skipBad {
				f.skipped = append(f.skipped, err)
				continue
			}
			return nil, err
		}
		undated := p.TimeNanos == 0
		if undated {
			// The legacy text formats (debug=1) carry no time: a file
			// saved as the profile was fetched was written when it was
			// taken.
			info, err := os.Stat(name)
			if err != nil {
				return nil, err
			}
			p.TimeNanos = info.ModTime().UnixNano()
			f.undated++
		}
		if f.resource == "" {
			f.resource, firstOfKind = res, name
		} else if res != f.resource {
			return nil, fmt.Errorf("%s is a %s profile and %s a %s profile: analyse one kind at a time", firstOfKind, kindName(f.resource), name, kindName(res))
		}
		all = append(all, loaded{name, p, program(p), undated})
	}
	if len(all) == 0 {
		return nil, errors.Join(append([]error{errors.New("no readable heap or goroutine profiles")}, f.skipped...)...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].prof.TimeNanos < all[j].prof.TimeNanos })
	if f.undated > 0 && f.undated < len(all) {
		// The text format is timed by its file, the protobuf by itself:
		// a series mixing them would be ordered by two clocks.
		text, proto := all[0].name, all[0].name
		for _, l := range all {
			if l.undated {
				text = l.name
			} else {
				proto = l.name
			}
		}
		return nil, fmt.Errorf("%s is a debug=1 text profile (timed by its file) and %s a debug=0 profile (timed by its own timestamp): a series is of one format; analyse profiles of one format", text, proto)
	}
	var last uint64
	for i := range all {
		if i > 0 && all[i].prof.TimeNanos == all[i-1].prof.TimeNanos {
			err := fmt.Errorf("%s and %s have the same timestamp; a series needs distinct times", all[i-1].name, all[i].name)
			if f.undated > 0 {
				err = fmt.Errorf("%w (profiles without a timestamp of their own are placed at their files' modification times, which copying may have reset)", err)
			}
			return nil, err
		}
		if all[i].program != "" && all[0].program != "" && all[i].program != all[0].program {
			return nil, fmt.Errorf("%s is from a different program (%s) than %s (%s)", all[i].name, all[i].program, all[0].name, all[0].program)
		}
		s, err := FromProfile(all[i].prof, all[i].name, cfg.sampleType)
		if err != nil {
			return nil, err
		}
		if i > 0 && f.resource == sampler.Heap {
			if err := comparable(all[i-1].name, all[i].name, all[i-1].prof, all[i].prof); err != nil {
				return nil, err
			}
		}
		// A heap profile only changes when a GC runs: the same numbers under
		// a later timestamp are not a new observation, and counting them
		// would fake persistence (the HTTP sampler skips them too). A
		// goroutine profile is current whenever it is taken: the same
		// numbers later are a new observation of a flat series.
		sum := digest(s)
		if f.resource == sampler.Heap && len(f.samples) > 0 && sum == last {
			f.repeated++
			continue
		}
		last = sum
		f.samples = append(f.samples, s)
	}
	if f.resource == sampler.Heap && f.repeated > 0 {
		// Fetched faster than the program collects: each profile shows
		// the heap a collection before it was taken, and dated when
		// taken every change would seem a collection later than it was
		// — a warm-up that ended early would seem to end in the series'
		// newer half.
		gcdate.AtCollections(f.samples)
	}
	return f, nil
}

func parseFile(name string, limit int64) (*profile.Profile, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	_, p, err := readProfile(f, limit, name, "as stored")
	return p, err
}

// comparable returns an error when the heap profile b cannot continue the
// series that a, the profile before it, belongs to.
//
// A restart breaks it: sampled allocations since the process started never
// decrease while it runs, so fewer mean b is of another process than a
// (the process restarted, or two processes of one build are mixed, which
// the build ID cannot tell apart). Read as one series, a leak that each
// process had is cut short at the restart and can go unseen, and
// interleaved processes are noise. Goroutine profiles have no cumulative
// counts; a restart between them is not detected.
//
// So does a change of sampling rate within a process
// (runtime.MemProfileRate, the profile's Period): after a lower rate, the
// objects sampled before it are sampled more densely once replaced, so a
// stack that merely turns its objects over rises steadily in sampled
// objects — a false leak, and one that lasts in the later profiles until
// the objects sampled at the old rate are freed: only the profiles from
// before the change are sound.
func comparable(aName, bName string, a, b *profile.Profile) error {
	if sampledAllocs(b) < sampledAllocs(a) {
		return fmt.Errorf("%s counts fewer allocations since its process started than %s, taken before it: the process restarted between them, or the profiles are of two processes; a series must follow one process: analyse each process's profiles separately (a directory each, with --group-by dir to test them together as replicas)",
			bName, aName)
	}
	if a.Period != b.Period {
		return fmt.Errorf("%s was sampled at a rate of %d bytes and %s, after it, at %d (runtime.MemProfileRate changed): objects sampled before the change stay in later profiles and read as growth once replaced at the new rate; analyse the profiles from before it (and set the rate once, early in main)",
			aName, a.Period, bName, b.Period)
	}
	return nil
}

// sampledAllocs returns how many allocations the runtime sampled in the
// heap profile's process since it started: each sample's alloc_objects
// estimate unscaled at the rate the profile was written with, which counts
// them whatever the rate was when they were sampled. It never decreases
// while the process runs; 0 without allocation counts. Each of the
// runtime's samples holds objects of one size, which the unscaling needs:
// a Record, summed over sizes, would only approximate it.
func sampledAllocs(p *profile.Profile) int64 {
	objects, space := -1, -1
	for i, t := range p.SampleType {
		switch t.Type {
		case "alloc_objects":
			objects = i
		case "alloc_space":
			space = i
		}
	}
	if objects < 0 {
		return 0
	}
	var n int64
	for _, s := range p.Sample {
		if objects >= len(s.Value) || s.Value[objects] <= 0 {
			continue
		}
		count := s.Value[objects]
		if p.Period <= 1 || space < 0 || space >= len(s.Value) || s.Value[space] <= 0 {
			n += count
			continue
		}
		// An object of size z is sampled with probability 1 − exp(−z/rate);
		// the runtime divided the sampled count by it.
		keep := -math.Expm1(-float64(s.Value[space]) / float64(count) / float64(p.Period))
		n += int64(math.Round(float64(count) * keep))
	}
	return n
}

// kindName names a resource's profile in messages.
func kindName(r sampler.Resource) string {
	if r == sampler.Goroutines {
		return "goroutine"
	}
	return string(r)
}

// program identifies the profiled binary: its main mapping's build ID, or
// its file when there is no build ID.
func program(p *profile.Profile) string {
	if len(p.Mapping) == 0 {
		return ""
	}
	m := p.Mapping[0]
	if m.BuildID != "" {
		return "build ID " + m.BuildID
	}
	return m.File
}

// Len reports how many profiles the series holds.
func (f *Files) Len() int { return len(f.samples) }

// Repeated reports how many profiles were left out because they repeated
// the previous one's numbers exactly (no garbage collection in between).
func (f *Files) Repeated() int { return f.repeated }

// Undated reports how many profiles had no timestamp of their own (the
// debug=1 text format has none) and were placed in the series at their
// files' modification times.
func (f *Files) Undated() int { return f.undated }

// Skipped returns the errors of files left out under SkipBad.
func (f *Files) Skipped() []error { return f.skipped }

// Samples returns the whole series in time order.
func (f *Files) Samples() []*sampler.Sample { return f.samples }

// Sample returns the next profile in time order, io.EOF-like
// sampler.ErrClosed after the last one.
func (f *Files) Sample(ctx context.Context) (*sampler.Sample, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if f.closed || f.next >= len(f.samples) {
		return nil, sampler.ErrClosed
	}
	s := f.samples[f.next]
	f.next++
	return s, nil
}

// Resource reports what the series measures: sampler.Heap or
// sampler.Goroutines.
func (f *Files) Resource() sampler.Resource { return f.resource }

// Close ends the series.
func (f *Files) Close() error { f.closed = true; return nil }

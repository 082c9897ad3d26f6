package pprofile

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/google/pprof/profile"

	"github.com/leakguard/leakguard/sampler"
	"github.com/leakguard/leakguard/sampler/goroutine"
)

// SampleType selects which in-use measure a Sample's InUseBytes carries:
// the detector tests InUseBytes, so choosing objects makes it look for
// growth in the number of live objects instead.
type SampleType string

// The in-use measures a heap profile carries.
const (
	InUseSpace   SampleType = "inuse_space"
	InUseObjects SampleType = "inuse_objects"
)

// ErrNotSupported is returned for a profile that is neither a heap profile
// (inuse_space/inuse_objects sample types) nor a goroutine profile (one
// goroutine/count sample type): a CPU or mutex profile, for example.
var ErrNotSupported = errors.New("neither a heap nor a goroutine profile (want inuse_space/inuse_objects or goroutine/count sample types)")

// ErrNotHeap is the error of a profile this package cannot read.
//
// Deprecated: goroutine profiles are read too; use ErrNotSupported, which
// it equals.
var ErrNotHeap = ErrNotSupported

// ErrDelta is returned, wrapped with the file or URL, for a delta profile:
// what net/http/pprof serves for /debug/pprof/heap?seconds=N (or
// goroutine?seconds=N) is the difference between two snapshots N seconds
// apart, its in-use values changes over that interval, some negative.
// leakguard tests how the live objects of each stack evolve from one
// snapshot to the next; a series of deltas taken at intervals of the
// user's choosing, with gaps between them, holds no such level and cannot
// be turned back into one, so it is refused rather than read as a flat
// heap. Such a profile is told by its duration (DurationNanos, set only on
// deltas among heap and goroutine profiles) or by a negative in-use value.
var ErrDelta = errors.New("a delta profile (the change over an interval, as ?seconds=N serves), not a snapshot: fetch the endpoint without seconds=")

// checkSnapshot returns an error wrapping ErrDelta for a heap or goroutine
// profile that is a delta between two snapshots.
func checkSnapshot(p *profile.Profile, source string) error {
	delta := p.DurationNanos != 0
	for i, t := range p.SampleType {
		if delta || (t.Type != "inuse_space" && t.Type != "inuse_objects" && t.Type != "goroutine") {
			continue
		}
		for _, s := range p.Sample {
			if i < len(s.Value) && s.Value[i] < 0 {
				delta = true
				break
			}
		}
	}
	if delta {
		return fmt.Errorf("%s: %w", source, ErrDelta)
	}
	return nil
}

// ResourceOf tells what a profile measures from its sample types:
// sampler.Heap for a heap profile, sampler.Goroutines for a goroutine
// profile; ok is false for any other profile.
func ResourceOf(p *profile.Profile) (r sampler.Resource, ok bool) {
	if p == nil {
		return "", false
	}
	for _, t := range p.SampleType {
		if t.Type == "inuse_space" || t.Type == "inuse_objects" {
			return sampler.Heap, true
		}
	}
	if len(p.SampleType) == 1 && p.SampleType[0].Type == "goroutine" && p.SampleType[0].Unit == "count" {
		return sampler.Goroutines, true
	}
	return "", false
}

// FromProfile converts one parsed heap or goroutine profile into a Sample;
// the kind is told by the profile's sample types (ResourceOf). A delta
// profile is refused (ErrDelta). Time is the
// profile's own TimeNanos. source names the profile in errors and reports.
//
// A heap profile's records are aggregated per symbolised stack and Rate is
// its sampling period (pprof heap profiles are already scaled to unbiased
// estimates); with InUseObjects, each record's InUseBytes holds its object
// count.
//
// A goroutine profile's records are aggregated per creation site — the
// function the goroutines were started with — as sampler/goroutine does
// in-process: InUseObjects is the goroutine count and InUseBytes
// count × goroutine.MinStackBytes (with InUseObjects, the count).
func FromProfile(p *profile.Profile, source string, st SampleType) (*sampler.Sample, error) {
	if p == nil {
		return nil, fmt.Errorf("%s: nil profile", source)
	}
	if st != InUseSpace && st != InUseObjects && st != "" {
		return nil, fmt.Errorf("unknown sample type %q (want inuse_space or inuse_objects)", st)
	}
	res, ok := ResourceOf(p)
	if !ok {
		return nil, fmt.Errorf("%s: %w", source, ErrNotSupported)
	}
	if err := checkSnapshot(p, source); err != nil {
		return nil, err
	}
	if res == sampler.Goroutines {
		return fromGoroutineProfile(p, source, st)
	}
	idx := map[string]int{}
	for i, t := range p.SampleType {
		idx[t.Type] = i
	}
	space, okSpace := idx["inuse_space"]
	objects, okObjects := idx["inuse_objects"]
	allocSpace, okAllocSpace := idx["alloc_space"]
	allocObjects, okAllocObjects := idx["alloc_objects"]
	switch st {
	case InUseSpace, "":
		if !okSpace {
			return nil, fmt.Errorf("%s: profile has no inuse_space sample type", source)
		}
	case InUseObjects:
		if !okObjects {
			return nil, fmt.Errorf("%s: profile has no inuse_objects sample type", source)
		}
	}
	out := &sampler.Sample{
		Time:     time.Unix(0, p.TimeNanos),
		Resource: sampler.Heap,
		Rate:     p.Period,
		Source:   source,
	}
	byKey := make(map[uint64]int)
	for _, s := range p.Sample {
		if len(s.Value) != len(p.SampleType) {
			return nil, fmt.Errorf("%s: sample with %d values for %d sample types", source, len(s.Value), len(p.SampleType))
		}
		frames := framesOf(s)
		key := fingerprint(frames)
		i, ok := byKey[key]
		if !ok {
			i = len(out.Records)
			byKey[key] = i
			out.Records = append(out.Records, sampler.Record{Stack: key, Frames: frames})
		}
		r := &out.Records[i]
		get := func(ok bool, j int) int64 {
			if ok {
				return s.Value[j]
			}
			return 0
		}
		if st == InUseObjects {
			r.InUseBytes += get(okObjects, objects)
		} else {
			r.InUseBytes += get(okSpace, space)
		}
		r.InUseObjects += get(okObjects, objects)
		r.AllocBytes += get(okAllocSpace, allocSpace)
		r.AllocObjects += get(okAllocObjects, allocObjects)
	}
	return out, nil
}

func fromGoroutineProfile(p *profile.Profile, source string, st SampleType) (*sampler.Sample, error) {
	out := &sampler.Sample{
		Time:     time.Unix(0, p.TimeNanos),
		Resource: sampler.Goroutines,
		Rate:     1, // every goroutine is in the profile
		Source:   source,
	}
	byKey := make(map[uint64]int)
	for _, s := range p.Sample {
		if len(s.Value) != 1 {
			return nil, fmt.Errorf("%s: sample with %d values for 1 sample type", source, len(s.Value))
		}
		frames := framesOf(s)
		// runtime.goexit is every goroutine's outermost frame; the one
		// inside it is the function the goroutine was started with.
		for len(frames) > 0 && frames[len(frames)-1].Function == "runtime.goexit" {
			frames = frames[:len(frames)-1]
		}
		if len(frames) == 0 {
			continue
		}
		key := goroutine.SiteKey(frames[len(frames)-1])
		i, ok := byKey[key]
		if !ok {
			// The first stack seen at a site stands for it; the report
			// names the site, its last frame.
			i = len(out.Records)
			byKey[key] = i
			out.Records = append(out.Records, sampler.Record{Stack: key, Frames: frames})
		}
		r := &out.Records[i]
		n := s.Value[0]
		r.InUseObjects += n
		if st == InUseObjects {
			r.InUseBytes += n
		} else {
			r.InUseBytes += n * goroutine.MinStackBytes
		}
	}
	return out, nil
}

// framesOf symbolises a sample leaf first, expanding inlined frames (a
// Location's Line[0] is its innermost inlined function). Unsymbolised
// locations are named by mapping and offset.
func framesOf(s *profile.Sample) []sampler.Frame {
	var fr []sampler.Frame
	for _, loc := range s.Location {
		if len(loc.Line) == 0 {
			name := "0x" + strconv.FormatUint(loc.Address, 16)
			if m := loc.Mapping; m != nil && m.File != "" {
				name = m.File + "+0x" + strconv.FormatUint(loc.Address-m.Start+m.Offset, 16)
			}
			fr = append(fr, sampler.Frame{Function: name})
			continue
		}
		for _, l := range loc.Line {
			f := sampler.Frame{Line: int(l.Line)}
			if l.Function != nil {
				f.Function, f.File = l.Function.Name, l.Function.Filename
			}
			fr = append(fr, f)
		}
	}
	return fr
}

// fingerprint hashes the symbolised frames; 0 is reserved for the process
// total downstream.
func fingerprint(frames []sampler.Frame) uint64 {
	h := fnv.New64a()
	var b [8]byte
	for _, f := range frames {
		h.Write([]byte(f.Function))
		h.Write([]byte{0})
		h.Write([]byte(f.File))
		n := uint64(f.Line)
		for i := range b {
			b[i] = byte(n >> (8 * i))
		}
		h.Write(b[:])
	}
	if k := h.Sum64(); k != 0 {
		return k
	}
	return 1
}

package pprofile

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/google/pprof/profile"

	"github.com/leakguard/leakguard/sampler"
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

// ErrNotHeap is returned for a profile with no in-use sample types (a CPU
// or goroutine profile, for example).
var ErrNotHeap = errors.New("not a heap profile (no inuse_space/inuse_objects sample types)")

// FromProfile converts one parsed heap profile into a Sample. Records are
// aggregated per symbolised stack; Time is the profile's own TimeNanos and
// Rate its sampling period (pprof heap profiles are already scaled to
// unbiased estimates). With InUseObjects, each record's InUseBytes holds its
// object count. source names the profile in errors and reports.
func FromProfile(p *profile.Profile, source string, st SampleType) (*sampler.Sample, error) {
	if p == nil {
		return nil, fmt.Errorf("%s: nil profile", source)
	}
	idx := map[string]int{}
	for i, t := range p.SampleType {
		idx[t.Type] = i
	}
	space, okSpace := idx["inuse_space"]
	objects, okObjects := idx["inuse_objects"]
	if !okSpace && !okObjects {
		return nil, fmt.Errorf("%s: %w", source, ErrNotHeap)
	}
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
	default:
		return nil, fmt.Errorf("unknown sample type %q (want inuse_space or inuse_objects)", st)
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

// Package workload holds small, realistic Go programs — request handlers,
// caches, buffers, pools — that leak memory in each way leakguard must
// catch, or use it in each benign way it must not flag. The evaluation
// suite (cmd/leakguard-bench) runs them in-process one step per heap
// profile and scores the detector against their labels.
//
// Each workload allocates what it keeps in functions whose names contain
// its Marker, so an alert can be attributed to it from the stack alone.
package workload

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// Workload is one labelled program.
type Workload struct {
	// Name identifies it in tables.
	Name string
	// Leak is the label: true when its memory grows without bound.
	Leak bool
	// Marker is a substring of the name of every function that allocates
	// what the workload keeps (empty when it keeps nothing).
	Marker string
	// LeakFrom is the step from which a leak leaks (0 for most).
	LeakFrom int
	// New returns a fresh instance; Step runs one unit of work.
	New func(seed uint64) Instance
}

// Instance is a running workload.
type Instance interface {
	// Step runs one unit of work: the requests served between two profiles.
	Step(i int)
	// Release drops everything the instance holds.
	Release()
}

// request is what the handlers decode and encode: JSON traffic is the
// garbage a Go service makes between profiles.
type request struct {
	ID      int               `json:"id"`
	User    string            `json:"user"`
	Tags    []string          `json:"tags"`
	Payload map[string]string `json:"payload"`
}

// Serve handles n JSON requests and keeps nothing: the garbage a Go
// service makes, used as the overhead benchmark's workload too.
func Serve(r *rand.Rand, n int) {
	for i := range n {
		req := request{ID: i, User: fmt.Sprintf("user-%d", r.IntN(1000)), Tags: []string{"a", "b", "c"},
			Payload: map[string]string{"k": strings.Repeat("x", 64+r.IntN(512))}}
		b, _ := json.Marshal(req)
		var back request
		_ = json.Unmarshal(b, &back)
		var buf bytes.Buffer
		buf.Grow(1024)
		buf.Write(b)
	}
}

type state struct {
	r      *rand.Rand
	kept   [][]byte
	lost   [][]byte // what a leak will never release
	m      map[int][]byte
	events []event
	step   func(s *state, i int)
}

// event is a 64-byte record kept by value, as a log or a metrics buffer
// keeps them: a slice of them is one backing array, whatever its length.
type event struct {
	at, id int64
	_      [48]byte // the rest of a 64-byte record: user, status, sizes, route
}

func (s *state) Step(i int) { Serve(s.r, 20); s.step(s, i) }
func (s *state) Release()   { s.kept, s.lost, s.m, s.events = nil, nil, nil, nil }

func inst(f func(s *state, i int)) func(seed uint64) Instance {
	return func(seed uint64) Instance {
		return &state{r: rand.New(rand.NewPCG(seed, 7)), m: map[int][]byte{}, step: f}
	}
}

//go:noinline
func logEvents(s *state, i, n int) {
	for j := range n {
		s.events = append(s.events, event{at: int64(i), id: int64(j)})
	}
}

//go:noinline
func leakSession(s *state, n, size int) {
	for range n {
		s.kept = append(s.kept, make([]byte, size))
	}
}

// resize makes keys [0, n) of the working set present and drops keys
// [n, limit).
func (s *state) resize(n, limit int) {
	for k := range n {
		if _, ok := s.m[k]; !ok {
			cacheEntry(s, k, 32*kib)
		}
	}
	for k := n; k < limit; k++ {
		delete(s.m, k)
	}
}

//go:noinline
func cacheEntry(s *state, key, size int) { s.m[key] = make([]byte, size) }

//go:noinline
func bufferGrow(s *state, size int) { s.kept = append(s.kept, make([]byte, size)) }

const kib = 1 << 10

// Named returns the workload, leaking or benign, called name.
func Named(name string) (Workload, bool) {
	for _, w := range append(Leaks(), Benign()...) {
		if w.Name == name {
			return w, true
		}
	}
	return Workload{}, false
}

// Leaks returns the leaking workloads: steady, accelerating, bursty,
// periodic with a rising floor, conditional (a rare path), slow under heavy
// churn, late-starting, many small objects and few large ones.
func Leaks() []Workload {
	return append([]Workload{
		{Name: "steady", Leak: true, Marker: "leakSession", New: inst(func(s *state, i int) { leakSession(s, 4, 64*kib) })},
		{Name: "accelerating", Leak: true, Marker: "leakSession", New: inst(func(s *state, i int) { leakSession(s, 1+i/16, 32*kib) })},
		{Name: "burst", Leak: true, Marker: "leakSession", New: inst(func(s *state, i int) {
			if i%8 == 0 {
				leakSession(s, 24, 64*kib)
			}
		})},
		{Name: "periodic-drift", Leak: true, Marker: "leakSession", New: inst(func(s *state, i int) {
			// A buffer filled and flushed every 12 steps, whose flush
			// forgets to release a sixth of what it held.
			if i%12 == 11 {
				forgotten := len(s.kept) / 6
				s.lost = append(s.lost, s.kept[:forgotten]...)
				s.kept = nil
			}
			leakSession(s, 3, 64*kib)
		})},
		{Name: "conditional", Leak: true, Marker: "leakSession", New: inst(func(s *state, i int) {
			if s.r.IntN(4) == 0 { // an error path taken one request in four
				leakSession(s, 8, 64*kib)
			}
		})},
		{Name: "churn", Leak: true, Marker: "leakSession", New: inst(func(s *state, i int) {
			Serve(s.r, 200) // ten times the usual garbage
			leakSession(s, 2, 64*kib)
		})},
		{Name: "late-start", Leak: true, Marker: "leakSession", LeakFrom: 60, New: inst(func(s *state, i int) {
			if i >= 60 {
				leakSession(s, 4, 64*kib)
			}
		})},
		{Name: "many-small", Leak: true, Marker: "leakSession", New: inst(func(s *state, i int) { leakSession(s, 2048, 128) })},
		{Name: "few-large", Leak: true, Marker: "leakSession", New: inst(func(s *state, i int) {
			if i%4 == 0 {
				leakSession(s, 1, 1024*kib)
			}
		})},
		// An event log appended to and never trimmed: one backing array,
		// reallocated a quarter larger each time it fills.
		{Name: "append-forever", Leak: true, Marker: "logEvents", New: inst(func(s *state, i int) { logEvents(s, i, 1024) })},
	}, heldoutLeaks()...)
}

// Benign returns the benign look-alikes: pure churn, a cache warming to its
// bound, a bounded ring buffer, sawtooth grow-and-flush, a one-time step,
// growth saturating, a mean-reverting pool, periodic grow/shrink and a
// load spike that drains; then the held-out benign workloads (see Heldout).
func Benign() []Workload {
	return append([]Workload{
		{Name: "churn-only", New: inst(func(s *state, i int) { Serve(s.r, 100) })},
		{Name: "cache-warmup", Marker: "cacheEntry", New: inst(func(s *state, i int) {
			// A cache of 64 keys filled by the first 16 steps' misses;
			// after that, misses replace random entries.
			for j := range 4 {
				key := 4*i + j
				if key >= 64 {
					key = s.r.IntN(64)
				}
				cacheEntry(s, key, 64*kib)
			}
		})},
		{Name: "ring-buffer", Marker: "cacheEntry", New: inst(func(s *state, i int) {
			for j := range 4 {
				cacheEntry(s, (4*i+j)%64, 64*kib)
			}
		})},
		{Name: "sawtooth", Marker: "bufferGrow", New: inst(func(s *state, i int) {
			if i%10 == 9 {
				s.kept = nil // flushed
			}
			bufferGrow(s, 256*kib)
		})},
		{Name: "one-time-step", Marker: "bufferGrow", New: inst(func(s *state, i int) {
			if i == 20 {
				for range 32 {
					bufferGrow(s, 256*kib)
				}
			}
		})},
		{Name: "saturating", Marker: "cacheEntry", New: inst(func(s *state, i int) {
			// Fills towards 128 entries ever more slowly.
			target := int(128 * (1 - math.Exp(-float64(i)/6)))
			for k := len(s.m); k < target; k++ {
				cacheEntry(s, k, 32*kib)
			}
		})},
		{Name: "pool", Marker: "cacheEntry", New: inst(func(s *state, i int) {
			// Objects checked out and returned around a mean of 64.
			s.resize(64+s.r.IntN(17)-8, 80)
		})},
		{Name: "periodic", Marker: "cacheEntry", New: inst(func(s *state, i int) {
			// Daily-like load: working set follows a sine of period 20.
			s.resize(int(64+48*math.Sin(2*math.Pi*float64(i)/20)), 128)
		})},
		{Name: "spike-drains", Marker: "cacheEntry", New: inst(func(s *state, i int) {
			// A spike of queued work between steps 20 and 30, drained by 40.
			switch {
			case i >= 20 && i < 30:
				for range 8 {
					cacheEntry(s, len(s.m), 64*kib)
				}
			case i >= 30 && i < 40:
				for range 8 {
					for k := range s.m {
						delete(s.m, k)
						break
					}
				}
			}
		})},
	}, heldoutBenign()...)
}

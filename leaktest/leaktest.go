package leaktest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/pprof/profile"

	"github.com/leakguard/leakguard/stats"
)

// Option configures Check and Find.
type Option func(*config) error

type config struct {
	warmup, rounds, calls int
	confidence            float64
	ignore                []string
	minBytesPerCall       float64
	heap, goroutines      bool
}

func defaults() config {
	return config{warmup: 4, rounds: 20, calls: 64, confidence: 0.999, minBytesPerCall: 1, heap: true, goroutines: true}
}

// Rounds sets the number of warm-up and measured rounds (defaults 4 and
// 20). Warm-up must cover whatever the code fills once — a cache of n
// entries needs n calls.
func Rounds(warmup, measured int) Option {
	return func(c *config) error {
		if warmup < 0 || measured < 8 {
			return fmt.Errorf("leaktest: Rounds(%d, %d): need warmup >= 0 and measured >= 8", warmup, measured)
		}
		c.warmup, c.rounds = warmup, measured
		return nil
	}
}

// CallsPerRound sets how many times fn is called per round (default 64).
func CallsPerRound(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("leaktest: CallsPerRound(%d): must be at least 1", n)
		}
		c.calls = n
		return nil
	}
}

// Confidence sets the confidence required to report a leak (default
// 0.999): the chance that Check fails code that leaks nothing is at most
// 1 − confidence, over all stacks tested.
func Confidence(conf float64) Option {
	return func(c *config) error {
		if !(conf > 0 && conf < 1) {
			return fmt.Errorf("leaktest: Confidence(%v): must be in (0, 1)", conf)
		}
		c.confidence = conf
		return nil
	}
}

// IgnoreFunction leaves out stacks and goroutines with a frame whose
// function name equals name or, when name ends in "*", starts with it.
func IgnoreFunction(name string) Option {
	return func(c *config) error {
		if name == "" {
			return errors.New("leaktest: IgnoreFunction(\"\"): empty name")
		}
		c.ignore = append(c.ignore, name)
		return nil
	}
}

// MinBytesPerCall is the growth per call below which heap growth is not
// reported (default 1 byte).
func MinBytesPerCall(b float64) Option {
	return func(c *config) error {
		if b < 0 || math.IsNaN(b) {
			return fmt.Errorf("leaktest: MinBytesPerCall(%v): must not be negative", b)
		}
		c.minBytesPerCall = b
		return nil
	}
}

// HeapOnly checks heap growth only; GoroutinesOnly checks goroutines only.
func HeapOnly() Option { return func(c *config) error { c.goroutines = false; return nil } }

// GoroutinesOnly checks goroutine accumulation only.
func GoroutinesOnly() Option { return func(c *config) error { c.heap = false; return nil } }

// Check fails t when fn leaks heap memory or goroutines. It is a thin
// wrapper around Find.
func Check(t testing.TB, fn func(), opts ...Option) {
	t.Helper()
	if err := Find(fn, opts...); err != nil {
		t.Error(err)
	}
}

// Leak is one growing stack or goroutine creation site.
type Leak struct {
	// Goroutine is true for accumulating goroutines, false for heap.
	Goroutine bool
	// Frames is the allocation stack (heap) or the goroutine's stack at
	// its creation-side end, leaf first, as "function file:line".
	Frames []string
	// PerCall is the growth per call: bytes for heap, goroutines otherwise.
	PerCall float64
	// ObjectsPerCall is the growth in live objects per call (heap).
	ObjectsPerCall float64
	// Confidence is one minus the family-wise p-value.
	Confidence float64
}

// Error reports leaks found by Find.
type Error struct {
	// Leaks lists what grows, most confident first.
	Leaks []Leak
	// Calls is how many measured calls the verdict rests on.
	Calls int
}

// Error lists every leak with its rate per call and its allocation site.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "leaktest: found %d leak(s) over %d calls:", len(e.Leaks), e.Calls)
	for _, l := range e.Leaks {
		if l.Goroutine {
			fmt.Fprintf(&b, "\n  goroutines accumulate: %.2f per call (confidence %.4f)", l.PerCall, l.Confidence)
		} else {
			fmt.Fprintf(&b, "\n  heap grows: %.0f bytes and %.2f objects retained per call (confidence %.4f)", l.PerCall, l.ObjectsPerCall, l.Confidence)
		}
		for i, f := range l.Frames {
			if i == 8 {
				fmt.Fprintf(&b, "\n      … %d more frames", len(l.Frames)-i)
				break
			}
			fmt.Fprintf(&b, "\n      %s", f)
		}
	}
	return b.String()
}

var checks atomic.Uint64

// Find runs fn as Check does and returns an *Error describing the leaks,
// nil when there are none, or another error for invalid options.
func Find(fn func(), opts ...Option) error {
	cfg := defaults()
	for _, o := range opts {
		if o == nil {
			return errors.New("leaktest: nil Option")
		}
		if err := o(&cfg); err != nil {
			return err
		}
	}
	if fn == nil {
		return errors.New("leaktest: nil function")
	}
	if !cfg.heap && !cfg.goroutines {
		return errors.New("leaktest: HeapOnly and GoroutinesOnly together leave nothing to check")
	}
	id := strconv.FormatUint(checks.Add(1), 10)
	flushSampling(acquireRate())
	defer releaseRate()
	sym := newSymbols(fn)

	labels := pprof.Labels(labelKey, id)
	var heapRounds []map[string]*usage
	var goRounds []map[string]*usage
	for r := 0; r < cfg.warmup+cfg.rounds; r++ {
		pprof.Do(context.Background(), labels, func(context.Context) {
			for range cfg.calls {
				callUnderTest(fn)
			}
		})
		if r < cfg.warmup {
			continue
		}
		settle()
		if cfg.heap {
			heapRounds = append(heapRounds, sym.heapByStack(cfg.ignore))
		}
		if cfg.goroutines {
			g, err := goroutinesBySite(id, cfg.ignore)
			if err != nil {
				return err
			}
			goRounds = append(goRounds, g)
		}
	}
	calls := cfg.calls * cfg.rounds
	var leaks []Leak
	leaks = append(leaks, grow(heapRounds, cfg, false)...)
	leaks = append(leaks, grow(goRounds, cfg, true)...)
	if len(leaks) == 0 {
		return nil
	}
	sort.SliceStable(leaks, func(i, j int) bool { return leaks[i].Confidence > leaks[j].Confidence })
	return &Error{Leaks: leaks, Calls: calls}
}

const labelKey = "leaktest"

// callUnderTest is the frame that marks an allocation as fn's: heap stacks
// are attributed to fn only when they pass through it.
//
//go:noinline
func callUnderTest(fn func()) { fn() }

const callUnderTestName = "github.com/leakguard/leakguard/leaktest.callUnderTest"

// settle lets finished goroutines exit and publishes a current heap
// profile: the profile reflects the heap as of the last completed GC, and
// two cycles make sure the last round's frees are accounted.
func settle() {
	for range 4 {
		runtime.Gosched()
	}
	runtime.GC()
	runtime.GC()
}

type usage struct {
	frames  []string
	bytes   float64
	objects float64
}

// rateUsers counts running Finds. MemProfileRate is process-wide (the
// runtime forces this global state on us): the first Find to start saves
// it and sets 1, the last to finish restores it, so parallel Checks never
// switch each other's recording off.
var (
	rateMu    sync.Mutex
	rateUsers int
	savedRate int
)

// acquireRate sets MemProfileRate to 1 and returns the rate that was in
// force before any Find started.
func acquireRate() int {
	rateMu.Lock()
	defer rateMu.Unlock()
	if rateUsers == 0 {
		savedRate = runtime.MemProfileRate
		runtime.MemProfileRate = 1
	}
	rateUsers++
	return savedRate
}

func releaseRate() {
	rateMu.Lock()
	defer rateMu.Unlock()
	rateUsers--
	if rateUsers == 0 {
		runtime.MemProfileRate = savedRate
	}
}

// flushSampling makes the new MemProfileRate take effect: each P keeps a
// countdown to its next sampled allocation drawn at the old rate (512 KiB
// by default), so until that much is allocated on a P, rate 1 is not in
// force there. Allocating past it on every P resets the countdowns.
func flushSampling(oldRate int) {
	if oldRate <= 1 {
		return
	}
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) + 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var keep []byte
			for n := 0; n < 3*oldRate; n += 512 {
				keep = make([]byte, 512)
			}
			_ = keep
		}()
	}
	wg.Wait()
	var keep []byte
	for n := 0; n < 3*oldRate; n += 512 {
		keep = make([]byte, 512)
	}
	_ = keep
}

// symbols caches, per stack of PCs, whether it passes through fn and its
// frames: the process's profile holds every stack ever sampled, and only
// fn's are worth symbolising, once.
type symbols struct {
	entry   uintptr // callUnderTest's
	fnEntry uintptr // the function under test's
	cache   map[string]symbolised
	recs    []runtime.MemProfileRecord
}

type symbolised struct {
	frames []string
	mine   bool
}

func newSymbols(fn func()) *symbols {
	return &symbols{
		entry:   runtime.FuncForPC(reflect.ValueOf(callUnderTest).Pointer()).Entry(),
		fnEntry: runtime.FuncForPC(reflect.ValueOf(fn).Pointer()).Entry(),
		cache:   map[string]symbolised{},
	}
}

func (s *symbols) heapByStack(ignore []string) map[string]*usage {
	n, ok := runtime.MemProfile(s.recs, true)
	for !ok {
		s.recs = make([]runtime.MemProfileRecord, n+n/4+50)
		n, ok = runtime.MemProfile(s.recs, true)
	}
	out := make(map[string]*usage)
	for i := range s.recs[:n] {
		r := &s.recs[i]
		if r.InUseBytes() == 0 && r.AllocBytes == 0 {
			continue
		}
		stk := r.Stack()
		k := stackKey(stk)
		sy, ok := s.cache[k]
		if !ok {
			sy = symbolised{}
			// The stack is fn's when callUnderTest called fn itself: a
			// parallel Check of another function passes through
			// callUnderTest too, but with its own function above it.
			for j, pc := range stk {
				if f := runtime.FuncForPC(pc - 1); f != nil && f.Entry() == s.entry {
					if j > 0 {
						if g := runtime.FuncForPC(stk[j-1] - 1); g != nil && g.Entry() == s.fnEntry {
							sy.frames, sy.mine = symbolise(stk)
						}
					}
					break
				}
			}
			s.cache[k] = sy
		}
		if !sy.mine || ignored(sy.frames, ignore) {
			continue
		}
		key := strings.Join(sy.frames, "\n")
		u := out[key]
		if u == nil {
			u = &usage{frames: sy.frames}
			out[key] = u
		}
		u.bytes += float64(r.InUseBytes())
		u.objects += float64(r.InUseObjects())
	}
	return out
}

func stackKey(stk []uintptr) string {
	b := make([]byte, 0, 8*len(stk))
	for _, pc := range stk {
		b = binary.LittleEndian.AppendUint64(b, uint64(pc))
	}
	return string(b)
}

// symbolise returns the stack's frames up to fn's frame, leaf first, with
// the runtime's allocation frames at the leaf hidden, and whether the stack
// passes through fn at all.
func symbolise(stk []uintptr) ([]string, bool) {
	var frames []string
	it := runtime.CallersFrames(stk)
	for {
		f, more := it.Next()
		if f.Function == callUnderTestName {
			for i, s := range frames {
				if !strings.HasPrefix(s, "runtime.") && !strings.HasPrefix(s, "internal/runtime/") {
					return frames[i:], true
				}
			}
			return frames, true
		}
		frames = append(frames, fmt.Sprintf("%s %s:%d", f.Function, f.File, f.Line))
		if !more {
			return nil, false
		}
	}
}

func ignored(frames []string, ignore []string) bool {
	for _, f := range frames {
		fn, _, _ := strings.Cut(f, " ")
		for _, ig := range ignore {
			if fn == ig || (strings.HasSuffix(ig, "*") && strings.HasPrefix(fn, strings.TrimSuffix(ig, "*"))) {
				return true
			}
		}
	}
	return false
}

// goroutinesBySite counts live goroutines carrying this Check's label,
// keyed by the goroutine's entry function (its creation-side frame).
func goroutinesBySite(id string, ignore []string) (map[string]*usage, error) {
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 0); err != nil {
		return nil, fmt.Errorf("leaktest: reading the goroutine profile: %w", err)
	}
	p, err := profile.Parse(&buf)
	if err != nil {
		return nil, fmt.Errorf("leaktest: parsing the goroutine profile: %w", err)
	}
	out := make(map[string]*usage)
	for _, s := range p.Sample {
		if vals := s.Label[labelKey]; len(vals) == 0 || vals[0] != id {
			continue
		}
		var frames []string
		for _, loc := range s.Location {
			for _, l := range loc.Line {
				if l.Function != nil && l.Function.Name != "runtime.goexit" {
					frames = append(frames, fmt.Sprintf("%s %s:%d", l.Function.Name, l.Function.Filename, l.Line))
				}
			}
		}
		if len(frames) == 0 || ignored(frames, ignore) {
			continue
		}
		// The outermost frame is the function the goroutine was started
		// with: the creation site.
		site := frames[len(frames)-1]
		u := out[site]
		if u == nil {
			u = &usage{frames: frames}
			out[site] = u
		}
		u.objects += float64(s.Value[0])
		u.bytes += float64(s.Value[0])
	}
	return out, nil
}

// grow tests every key's series over the measured rounds for persistent
// growth, with a Bonferroni correction over the keys tested.
func grow(rounds []map[string]*usage, cfg config, goroutines bool) []Leak {
	if len(rounds) == 0 {
		return nil
	}
	keys := map[string][]string{}
	for _, r := range rounds {
		for k, u := range r {
			keys[k] = u.frames
		}
	}
	type cand struct {
		key     string
		p       float64
		perCall float64
		perObj  float64
	}
	var cands []cand
	x := make([]float64, len(rounds))
	for i := range x {
		x[i] = float64((i + 1) * cfg.calls)
	}
	for k := range keys {
		y := make([]float64, len(rounds))
		o := make([]float64, len(rounds))
		for i, r := range rounds {
			if u := r[k]; u != nil {
				y[i], o[i] = u.bytes, u.objects
			}
		}
		if y[len(y)-1] <= y[0] {
			continue // cannot be persistent growth
		}
		perCall := (y[len(y)-1] - y[0]) / (x[len(x)-1] - x[0])
		if !goroutines && perCall < cfg.minBytesPerCall {
			continue
		}
		// Counts are exact at MemProfileRate 1; the floor only keeps a
		// perfectly regular series from a zero variance.
		g := stats.GrowthAt(x, y, 0.25)
		// Exact counts make lumpy growth common (a slice's backing array
		// doubles amid steady retention); the sign test sees through the
		// lumps, the trend tests through occasional dips. Either may
		// decide, Bonferroni over the two; both halves must still grow.
		h := len(y) / 2
		p := g.P
		if y[h] > y[0] && y[len(y)-1] > y[h] {
			p = math.Min(1, 2*math.Min(g.P, stats.SignP(y)))
		}
		cands = append(cands, cand{k, p, (y[len(y)-1] - y[0]) / (x[len(x)-1] - x[0]), (o[len(o)-1] - o[0]) / (x[len(x)-1] - x[0])})
	}
	alpha := 1 - cfg.confidence
	var leaks []Leak
	for _, c := range cands {
		adj := math.Min(1, c.p*float64(len(cands)))
		if adj > alpha {
			continue
		}
		leaks = append(leaks, Leak{
			Goroutine:      goroutines,
			Frames:         keys[c.key],
			PerCall:        c.perCall,
			ObjectsPerCall: c.perObj,
			Confidence:     1 - adj,
		})
	}
	return leaks
}

package leaktest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/pprof/profile"
	"gonum.org/v1/gonum/stat/distuv"
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
	return config{warmup: 2, rounds: 64, calls: 64, confidence: 0.999, minBytesPerCall: 1, heap: true, goroutines: true}
}

// span is how many times more calls the measured run ends with than it
// starts with. Memory that grows in doublings (a slice's or a map's
// backing array, a strings.Builder) steps up about once per doubling of
// the calls, so a 64-fold span shows each half of the measured rounds at
// least two such steps, whatever their phase.
const span = 64

// minHalf is the fewest rounds a half of the series may have: the trend
// test of a shorter half cannot reach the default confidence.
const minHalf = 8

// Rounds sets the number of warm-up and measured rounds (defaults 2 and
// 64). Warm-up must cover whatever the code fills once — a cache of n
// entries needs n calls — though growth confined to the first half of the
// measured rounds is never reported either. More measured rounds give the
// rank test more power at the same number of calls; each costs a garbage
// collection.
func Rounds(warmup, measured int) Option {
	return func(c *config) error {
		if warmup < 0 || measured < 2*minHalf {
			return fmt.Errorf("leaktest: Rounds(%d, %d): need warmup >= 0 and measured >= %d", warmup, measured, 2*minHalf)
		}
		c.warmup, c.rounds = warmup, measured
		return nil
	}
}

// CallsPerRound sets how many times fn is called per warm-up round
// (default 64). The measured rounds then grow geometrically from the
// warm-up's W calls (at least one round's worth) to 64·W: leaks that grow
// in doublings grow by steps evenly spread over rounds spaced that way.
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
	// Func is the function under test, as "function file:line".
	Func string
	// Leaks lists what grows: leaks whose frames start in the caller's own
	// code first, then the most confident first.
	Leaks []Leak
	// Calls is how many calls the verdict rests on.
	Calls int
}

// Error names the function under test, then every leak with its rate per
// call and its stack, leaf first from the first frame outside the
// standard library: that is where the caller has something to change.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "leaktest: %s leaks (%d leak(s) over %d calls):", e.Func, len(e.Leaks), e.Calls)
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
	run := func(n int) {
		pprof.Do(context.Background(), labels, func(context.Context) {
			for range n {
				callUnderTest(fn)
			}
		})
	}
	run(cfg.warmup * cfg.calls)
	ends := schedule(cfg)
	looks := looksAt(cfg.rounds)
	alpha := (1 - cfg.confidence) / float64(len(looks))
	var heapRounds []map[string]*usage
	var goRounds []map[string]*usage
	done := cfg.warmup * cfg.calls
	for r, end := range ends {
		run(end - done)
		done = end
		resume := pauseRecording()
		settle()
		if cfg.heap {
			heapRounds = append(heapRounds, sym.heapByStack(cfg.ignore))
		}
		if cfg.goroutines {
			g, err := goroutinesBySite(id, cfg.ignore)
			if err != nil {
				resume()
				return err
			}
			goRounds = append(goRounds, g)
		}
		resume()
		if r+1 != looks[0] {
			continue
		}
		looks = looks[1:]
		x := make([]float64, r+1)
		for i := range x {
			x[i] = float64(ends[i])
		}
		var leaks []Leak
		leaks = append(leaks, grow(x, heapRounds, cfg, alpha, false)...)
		leaks = append(leaks, grow(x, goRounds, cfg, alpha, true)...)
		if len(leaks) > 0 {
			sort.SliceStable(leaks, func(i, j int) bool {
				if ui, uj := userFirst(leaks[i]), userFirst(leaks[j]); ui != uj {
					return ui
				}
				return leaks[i].Confidence > leaks[j].Confidence
			})
			return &Error{Func: sym.fnName, Leaks: leaks, Calls: end}
		}
	}
	return nil
}

// schedule returns the cumulative number of calls at the end of each
// measured round: geometric from the warm-up's calls to span times as
// many, so every doubling of the calls spans as many rounds as any other.
func schedule(c config) []int {
	base := float64(max(c.warmup, 1) * c.calls)
	ends := make([]int, c.rounds)
	prev := c.warmup * c.calls
	for r := range ends {
		n := int(math.Round(base * math.Pow(span, float64(r+1)/float64(c.rounds))))
		n = max(n, prev+1)
		ends[r] = n
		prev = n
	}
	return ends
}

// looksAt returns the rounds after which the series are tested: halfway,
// three quarters through and at the end, so a clear leak stops the run
// early (a leak of goroutines or connections would otherwise pile up for
// the whole run). The confidence is split evenly over the looks.
func looksAt(rounds int) []int {
	var looks []int
	for _, r := range []int{rounds / 2, rounds * 3 / 4, rounds} {
		if r >= 2*minHalf && (len(looks) == 0 || r > looks[len(looks)-1]) {
			looks = append(looks, r)
		}
	}
	return looks
}

// userFirst reports whether the leak's first frame ("function file:line")
// is outside the standard library: those leaks are listed first, as the
// ones the caller can fix where they are named.
func userFirst(l Leak) bool {
	if len(l.Frames) == 0 {
		return false
	}
	fn, file, _ := strings.Cut(l.Frames[0], " ")
	if i := strings.LastIndexByte(file, ':'); i >= 0 {
		file = file[:i]
	}
	return !stdFrame(fn, file)
}

const labelKey = "leaktest"

// callUnderTest is the frame that marks an allocation as fn's: heap stacks
// are attributed to fn only when they pass through it.
//
//go:noinline
func callUnderTest(fn func()) { fn() }

const callUnderTestName = "github.com/leakguard/leakguard/leaktest.callUnderTest"

// settle lets finished goroutines exit and publishes a current heap
// profile: runtime.GC publishes the profile as of the cycle it completes,
// with everything the round dropped freed. One cycle per round is enough:
// what needs a second one (a sync.Pool's victim cache, objects with
// finalizers) lags by a round, the same in every round.
func settle() {
	for range 4 {
		runtime.Gosched()
	}
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
	paused    bool
)

// acquireRate sets MemProfileRate to 1 and returns the rate that was in
// force before any Find started.
func acquireRate() int {
	rateMu.Lock()
	defer rateMu.Unlock()
	if rateUsers == 0 {
		savedRate = runtime.MemProfileRate
	}
	runtime.MemProfileRate = 1
	paused = false
	rateUsers++
	return savedRate
}

// pauseRecording sets MemProfileRate to 0 while a lone Find reads the
// profiles back: reading the goroutine profile allocates for every
// goroutine, and recording each of those allocations (a stack walk each)
// made the reading the bulk of a Check's time. Nothing is lost: the
// function under test is not running, and its goroutines' allocations are
// never attributed to it. With another Find running, whose function may be
// allocating meanwhile, recording stays on; a Find starting meanwhile
// switches it back on. The returned function ends the pause.
func pauseRecording() (resume func()) {
	rateMu.Lock()
	defer rateMu.Unlock()
	if rateUsers != 1 || paused {
		return func() {}
	}
	paused = true
	runtime.MemProfileRate = 0
	return func() {
		rateMu.Lock()
		defer rateMu.Unlock()
		if paused {
			paused = false
			runtime.MemProfileRate = 1
		}
	}
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
	fnName  string  // the function under test, "function file:line"
	cache   map[[len(runtime.MemProfileRecord{}.Stack0)]uintptr]symbolised
	recs    []runtime.MemProfileRecord
}

type symbolised struct {
	frames []string
	mine   bool
}

func newSymbols(fn func()) *symbols {
	f := runtime.FuncForPC(reflect.ValueOf(fn).Pointer())
	file, line := f.FileLine(f.Entry())
	return &symbols{
		entry:   runtime.FuncForPC(reflect.ValueOf(callUnderTest).Pointer()).Entry(),
		fnEntry: f.Entry(),
		fnName:  fmt.Sprintf("%s %s:%d", f.Name(), file, line),
		cache:   map[[len(runtime.MemProfileRecord{}.Stack0)]uintptr]symbolised{},
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
		// The fixed-size stack array is the key: nothing is allocated per
		// record, and this runs at MemProfileRate 1.
		sy, ok := s.cache[r.Stack0]
		if !ok {
			stk := r.Stack()
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
			s.cache[r.Stack0] = sy
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

// symbolise returns the stack's frames up to fn's frame, leaf first, from
// the first frame outside the standard library (all of them when every
// frame is the standard library's), and whether the stack passes through
// fn at all. Stacks that differ only inside the standard library —
// growslice against newobject, a map's grow against its split — become
// one: they are the same retention seen from the caller's code.
func symbolise(stk []uintptr) ([]string, bool) {
	var frames []string
	first := -1
	it := runtime.CallersFrames(stk)
	for {
		f, more := it.Next()
		if f.Function == callUnderTestName {
			if first < 0 {
				return frames, true
			}
			return frames[first:], true
		}
		if first < 0 && !stdFrame(f.Function, f.File) {
			first = len(frames)
		}
		frames = append(frames, fmt.Sprintf("%s %s:%d", f.Function, f.File, f.Line))
		if !more {
			return nil, false
		}
	}
}

// trimStd drops the leading standard-library frames of a leaf-first
// goroutine stack (runtime.gopark, runtime.chanrecv, sync.(*Cond).Wait…).
// A goroutine that runs only standard-library code (net/http's connection
// loops) keeps its frames from the first one outside the runtime's own
// packages: where it waits is then the most telling frame.
func trimStd(frames, funcs, files []string) []string {
	for i := range frames {
		if !stdFrame(funcs[i], files[i]) {
			return frames[i:]
		}
	}
	for i, f := range funcs {
		if !strings.HasPrefix(f, "runtime.") && !strings.HasPrefix(f, "internal/") {
			return frames[i:]
		}
	}
	return frames
}

// goroot is the source directory the standard library was compiled from,
// as the binary records it; "" when it was built with -trimpath.
var goroot = func() string {
	pc := reflect.ValueOf(runtime.GC).Pointer()
	file, _ := runtime.FuncForPC(pc).FileLine(pc)
	if i := strings.LastIndex(file, "runtime/"); i > 0 {
		return file[:i]
	}
	return ""
}()

// stdFrame reports whether a frame is the standard library's (runtime,
// internal/…, sync, net/http…): by its source file when the binary records
// where the standard library's sources were, else by its import path,
// whose first element has no dot in the standard library.
func stdFrame(function, file string) bool {
	if goroot != "" {
		return strings.HasPrefix(file, goroot)
	}
	path := function
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		if j := strings.IndexByte(path[i:], '.'); j >= 0 {
			path = path[:i+j]
		}
	} else if j := strings.IndexByte(path, '.'); j >= 0 {
		path = path[:j]
	}
	elem, _, _ := strings.Cut(path, "/")
	return elem != "main" && !strings.Contains(elem, ".")
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
		var frames, funcs, files []string
		for _, loc := range s.Location {
			for _, l := range loc.Line {
				if l.Function != nil && l.Function.Name != "runtime.goexit" {
					frames = append(frames, fmt.Sprintf("%s %s:%d", l.Function.Name, l.Function.Filename, l.Line))
					funcs = append(funcs, l.Function.Name)
					files = append(files, l.Function.Filename)
				}
			}
		}
		if len(frames) == 0 || ignored(frames, ignore) {
			continue
		}
		// The outermost frame is the function the goroutine was started
		// with: the creation site. Where it is blocked is reported from
		// the first frame of the caller's code, not runtime.gopark.
		site := frames[len(frames)-1]
		u := out[site]
		if u == nil {
			u = &usage{frames: trimStd(frames, funcs, files)}
			out[site] = u
		}
		u.objects += float64(s.Value[0])
		u.bytes += float64(s.Value[0])
	}
	return out, nil
}

// grow tests every key's series, observed after calls x, for growth that
// persists over the whole run: the series must rise significantly in the
// first half of the rounds and in the second half, each by the trend test
// in trendP (an intersection–union test, so the p-value is the larger of
// the two). A bounded cache filling up, a buffer growing to its working
// size, a one-time step anywhere: none of them rises in both halves. The
// p-values are Bonferroni-adjusted over every key seen and compared with
// alpha.
func grow(x []float64, rounds []map[string]*usage, cfg config, alpha float64, goroutines bool) []Leak {
	if len(rounds) == 0 {
		return nil
	}
	keys := map[string][]string{}
	for _, r := range rounds {
		for k, u := range r {
			keys[k] = u.frames
		}
	}
	n := len(rounds)
	var leaks []Leak
	y := make([]float64, n)
	o := make([]float64, n)
	for k, frames := range keys {
		for i, r := range rounds {
			y[i], o[i] = 0, 0
			if u := r[k]; u != nil {
				y[i], o[i] = u.bytes, u.objects
			}
		}
		perCall := (y[n-1] - y[0]) / (x[n-1] - x[0])
		if perCall <= 0 || (!goroutines && perCall < cfg.minBytesPerCall) {
			continue
		}
		p := math.Max(trendP(y[:n/2]), trendP(y[n/2:]))
		adj := math.Min(1, p*float64(len(keys)))
		if adj > alpha {
			continue
		}
		leaks = append(leaks, Leak{
			Goroutine:      goroutines,
			Frames:         frames,
			PerCall:        perCall,
			ObjectsPerCall: (o[n-1] - o[0]) / (x[n-1] - x[0]),
			Confidence:     1 - adj,
		})
	}
	return leaks
}

// trendP is the one-sided p-value of the Mann–Kendall test for an upward
// trend in y against its order. The null is that the values are
// exchangeable — what stays in a bounded footprint looks the same after
// any number of calls — under which S, the number of later-larger pairs
// minus later-smaller pairs, has mean 0 and the tie-corrected variance
// below exactly. Only ranks count: a slice's backing array that doubles,
// leaving runs of equal values between steps, is as strong evidence as a
// straight line once the steps recur. S is referred to the normal
// distribution with a continuity correction; S's own tails are lighter
// than the normal's, so the p-value errs large.
func trendP(y []float64) float64 {
	n := len(y)
	var s float64
	for i := range n {
		for j := i + 1; j < n; j++ {
			switch {
			case y[j] > y[i]:
				s++
			case y[j] < y[i]:
				s--
			}
		}
	}
	if s <= 0 {
		return 1
	}
	nf := float64(n)
	v := nf * (nf - 1) * (2*nf + 5)
	sorted := slices.Clone(y)
	slices.Sort(sorted)
	for i := 0; i < n; {
		j := i
		for j < n && sorted[j] == sorted[i] {
			j++
		}
		t := float64(j - i)
		v -= t * (t - 1) * (2*t + 5)
		i = j
	}
	if v <= 0 {
		return 1
	}
	return distuv.UnitNormal.Survival((s - 1) / math.Sqrt(v/18))
}

package leakguard

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/leakguard/leakguard/sampler"
	"github.com/leakguard/leakguard/stats"
	"github.com/leakguard/leakguard/storage"
)

// TotalStack is the fingerprint under which the process-wide total of a
// resource is tracked and reported, so that a leak spread thinly over many
// stacks is still caught.
const TotalStack uint64 = 0

// totalFrames names the process-wide series in reports.
var totalFrames = []sampler.Frame{{Function: "(process total)"}}

// Detector is leakguard's synchronous engine: it is fed Samples one at a
// time, as a live run sees them, keeps every stack's sampled-object counts in
// bounded storage and tests them for growth that persists beyond the
// horizon.
//
// The evidence is counts of sampled objects, not the number of profiles: at
// each look, a stack's test asks whether its live sampled objects rose
// outside every window of one horizon that could hold a benign growth phase
// — under a stationary-churn null in which each sampled birth or death is a
// birth with probability at most ½ (see stats.Rise). Growth that stops
// within the horizon (a cache warming up, a buffer filling, a one-time step)
// fits in one such window; a sawtooth cannot rise above its own earlier
// peaks.
//
// The false-alarm guarantee: looks are numbered (only those at which some
// test could pass count), and look j may spend SpendWeight(j) of each
// error budget; within a look, Tarone's correction for
// discrete tests divides that share among the stacks whose evidence could
// reach it at all. By the union bound the probability of any false warning
// over all stacks and the whole run is at most 1 − warning confidence, and of
// any false alert at most 1 − alert confidence, however long the run and
// however many stacks appear.
//
// A Detector is not safe for concurrent use; Guard serialises access.
type Detector struct {
	cfg        config
	families   map[sampler.Resource]*family
	order      []sampler.Resource
	index      int // samples observed
	alerts     []Alert
	looks      uint64 // looks that could test persistence, over all families
	earlyLooks uint64 // looks that could alert early, before the memory limit
	tested     bool   // some persistence test was possible
	lastLook   lookSummary
	// alertLevel is the level a persistence test had to reach to alert at
	// the newest look: what a report says an alert needs.
	alertLevel float64

	symbols frameTable

	// scratch buffers keep the per-cycle path allocation-free.
	blocks []storage.Count
	starts []int
	cands  []candidate
	minPs  []float64
	splits []stats.Rise // scratch: one persistence test's splits
	queue  []int        // scratch: its window maxima
}

// lookSummary describes the newest look, for reports that must say how much
// evidence there was when nothing could be decided.
type lookSummary struct {
	span     time.Duration
	testable int
	// What a steady leak would have needed at this look (Verdict).
	alertNeeds, suspectNeeds int64
	rate                     int64
}

type family struct {
	resource  sampler.Resource
	store     *storage.Store[*series]
	total     *series
	clock     *storage.Clock
	started   bool
	epoch     uint64
	seq       uint64
	origin    time.Time
	last      time.Time
	rate      int64
	n         uint64 // samples since the family (re)started
	nextLook  uint64
	nextAt    float64     // family time by which a look is due (seconds)
	lookedAt  uint64      // n at the newest look
	lookTime  float64     // family time of the newest look (seconds)
	concluded bool        // the final look (WithFinalLook) ran
	times     [][]float64 // per level, the clock's block end times at this look
	evictions uint64      // evictions seen, so that a returning stack is not taken for a new one
	// byPos remembers which series each record position held last sample:
	// a sampler lists its stacks in much the same order every time, so most
	// records find their series without a map lookup.
	byPos []*series
	seen  *admission
	// rechecks are the stacks tested again at the samples until the next
	// look: those the newest look found suspect or warned of, and those
	// that exceeded their highest count since.
	rechecks    []*series
	recheckNext int // where in rechecks the next sample's turn begins
}

// series is one tracked stack (or the process total).
type series struct {
	resource sampler.Resource
	key      uint64
	frames   []uint32       // into Detector.symbols
	counts   storage.Counts // by value: one allocation and one pointer less per stack
	slot     int32          // the store's slot for key, to touch it without a lookup
	// size is what the lone-object test reads: the largest births' mean
	// size since the stack was first seen (bytes).
	size     uint32
	first    uint64 // family sample index at registration
	live     uint64 // newest raw counts
	born     uint64
	bytes    int64 // newest estimates
	objects  int64
	proven   int64
	severity Severity
	suspect  *finding // the newest look's suspect evidence, nil if none
	// suspectFrom and suspectFromIndex date the first of the unbroken run
	// of looks at which the stack has been a suspect; zero when it was not
	// one at the last look.
	suspectFrom      time.Time
	suspectFromIndex int
	bestP            float64
	found            *finding // the most significant persistence test so far
	pushedAt         uint64   // family sample index of the newest push

	// The cumulative allocation estimates size is worked out from, and
	// when the stack was first seen (family time).
	allocObjects, allocBytes int64
	firstTime                float64

	// changes holds the newest samples whose counts changed, not pushed
	// yet: a push writes to the history's own buffer, a cache miss or two
	// per stack at every change, while the series itself is in cache
	// already. They are pushed together when changes is full, and before
	// the counts are read (flush). They all have the size ser.size has:
	// a rise of the size pushes those before it.
	changes [journal]change
	perObj  float32 // estimated bytes per live sampled object, for plots
	pending uint8
	gone    bool // evicted: byPos may still point here
	// high is the highest live count pushed; a stack that exceeds it
	// between looks is rechecked (recheckShare), and rechecked says it
	// is on its family's list.
	high      uint32
	rechecked bool
}

// journal is how many changed samples a series holds before pushing them.
const journal = 8

// change is one sample's counts, at an index relative to the series' first.
type change struct {
	at, live, born uint32
}

// finding is what one test concluded, kept to report on the stack.
type finding struct {
	level    int
	adjusted float64
	pattern  PatternType
	evidence Evidence
	trend    [2]Point
	index    int
	time     time.Time
}

// candidate is one hypothesis at a look: a stack's persistence or suspect
// test at one resolution level.
type candidate struct {
	ser      *series
	kind     testKind
	level    int
	p, minP  float64
	rise     int64
	events   int64
	growFrom float64 // family time the tested rise started from
	early    bool    // a suspect projected to reach the memory limit within the horizon
	lone     bool    // a lone-object test: sizes, not counts, are the evidence
	highs    stats.NewHighs
	seen     int // the lone test's replacing objects
}

type testKind uint8

const (
	persistence testKind = iota
	suspicion
)

// NewDetector returns a Detector configured by opts (only the analysis
// options matter: confidence, horizon, history, max stacks, memory limit).
func NewDetector(opts ...Option) (*Detector, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return newDetector(cfg), nil
}

func newDetector(cfg config) *Detector {
	return &Detector{cfg: cfg, families: make(map[sampler.Resource]*family)}
}

// Observe feeds the next Sample and returns the escalations it caused: a
// stack that first reaches warning or alert severity at this sample (and,
// with WithSuspectAlerts, first becomes a suspect). A nil Sample is ignored.
func (d *Detector) Observe(s *sampler.Sample) []Alert {
	if s == nil {
		return nil
	}
	idx := d.index
	d.index++
	f := d.family(s)
	if f.started && s.Seq != 0 && s.Seq == f.seq && s.Epoch == f.epoch {
		return nil // the same data again: testing it twice would fake persistence
	}
	if !f.started || s.Epoch != f.epoch || s.Time.Before(f.last) {
		d.restart(f, s)
	}
	rate := f.rate
	f.seq, f.last, f.rate = s.Seq, s.Time, s.Rate
	i := f.n
	f.n++
	t := s.Time.Sub(f.origin).Seconds()
	f.clock.Push(i, t)

	var tot sampler.Record
	present := 0
	// A Sample of changes lists a varying few stacks: positions say
	// nothing, and what the full Sample before them left there must not
	// keep evicted series reachable.
	var byPos []*series
	if !s.Changes {
		if len(f.byPos) != len(s.Records) {
			f.byPos = append(f.byPos[:0], make([]*series, len(s.Records))...)
		}
		byPos = f.byPos
	} else {
		f.byPos = nil
	}
	for k := range s.Records {
		r := &s.Records[k]
		if r.Stack == TotalStack {
			continue // reserved for the total
		}
		var ser *series
		if k < len(byPos) && byPos[k] != nil && byPos[k].key == r.Stack && !byPos[k].gone {
			ser = byPos[k]
		} else if got, ok := f.store.Peek(r.Stack); ok {
			ser = got
		}
		var live, born int64
		if ser != nil && ser.pushedAt+1 == i && rate == s.Rate && r.InUseSampled == 0 && r.AllocSampled == 0 &&
			r.AllocObjects == 0 && r.AllocBytes == 0 && r.InUseBytes == ser.bytes && r.InUseObjects == ser.objects {
			live = int64(ser.live) // the same estimates as last sample: recovering the counts again would give the same
		} else {
			live, born = sampledCounts(r, s.Rate)
		}
		tot.InUseBytes += r.InUseBytes
		tot.InUseObjects += r.InUseObjects
		tot.InUseSampled += live
		tot.AllocSampled += born
		if ser == nil {
			if f.store.Len() >= f.store.Cap() && !f.seen.grew(r.Stack, live) {
				if k < len(byPos) {
					byPos[k] = nil // an evicted series must not stay reachable
				}
				continue // counted in the total; tracked once it grows
			}
			ser = d.newSeries(f, r.Stack, s.FramesOf(r), i)
			if i > 0 && f.store.Evictions() == 0 && f.store.Len() < f.store.Cap() {
				// Never tracked, and every stack seen so far was: a profile
				// lists each stack that has allocated, so this one had no
				// sampled objects at the previous sample, and its first
				// counts are evidence like any later rise.
				ser.first, ser.pushedAt = i-1, i-1
				ser.changes[0], ser.pending = change{}, 1
			}
			f.store.Add(r.Stack, ser)
			ser.slot, _ = f.store.Slot(r.Stack)
		}
		if k < len(byPos) {
			byPos[k] = ser
		}
		if ser.first != i && uint64(live) != ser.live {
			// Recency follows change: flat stacks are evicted first.
			if !f.store.Touch(ser.slot, r.Stack) {
				f.store.Get(r.Stack)
			}
		}
		if ser.pushedAt != i || ser.first == i {
			present++
		}
		d.update(ser, r, live, born, i)
		if ser.live > uint64(ser.high) {
			ser.high = uint32(min(ser.live, math.MaxUint32))
			if !ser.rechecked && ser.severity < SeverityAlert && !d.cfg.finalLook {
				ser.rechecked = true
				f.rechecks = append(f.rechecks, ser)
			}
		}
	}
	if present < f.store.Len() && !s.Changes {
		// A stack absent from the sample holds nothing: stored profiles
		// omit empty stacks (the runtime's own profile lists them all, so
		// this walk is skipped there).
		f.store.Range(func(_ uint64, ser *series) bool {
			if ser.pushedAt != i {
				d.update(ser, &sampler.Record{}, 0, int64(ser.born), i)
			}
			return true
		})
	}
	if t := s.Total; t != nil {
		tot = sampler.Record{InUseBytes: t.InUseBytes, InUseObjects: t.InUseObjects, InUseSampled: t.InUseSampled, AllocSampled: t.AllocSampled}
	}
	f.evictions = f.store.Evictions()
	d.update(f.total, &tot, tot.InUseSampled, tot.AllocSampled, i)

	if f.n < f.nextLook && t < f.nextAt && t-f.lookTime < maxLookGap*d.cfg.horizon.Seconds() {
		raised := d.recheck(f, s, idx)
		d.keep(raised)
		return raised
	}
	f.nextLook, f.nextAt, f.lookTime = nextLook(f.n), nextLookAt(f.n, t), t
	raised := d.look(f, s, idx, false)
	d.keep(raised)
	return raised
}

// finalShare is the part of each error budget the final look of a finite
// series (WithFinalLook) has to itself. That look decides on all the
// evidence; the looks along the way only date a leak's detection, so they
// share the rest.
const finalShare = 0.75

// recheckShare is the part of each alert budget that rechecks between
// looks spend (none with WithFinalLook, whose along-the-way looks only
// date a detection). Looks come ever further apart — four per doubling of
// the samples or the time — and evidence comes in bursts: a map whose
// tables split together as it doubles keeps still for minutes and then
// retains hundreds of sampled objects within a few profiles, which the
// next look, minutes later, is the first to read. A recheck tests, at
// every sample between looks, only the persistence of the stacks the
// newest look found suspect or warned of and of those that have exceeded
// their highest count since, at its sample's share of this budget divided
// among all tracked stacks (Bonferroni: which stacks it tests depends on
// their growth, so Tarone's count of the testable ones does not apply).
// Sample i has SpendWeight(i) of it whether or not it rechecks, so the
// union bound over samples and stacks holds however the rechecked stacks
// were chosen. A sixteenth costs the looks log2(16/15), a tenth of a
// sampled object, of what an alert needs. A recheck reads the same blocks
// a look would, so a burst shows once a block of a tested level holds it
// (a coarse level's block spans several samples), and its evidence must
// reach a level stricter than a look's: it alerted one recorded go-yamux
// burst 3 minutes before the next look, and another not within 2.7
// minutes, where a quarter share would have.
const recheckShare = 1.0 / 16

// maxLookGap is the longest time between looks, in horizons: an alert
// waits at most a horizon beyond its evidence, whatever the uptime. Looking
// that often costs budget — after a day at the default settings about 170
// looks against some 50 geometric ones, after a week about 1,000 against
// 64: an alert then needs 2 to 5 more sampled objects outside the
// horizon's window (log2 of the ratio of the looks' shares) — far less
// than a leak adds while waiting up to a fifth of the uptime for a look.
// A quarter of a horizon alerted a late leak a few minutes sooner in
// simulation, at twice the CPU per cycle.
const maxLookGap = 1.0

// suspectAlpha is the level, per look and across the family (Tarone), at
// which growth makes a stack a suspect. Suspects are a reading of the
// present, not a decision: a looser level than the warning's finds leaks
// while they are young, and the alert tiers keep the run-long guarantee.
const suspectAlpha = 0.2

// keep records the warnings and alerts among escalations. Suspects sent
// to OnAlert (WithSuspectAlerts) are not kept: they are a reading of the
// present, reported by Suspects, and a program counting alerts must not
// take one for a flag.
func (d *Detector) keep(raised []Alert) {
	for _, a := range raised {
		if a.Severity >= SeverityWarning {
			d.alerts = append(d.alerts, a)
		}
	}
	// Each tracked stack escalates at most twice, but stacks evicted and
	// seen again escalate again: keep the newest escalations within a
	// bound set by the configuration, whatever the host does.
	if limit := 3 * (d.cfg.maxStacks + len(d.families)); len(d.alerts) > 2*limit {
		d.alerts = append(d.alerts[:0:0], d.alerts[len(d.alerts)-limit:]...)
	}
}

// nextLook schedules looks at every sample up to 16, then four times per
// doubling of the sample count: the error budget a look spends falls with
// the number of looks, not of samples, so few looks leave each more of it.
// But a gap that grows with the uptime would keep a leak that starts on a
// service's tenth day waiting for a day; maxLookGap bounds the gap.
func nextLook(n uint64) uint64 {
	if n < 16 {
		return n + 1
	}
	return max(n+1, uint64(math.Ceil(float64(n)*math.Pow(2, 0.25))))
}

// nextLookAt is when the next look is due whatever the sample count: four
// times per doubling of the time as well. A sample needs a completed
// collection, and a leaking heap collects ever less often — a service
// sampled every ten seconds at first may be sampled once a minute ten
// minutes later, when looking four times per doubling of the samples would
// leave five minutes between looks. The time is stretched by the mean gap
// between samples so far (n/(n−1)), so that at a steady pace the sample
// count's schedule comes first and the two do not add up to more looks.
func nextLookAt(n uint64, t float64) float64 {
	if n < 16 {
		return 0 // every sample is a look until then
	}
	return t * math.Pow(2, 0.25) * float64(n) / float64(n-1)
}

// sampledCounts returns a record's live sampled objects and cumulative
// sampled births, recovering them from the estimates when the backend did
// not report them.
func sampledCounts(r *sampler.Record, rate int64) (live, born int64) {
	if r.InUseSampled > 0 || r.AllocSampled > 0 {
		return max(0, r.InUseSampled), max(0, r.AllocSampled)
	}
	unscale := func(objects, bytes int64) int64 {
		if objects <= 0 {
			return 0
		}
		if rate <= 1 || bytes <= 0 {
			return objects
		}
		// An object of size s is sampled with probability 1 − exp(−s/rate);
		// the estimate divided by it.
		keep := -math.Expm1(-float64(bytes) / float64(objects) / float64(rate))
		return int64(math.Round(float64(objects) * keep))
	}
	live = unscale(r.InUseObjects, r.InUseBytes)
	if r.AllocObjects > 0 {
		born = unscale(r.AllocObjects, r.AllocBytes)
	}
	return live, born
}

func (d *Detector) family(s *sampler.Sample) *family {
	f, ok := d.families[s.Resource]
	if ok {
		return f
	}
	f = &family{resource: s.Resource}
	// The bound was validated by the options; NewStore cannot fail here.
	f.store, _ = storage.NewStore(d.cfg.maxStacks, func(_ uint64, ser *series) { ser.gone = true })
	f.seen = newAdmission(d.cfg.maxStacks)
	d.families[s.Resource] = f
	d.order = append(d.order, s.Resource)
	return f
}

// restart begins new series for a family whose data is no longer comparable
// with what came before.
func (d *Detector) restart(f *family, s *sampler.Sample) {
	f.store.Purge()
	clear(f.byPos)
	clear(f.rechecks)
	f.rechecks = f.rechecks[:0]
	f.clock, _ = storage.NewClock(d.cfg.history, d.cfg.levels)
	f.n, f.nextLook, f.nextAt, f.lookTime = 0, 1, 0, 0
	f.started = true
	f.epoch = s.Epoch
	f.origin, f.last = s.Time, s.Time
	f.total = d.newSeries(f, TotalStack, totalFrames, 0)
}

func (d *Detector) newSeries(f *family, key uint64, frames []sampler.Frame, i uint64) *series {
	c, _ := storage.NewCounts(d.cfg.history, d.cfg.levels)
	return &series{resource: f.resource, key: key, frames: d.symbols.intern(frames), counts: *c, first: i, bestP: 1,
		firstTime: f.last.Sub(f.origin).Seconds()}
}

// update pushes one sample's counts for ser. Births are cumulative; a
// backend that cannot know them (goroutines) reports none, and each rise of
// the live count is then taken as births — the fewest that explain it.
func (d *Detector) update(ser *series, r *sampler.Record, live, born int64, i uint64) {
	if born < live || uint64(born) < ser.born {
		born = int64(ser.born) + max(0, live-int64(ser.live))
	}
	// Most stacks hold still from one sample to the next: their push waits
	// until their counts change or are read (flush), and the Counts repeat
	// the held sample over the indices in between, as pushing each would.
	size := ser.size
	if uint64(born) != ser.born || ser.first == i {
		// No sampled birth, no change to the allocation estimates.
		size = largestBorn(ser, r, ser.first == i)
	}
	hold := ser.first != i && uint64(live) == ser.live && uint64(born) == ser.born // size moves only with a birth
	if size != ser.size {
		settle(ser) // at the size they were born with
	}
	ser.live, ser.born, ser.size = uint64(live), uint64(born), size
	ser.bytes, ser.objects = r.InUseBytes, r.InUseObjects
	if live > 0 && r.InUseBytes > 0 {
		ser.perObj = float32(float64(r.InUseBytes) / float64(live))
	}
	ser.proven = r.ProvenLeaked
	if !hold {
		live32, born32 := uint32(min(live, math.MaxUint32)), uint32(uint64(born))
		if at := i - ser.first; at <= math.MaxUint32 {
			if ser.pending == journal {
				settle(ser)
			}
			ser.changes[ser.pending] = change{at: uint32(at), live: live32, born: born32}
			ser.pending++
		} else {
			// 2^32 samples after the first: no room for the index.
			settle(ser)
			ser.counts.Push(i, live32, born32, size)
		}
	}
	ser.pushedAt = i
}

// settle pushes the changes ser holds.
func settle(ser *series) {
	for _, c := range ser.changes[:ser.pending] {
		ser.counts.Push(ser.first+uint64(c.at), c.live, c.born, ser.size)
	}
	ser.pending = 0
}

// flush pushes the samples update held back or kept in ser.changes, so
// that ser's counts can be read. A tracked stack holds its newest counts
// through the family's newest sample: a full Sample updates every tracked
// stack, and one of changes leaves out those that held still.
func (f *family) flush(ser *series) {
	settle(ser)
	ser.counts.Push(f.n-1, uint32(min(ser.live, math.MaxUint32)), uint32(ser.born), ser.size)
}

// largestBorn is the largest size in bytes of the births a record's stack
// made since ser was first seen — each sample's births counted as their
// mean (allocation bytes over objects since the previous sample): for a
// slice that grows, the size of its newest backing array. The first
// sample's births are everything the stack allocated before it was seen,
// whose mean is no largest size, so they set nothing. Goroutines have no
// sizes: their bytes are stacks that grow and shrink with the call depth.
func largestBorn(ser *series, r *sampler.Record, first bool) uint32 {
	objects, bytes := r.AllocObjects-ser.allocObjects, r.AllocBytes-ser.allocBytes
	ser.allocObjects, ser.allocBytes = r.AllocObjects, r.AllocBytes
	if first || ser.resource == sampler.Goroutines || objects <= 0 || bytes <= 0 {
		return ser.size
	}
	return max(ser.size, uint32(min(bytes/objects, math.MaxUint32)))
}

// look runs the tests due at this sample over the whole family and returns
// the escalations.
func (d *Detector) look(f *family, s *sampler.Sample, idx int, final bool) []Alert {
	d.cands = d.cands[:0]
	f.lookedAt = f.n
	horizon := d.cfg.horizon.Seconds()
	f.readTimes(d.cfg.history)
	f.store.Range(func(_ uint64, ser *series) bool {
		d.consider(f, ser, horizon, false)
		return true
	})
	// The process total is plotted, not tested: it sums stacks whose
	// benign growth phases fall at different times, so its own growth can
	// outlast the horizon with no stack's doing so.

	var sum lookSummary
	if t := f.times[0]; len(t) > 0 {
		sum.span = seconds(t[len(t)-1])
	}
	var persist, suspect int
	for _, c := range d.cands {
		if c.kind == persistence {
			persist++
		} else {
			suspect++
		}
	}
	var raised []Alert
	split := d.split()
	share, earlyShare := 0.0, 0.0
	d.minPsOf(persistence)
	// would is the share this look has if it spends: the final look's, or
	// the next in the sequence of looks along the way.
	would := split * finalShare
	if !final {
		would = split * stats.SpendWeight(d.looks+1)
		if d.cfg.finalLook {
			would *= 1 - finalShare
		} else {
			would *= 1 - recheckShare
		}
	}
	// Tarone's divisors at the share the look would have; tarone leaves
	// minPs sorted.
	alertK := tarone(d.minPs, would*(1-d.cfg.alertConf))
	warnK := tarone(d.minPs, would*(1-d.cfg.warnConf))
	switch {
	case persist > 0 && final:
		d.tested = true
		share = would
	case persist > 0:
		d.tested = true
		// A look at which no test could reach even the loosest tier at
		// its share (every p-value is at least its test's smallest one)
		// decides nothing whatever the data: it spends nothing, and the
		// next look has its share. Whether a look spends depends on the
		// tests' event counts only, as Tarone's correction does.
		if d.minPs[0] <= would*(1-min(d.cfg.alertConf, d.cfg.warnConf)) {
			d.looks++
			share = would
		}
	}
	if suspect > 0 && d.cfg.memLimit > 0 {
		d.earlyLooks++
		earlyShare = split * stats.SpendWeight(d.earlyLooks)
	}
	// What an alert at this look needs: its share (or the share it would
	// have had, when it spends nothing) over Tarone's divisor, as the
	// persistence tests below are judged.
	d.alertLevel = would * (1 - d.cfg.alertConf) / float64(max(alertK, 1))
	d.minPsOf(suspicion)
	suspectK := tarone(d.minPs, suspectAlpha)
	earlyK := tarone(d.minPs, earlyShare*(1-d.cfg.alertConf))
	f.store.Range(func(_ uint64, ser *series) bool { ser.clearSuspect(); return true })
	f.total.clearSuspect()
	for _, c := range d.cands {
		ser := c.ser
		switch c.kind {
		case persistence:
			// The adjusted p-value is the p-value times the divisor of the
			// tier the test reached, over the look's share of the budget.
			adj, sev := 1.0, SeverityNone
			switch {
			case share <= 0:
			case c.p <= share*(1-d.cfg.alertConf)/float64(alertK):
				adj, sev = c.p*float64(alertK)/share, SeverityAlert
			case c.p <= share*(1-d.cfg.warnConf)/float64(warnK):
				adj, sev = c.p*float64(warnK)/share, SeverityWarning
			default:
				adj = math.Min(1, c.p*float64(alertK)/share)
			}
			if adj < ser.bestP {
				ser.bestP = adj
				ser.found = d.describe(f, ser, c, adj, s, idx)
			}
			if sev > ser.severity {
				ser.severity = sev
				raised = append(raised, d.alert(ser, sev, ser.found))
			}
		case suspicion:
			level := suspectAlpha / float64(suspectK)
			if c.p > level || ser.severity >= SeverityWarning {
				continue
			}
			adj := math.Min(1, c.p*float64(suspectK))
			fd := d.describe(f, ser, c, adj, s, idx)
			if ser.suspect == nil || adj < ser.suspect.adjusted {
				// A suspect is dated when it became one, as an alert is:
				// the evidence is the newest look's.
				if ser.suspectFrom.IsZero() {
					ser.suspectFrom, ser.suspectFromIndex = fd.time, fd.index
				}
				dated := *fd
				dated.time, dated.index = ser.suspectFrom, ser.suspectFromIndex
				ser.suspect = &dated
			}
			if c.early && earlyShare > 0 && c.p <= earlyShare*(1-d.cfg.alertConf)/float64(earlyK) {
				fd.adjusted = math.Min(1, c.p*float64(earlyK)/earlyShare)
				fd.evidence.PValue = fd.adjusted
				ser.found, ser.bestP = fd, fd.adjusted
				ser.severity = SeverityAlert
				raised = append(raised, d.alert(ser, SeverityAlert, fd))
				ser.suspect = nil
				continue
			}
		}
	}
	if d.cfg.suspectAlerts {
		f.store.Range(func(_ uint64, ser *series) bool {
			if ser.suspect != nil && ser.severity < SeveritySuspect {
				ser.severity = SeveritySuspect
				raised = append(raised, d.alert(ser, SeveritySuspect, ser.suspect))
			}
			return true
		})
	}
	sum.testable = persist
	if f.resource == sampler.Heap {
		sum.rate = f.rate
	}
	// The fewest sampled objects a stack that only retains, at a steady
	// rate over the look's span, could have passed with: the alert counts
	// only what falls outside the horizon's window (at least the span's
	// share of the horizon of any growth, at its worst placement), and a
	// suspect needs growth of its own in the newer half.
	if persist > 0 {
		outside := stats.RiseNeeded(0, would*(1-d.cfg.alertConf)/float64(max(alertK, 1)))
		span := sum.span.Seconds()
		if span > horizon {
			sum.alertNeeds = int64(math.Ceil(float64(outside) * span / (span - horizon)))
		}
	}
	sum.suspectNeeds = max(stats.RiseNeeded(0, suspectAlpha/float64(max(suspectK, 1))), 2*stats.RiseNeeded(0, continuing))
	d.lastLook = sum
	d.listRechecks(f)
	clear(d.cands) // the scratch must not keep evicted series reachable
	return raised
}

// listRechecks starts the list of stacks to recheck until the next look
// with those the look found suspect or warned of; the others join it when
// they exceed their highest count.
func (d *Detector) listRechecks(f *family) {
	for _, ser := range f.rechecks {
		ser.rechecked = false
	}
	clear(f.rechecks)
	f.rechecks = f.rechecks[:0]
	if d.cfg.finalLook {
		return
	}
	f.store.Range(func(_ uint64, ser *series) bool {
		if ser.severity < SeverityAlert && (ser.suspect != nil || ser.severity == SeverityWarning) {
			ser.rechecked = true
			f.rechecks = append(f.rechecks, ser)
		}
		return true
	})
}

// readTimes reads the clock's block end times at every level, as of the
// newest sample, for the tests to date their blocks by.
func (f *family) readTimes(history int) {
	f.times = f.times[:0]
	for k := 0; k < f.clock.Levels(); k++ {
		var buf []float64
		if k < cap(f.times) {
			buf = f.times[:k+1][k][:0]
		}
		f.times = append(f.times, f.clock.Last(k, history, buf))
	}
}

// split is the part of every budget persistence tests have: with a memory
// limit, early alerts and persistence alerts each have half, so that
// together they keep within it.
func (d *Detector) split() float64 {
	if d.cfg.memLimit > 0 {
		return 0.5
	}
	return 1
}

// minRechecks is the fewest stacks a sample may recheck, however few are
// tracked.
const minRechecks = 32

// recheck tests, at a sample that is no look, the persistence of the
// stacks on the family's recheck list — those the newest look found
// suspect or warned of, and those that set a new high since (see
// recheckShare) — and returns the alerts it raises.
func (d *Detector) recheck(f *family, s *sampler.Sample, idx int) []Alert {
	if len(f.rechecks) == 0 || d.cfg.finalLook {
		return nil
	}
	share := d.split() * recheckShare * stats.SpendWeight(uint64(d.index))
	divisor := float64(max(1, f.store.Len()))
	level := share * (1 - d.cfg.alertConf) / divisor
	horizon := d.cfg.horizon.Seconds()
	f.readTimes(d.cfg.history)
	var raised []Alert
	// However many stacks set new highs at once, a sample rechecks a
	// thirty-second of the tracked stacks at most, in turn: a sample
	// between looks costs at most about a thirty-second of a look's tests.
	n := len(f.rechecks)
	from := f.recheckNext % n
	count := min(n, max(minRechecks, f.store.Len()/32))
	f.recheckNext = from + count
	for j := range count {
		ser := f.rechecks[(from+j)%n]
		if ser.gone || ser.severity >= SeverityAlert {
			ser.rechecked = false
			continue
		}
		d.cands = d.cands[:0]
		d.consider(f, ser, horizon, true)
		for _, c := range d.cands {
			if c.kind != persistence || c.p > level {
				continue
			}
			adj := c.p * divisor / share
			// What the alert needed is this recheck's level, not the
			// newest look's.
			lookLevel := d.alertLevel
			d.alertLevel = level
			if adj < ser.bestP {
				ser.bestP = adj
				ser.found = d.describe(f, ser, c, adj, s, idx)
			}
			d.alertLevel = lookLevel
			ser.severity = SeverityAlert
			ser.suspect = nil
			ser.rechecked = false
			raised = append(raised, d.alert(ser, SeverityAlert, ser.found))
			break
		}
	}
	kept := f.rechecks[:0]
	for _, ser := range f.rechecks {
		if ser.rechecked {
			kept = append(kept, ser)
		}
	}
	clear(f.rechecks[len(kept):]) // evicted series must not stay reachable
	f.rechecks = kept
	clear(d.cands)
	return raised
}

// minPsOf gathers the smallest p-values the look's tests of kind could
// reach into d.minPs, for tarone.
func (d *Detector) minPsOf(kind testKind) {
	d.minPs = d.minPs[:0]
	for _, c := range d.cands {
		if c.kind == kind {
			d.minPs = append(d.minPs, c.minP)
		}
	}
}

// tarone returns the divisor Tarone's correction gives tests with these
// smallest p-values at level alpha. It sorts minPs: the second level asked
// of the same tests finds them sorted, which costs a pass.
func tarone(minPs []float64, alpha float64) int {
	if !(alpha > 0) {
		return 1
	}
	return stats.Tarone(minPs, alpha)
}

// consider adds ser's hypotheses at this look: the persistence test at
// every resolution from the finest whose history spans one and a half
// horizons to the finest that holds the whole history (the coarsest when
// none does) — until one spans that much, at every level spanning more
// than one horizon, up to the finest holding the whole history — and the
// suspect test (the rise over the finest level holding
// the whole history, or the coarsest with eight blocks when none does, for
// a newest count that is still a new high).
func (d *Detector) consider(f *family, ser *series, horizon float64, persistOnly bool) {
	f.flush(ser)
	finest, coarsest := -1, -1
	suspectLevel := -1
	whole := false // a level tested so far holds the whole history
	young := -1    // the finest level spanning more than one horizon
	// youngTop is the finest level spanning more than one horizon that
	// holds the whole history, or the coarsest such level.
	youngTop, youngWhole := -1, false
	for k := 0; k < ser.counts.Levels(); k++ {
		n := ser.counts.Len(k)
		if suspectLevel < 0 || !ser.counts.Whole(suspectLevel) {
			if n >= 8 || (k == 0 && n >= 4) {
				suspectLevel = k
			}
		}
		if n < 4 || whole {
			continue
		}
		times := levelTimes(f, k, n)
		if times[len(times)-1]-times[0] >= 1.5*horizon {
			if finest < 0 {
				finest = k
			}
			coarsest = k
			// A level that has dropped nothing holds everything since the
			// stack's first sample, at a finer resolution than any coarser
			// level: those would test the same evidence with the horizon
			// placed less precisely.
			whole = ser.counts.Whole(k)
		} else if times[len(times)-1]-times[0] > horizon && !youngWhole {
			if young < 0 {
				young = k
			}
			youngTop, youngWhole = k, ser.counts.Whole(k)
		}
	}
	// Until some level spans one and a half horizons, the levels spanning
	// more than one are tested: the test is valid whatever the span (growth
	// outside every window placement is what it counts, none when nothing
	// lies outside), and a fast leak has all the evidence it needs a few
	// blocks past the horizon. The finest of them may span barely more than
	// the horizon, leaving nothing outside, while a coarser one already
	// leaves minutes. Later, the levels spanning one and a half horizons
	// leave outside the window enough for a slow one.
	lateSuspicion := finest >= 0
	if finest < 0 && young >= 0 {
		finest, coarsest = young, youngTop
	}
	if persistOnly && finest < 0 {
		return
	}
	if finest < 0 && suspectLevel < 0 {
		return
	}
	// One pass rebuilds every level the tests read.
	d.blocks, d.starts = ser.counts.Windows(max(coarsest, suspectLevel), d.blocks[:0], d.starts[:0])
	level := func(k int) []storage.Count {
		return d.blocks[d.starts[k] : d.starts[k]+ser.counts.Len(k)]
	}
	// A level's dispersion is computed once, however many tests read it.
	dispLevel, disp := -1, 0.0
	dispersionOf := func(k int) float64 {
		if k != dispLevel {
			b := level(k)
			dispLevel, disp = k, dispersion(b, levelTimes(f, k, len(b)))
		}
		return disp
	}
	if finest >= 0 {
		// Every level from the finest to the coarsest: a level's sixteen
		// blocks span a fixed time, and a leak that started after a long
		// uptime brings most evidence at the level whose span matches its
		// age — at a finer one the window hides too much of it, at a
		// coarser one it is a block or two.
		for k := finest; k <= coarsest; k++ {
			d.persistence(f, ser, k, level(k), horizon, dispersionOf(k))
		}
	}
	// A stack that held at most loneLive sampled objects over the blocks the
	// lone test counts cannot rise there by enough to be a suspect: it is
	// read by the sizes of the objects that replaced one another instead
	// (lone.go).
	if suspectLevel >= 0 && !persistOnly {
		if b := level(suspectLevel); !d.loneSuspicion(f, ser, suspectLevel, b, horizon) {
			d.suspicion(f, ser, suspectLevel, b, horizon, dispersionOf(suspectLevel))
			// Once the history is much longer than the horizon, growth that
			// began lately is a block or two of the whole-history level,
			// read as noise about its trend; the finest level spanning one
			// and a half horizons sees it as the rise it is.
			if lateSuspicion && finest < suspectLevel {
				d.suspicion(f, ser, finest, level(finest), horizon, dispersionOf(finest))
			}
		}
	}
}

// levelTimes returns the end times of the newest n blocks of level, as of
// this look: every series of a family completes its blocks with the family's
// clock, so a series' newest n blocks end at the clock's newest n times.
func levelTimes(f *family, level, n int) []float64 {
	t := f.times[level]
	return t[len(t)-min(n, len(t)):]
}

// events is the number of sampled births and deaths between two blocks.
func events(from, to storage.Count) int64 {
	births := int64(to.Born - from.Born) // wraps correctly
	deaths := births - (int64(to.Live) - int64(from.Live))
	return births + max(0, deaths)
}

// eventsAtStake bounds the events that can move the live count between two
// blocks: the births that survive to the later one and the deaths of
// objects alive at the earlier one — an object born and freed in between
// changes nothing. There are at most from.Live + to.Live of them, a bound
// that matters for a stack whose short-lived churn dies between profiles.
// Under stationary churn with independent lifetimes the survivors and the
// deaths are two Poisson counts of equal mean, so given their sum the
// survivors are Binomial(sum, ½) — the same test with the churn that
// cancels out left out. Objects born and freed together in batches make
// the counts clumpy: dispersion (the variance of the live count over its
// mean, at least 1) scales the bound up, as an overdispersed Poisson
// count's variance is. Never more than events.
func eventsAtStake(from, to storage.Count, dispersion float64) int64 {
	all := events(from, to)
	bound := dispersion * float64(int64(from.Live)+int64(to.Live))
	if !(bound < float64(all)) { // also when the dispersion is unknown (+Inf, or NaN against no live objects)
		return all
	}
	return int64(math.Ceil(bound))
}

// dispersion is the live count's variance about its linear trend over its
// mean, over a level's blocks: 1 for Poisson churn, about the batch size
// for objects born and freed in batches, large for a sawtooth or a cycle;
// never below 1. The trend is taken out so that a leak's own growth does
// not count as noise.
func dispersion(b []storage.Count, times []float64) float64 {
	n := len(b)
	if n < 4 {
		return math.Inf(1)
	}
	var st, sy, stt, sty float64
	for i, x := range b {
		t, y := times[i], float64(x.Live)
		st += t
		sy += y
		stt += t * t
		sty += t * y
	}
	fn := float64(n)
	mean := sy / fn
	if mean <= 0 {
		return 1
	}
	den := fn*stt - st*st
	slope := 0.0
	if den > 0 {
		slope = (fn*sty - st*sy) / den
	}
	icept := (sy - slope*st) / fn
	var ss float64
	for i, x := range b {
		r := float64(x.Live) - icept - slope*times[i]
		ss += r * r
	}
	return max(1, ss/(fn-2)/mean)
}

// riseAbove tests the newest block's live count against the highest live
// count of blocks (lo, hi] and the end of block lo, counting events from the
// block before the peak (which can only make the test more conservative).
func riseAbove(b []storage.Count, lo, hi int, disp float64) (stats.Rise, int) {
	ref, from := b[lo].Live, lo
	for i := lo + 1; i <= hi; i++ {
		if b[i].Peak > ref {
			ref, from = b[i].Peak, i-1
		}
		if b[i].Live > ref {
			ref, from = b[i].Live, i
		}
	}
	n := len(b) - 1
	return stats.Rise{Events: eventsAtStake(b[from], b[n], disp), Rise: int64(b[n].Live) - int64(ref)}, from
}

// quantileBlock is the last block, before the newest, that ends within
// the first q of the time the blocks span (the first block at least).
func quantileBlock(times []float64, q float64) int {
	last := len(times) - 1
	at := times[0] + q*(times[last]-times[0])
	i := 0
	for i+1 < last && times[i+1] <= at {
		i++
	}
	return i
}

// newHighs counts the blocks after the first whose live count exceeds
// every count, live or peak, before them.
func newHighs(b []storage.Count) int {
	if len(b) == 0 {
		return 0
	}
	high := max(b[0].Peak, b[0].Live)
	n := 0
	for _, x := range b[1:] {
		if x.Live > high {
			n++
		}
		high = max(high, x.Peak, x.Live)
	}
	return n
}

// continuing is the level, uncorrected, at which a suspect's newer half
// must show growth of its own above the older half's highest count.
const continuing = 0.1

// persistence adds the persistence hypothesis at one level. The null is
// that all of the stack's growth beyond stationary churn fits in one window
// of at most a horizon, wherever it lies; outside it the live count only
// churns. With blocks e0…en ending at times T0…Tn, a window starting in
// [Ta, Ta+1) leaves outside it the early piece (e0, ea] and the late piece
// from the first block eb with Tb ≥ Ta+1 + horizon. Their rises add up —
// the early piece's rise plus the late piece's rise above the highest count
// reached since ea — and are tested together against their events: under
// the null both pieces churn independently, so the births among their
// events are at most Binomial(events, ½). The test rejects only if every
// placement of the window is rejected (an intersection–union test over a),
// so a warm-up, a step or a buffer reaching its high-water mark anywhere in
// the history cannot pass, and neither can a sawtooth: at a split placed at
// one of its troughs nothing rises. A steady leak brings the evidence of
// its whole history but one horizon.
func (d *Detector) persistence(f *family, ser *series, level int, b []storage.Count, horizon, disp float64) {
	n := len(b)
	times := levelTimes(f, level, n)
	last := n - 1
	d.splits = d.splits[:0]
	// late is the first block at least a horizon after Ta+1; it only moves
	// forward as a does, and so does the window (a, late] whose highest
	// count the late piece must rise above: a monotone queue of block
	// indices with falling peaks gives that maximum in O(n) over all a.
	peak := func(i int) uint32 { return max(b[i].Peak, b[i].Live) }
	queue, head, queued := d.queue[:0], 0, 0
	late := 1
	for a := 0; a <= last; a++ {
		r := stats.Rise{Events: eventsAtStake(b[0], b[a], disp), Rise: int64(b[a].Live) - int64(b[0].Live)}
		if a < last {
			late = max(late, a+1)
			for late < last && times[late] < times[a+1]+horizon {
				late++
			}
		}
		if a < last && late < last && times[late] >= times[a+1]+horizon {
			for queued < late {
				queued++
				for len(queue) > head && peak(queue[len(queue)-1]) <= peak(queued) {
					queue = queue[:len(queue)-1]
				}
				queue = append(queue, queued)
			}
			for head < len(queue) && queue[head] <= a {
				head++
			}
			ref := b[a].Live
			if head < len(queue) {
				ref = max(ref, peak(queue[head]))
			}
			r.Events += eventsAtStake(b[late], b[last], disp)
			r.Rise += int64(b[last].Live) - int64(ref)
		}
		d.splits = append(d.splits, r)
	}
	// The smallest p-value the intersection–union test could reach is the
	// largest of the splits' smallest ones: that of the split with the
	// fewest events.
	fewest := int64(math.MaxInt64)
	weakest, weakestZ := 0, math.Inf(1)
	for a, r := range d.splits {
		fewest = min(fewest, r.Events)
		// The split most likely to have the largest p-value, found without
		// the incomplete beta function.
		z := math.Inf(-1)
		if r.Rise > 0 && r.Events > 0 {
			z = float64(r.Rise) / math.Sqrt(float64(r.Events))
		}
		if z < weakestZ {
			weakest, weakestZ = a, z
		}
	}
	d.queue = queue
	minP := stats.MinP(fewest)
	// A p-value above the loosest level any look can use decides nothing,
	// so the other splits are computed only when the weakest-looking one
	// could pass; then every split counts and p is exactly their maximum.
	worst := weakest
	p := d.splits[weakest].P()
	if loosest := 1 - min(d.cfg.warnConf, d.cfg.alertConf); p <= loosest {
		for a, r := range d.splits {
			if q := r.P(); q > p {
				p, worst = q, a
			}
		}
	}
	r := d.splits[worst]
	d.cands = append(d.cands, candidate{
		ser: ser, kind: persistence, level: level, p: p, minP: minP,
		rise: r.Rise, events: r.Events, growFrom: times[0],
	})
}

// clearSuspect forgets the last look's suspect evidence before a new look;
// a stack that was no suspect at that look starts a new run of them.
func (ser *series) clearSuspect() {
	if ser.suspect == nil {
		ser.suspectFrom, ser.suspectFromIndex = time.Time{}, 0
	}
	ser.suspect = nil
}

// suspicion adds the suspect hypothesis: the newest count's rise over the
// whole level, tested against the level's events, for a stack whose newest
// count is still a new high. The rise from the level's first block uses all
// of its evidence; the new-high condition keeps out what stopped growing —
// a warm-up or a step that ended, a sawtooth below its peaks.
func (d *Detector) suspicion(f *family, ser *series, level int, b []storage.Count, horizon, disp float64) {
	n := len(b)
	times := levelTimes(f, level, n)
	last := len(b) - 1
	rise := stats.Rise{Events: eventsAtStake(b[0], b[last], disp), Rise: int64(b[last].Live) - int64(b[0].Live)}
	c := candidate{
		ser: ser, kind: suspicion, level: level, p: rise.P(), minP: rise.MinP(),
		rise: rise.Rise, events: rise.Events, growFrom: times[0],
	}
	// A suspect must still be rising: above everything the first three
	// quarters of the level's time reached, and at least as high as
	// anything since. A step or a warm-up that ended, and churn wandering
	// after one, are not. (Rejecting more can only lower the false-suspect
	// rate.) Quarters and halves are of time, not of blocks: samples come
	// at collections, which come unevenly (stored profiles fetched without
	// forcing one show only the collections the program ran), and when
	// they came often during a warm-up and rarely after it, the older half
	// of the blocks ends within the warm-up — the rise to the newest then
	// reads as growth going on — while the older half of the time holds
	// the warm-up's end.
	threeQ, halfI := quantileBlock(times, 0.75), quantileBlock(times, 0.5)
	var early, recent uint32
	for i, x := range b[:last] {
		if i <= threeQ {
			early = max(early, x.Peak, x.Live)
		} else {
			recent = max(recent, x.Peak, x.Live)
		}
	}
	if b[last].Live <= early || b[last].Live < recent {
		c.p = 1
	}
	// And it must have set new highs, above everything before them, at
	// two blocks at least: one rise between two blocks is what a one-time
	// step makes, wherever in that gap it fell, and growth going on rises
	// again. Stored profiles fetched without forcing a collection make a
	// few blocks dated no more precisely than the gaps between them, so
	// that a step, or a warm-up whose end fell in such a gap, can show its
	// whole rise as the newest block's.
	if c.p < 1 && newHighs(b) < 2 {
		c.p = 1
	}
	// And growth must be going on in the newer half, above everything the
	// older half held, with some evidence of its own: a warm-up that ended
	// long ago followed by churn that touches a new high is not.
	if cont, _ := riseAbove(b, 0, halfI, disp); cont.P() > continuing {
		c.p = 1
	}
	if lim := d.cfg.memLimit; lim > 0 && f.total != nil && rise.Rise > 0 && ser.perObj > 0 {
		// Alert early only when the growth's lower bound would reach the
		// memory limit before the horizon could confirm it.
		dt := times[last] - times[0]
		if dt > 0 {
			low := (float64(rise.Rise) - 1.96*math.Sqrt(float64(rise.Events))) * float64(ser.perObj) / dt
			headroom := float64(lim - f.total.bytes)
			c.early = low > 0 && low*horizon >= headroom
		}
	}
	d.cands = append(d.cands, c)
}

// describe turns a test into reportable evidence. It runs only when a stack
// becomes more suspicious, so it may allocate.
func (d *Detector) describe(f *family, ser *series, c candidate, adj float64, s *sampler.Sample, idx int) *finding {
	f.flush(ser)
	n := ser.counts.Len(c.level)
	b := ser.counts.Last(c.level, n, nil)
	times := f.clock.Last(c.level, n, nil)
	last := len(b) - 1
	span := times[last] - times[0]
	bpo := float64(ser.perObj)
	// The rate of net retention over the level, with a 95 % interval from
	// the counting noise of the events behind it.
	net := float64(int64(b[last].Live) - int64(b[0].Live))
	ev := float64(eventsAtStake(b[0], b[last], dispersion(b, times)))
	var rate, lo, hi float64
	if span > 0 {
		rate = net / span
		lo = (net - 1.96*math.Sqrt(ev)) / span
		hi = (net + 1.96*math.Sqrt(ev)) / span
	}
	objScale := 0.0
	if ser.live > 0 {
		objScale = float64(ser.objects) / float64(ser.live)
	}
	needed := stats.RiseNeeded(c.events, d.alertLevel)
	ys := make([]float64, len(b))
	for i, x := range b {
		ys[i] = float64(x.Live) * bpo
	}
	if c.lone {
		// A lone object's bytes are its size: the growth is that of the
		// largest size born, from the first block that knows one.
		first := 0
		for first < last && b[first].Size == 0 {
			first++
		}
		for i, x := range b {
			ys[i] = float64(x.Size)
		}
		rate, lo, hi = 0, 0, 0
		if dt := times[last] - times[first]; dt > 0 {
			rate = (ys[last] - ys[first]) / dt
			lo, hi = rate, rate // the sizes are exact: no counting noise
		}
		bpo, objScale = 1, 0
		needed = 0
	}
	grewFor := times[last] - c.growFrom
	e := Evidence{
		PValue:                 adj,
		RawPValue:              c.p,
		GrowthBytesPerSecond:   rate * bpo,
		GrowthObjectsPerSecond: rate * objScale,
		SlopeLow:               lo * bpo,
		SlopeHigh:              hi * bpo,
		Samples:                len(b),
		Window:                 seconds(span),
		InUseBytes:             ser.bytes,
		InUseObjects:           ser.objects,
		Retention:              retention(b[0], b[last]),
		ProvenLeaked:           ser.proven,
		RetainedSampled:        c.rise,
		EventsSampled:          c.events,
		NeededSampled:          needed,
		GrowingFor:             seconds(max(0, grewFor)),
		Horizon:                d.cfg.horizon,
		GrowthStart:            f.at(times[growthStartAt(times, ys)]),
	}
	if c.lone {
		e.SizeRecords, e.SizesSeen = c.highs.Count, c.seen
	}
	switch {
	case c.lone:
		e.Lacks = fmt.Sprintf("a lone object replaced in %d profiles, %d of them by the largest yet (a stationary demand sets about %.1f); %d would be needed at %.2f, and a lone object's growth is never confirmed beyond the horizon",
			c.seen, c.highs.Count, c.highs.Expected, stats.NewHighsNeeded(c.highs.Expected, d.alertLevel), d.cfg.alertConf)
	case c.kind == persistence:
		e.Reason = fmt.Sprintf("grew for longer than the %v horizon: %d sampled objects retained outside it", roundDuration(d.cfg.horizon), c.rise)
	case c.early:
		e.Reason = fmt.Sprintf("projected to reach the memory limit (%d bytes) within the %v horizon", d.cfg.memLimit, d.cfg.horizon)
	case e.GrowingFor > d.cfg.horizon:
		// Time is no longer what is missing: the alert counts only what
		// lies outside every placement of a horizon-long window, and that
		// part of the growth is still short of what the level needs.
		e.Lacks = fmt.Sprintf("%d sampled objects retained, growing for %v, longer than the %v horizon; of them, fewer than the about %d that %.2f needs lie outside every horizon-long window",
			max(c.rise, 0), roundDuration(e.GrowingFor), roundDuration(d.cfg.horizon), needed, d.cfg.alertConf)
	default:
		e.Lacks = fmt.Sprintf("%d sampled objects retained; %d needed at %.2f; growing for %v of the %v horizon",
			max(c.rise, 0), needed, d.cfg.alertConf, roundDuration(e.GrowingFor), roundDuration(d.cfg.horizon))
	}
	intercept := ys[0]
	return &finding{
		level:    c.level,
		adjusted: adj,
		pattern:  classifyAt(times, ys),
		evidence: e,
		trend: [2]Point{
			{Time: f.at(times[0]), InUseBytes: intercept},
			{Time: f.at(times[last]), InUseBytes: intercept + rate*bpo*span},
		},
		index: idx,
		time:  s.Time,
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// roundDuration rounds for reading: tenths of a second below ten seconds,
// seconds above.
func roundDuration(d time.Duration) time.Duration {
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func (f *family) at(t float64) time.Time {
	return f.origin.Add(seconds(t))
}

func (d *Detector) alert(ser *series, sev Severity, fd *finding) Alert {
	return Alert{
		Severity:   sev,
		Confidence: 1 - fd.adjusted,
		Pattern:    fd.pattern,
		Resource:   ser.resource,
		Stack:      ser.key,
		Frames:     d.symbols.frames(ser.frames),
		Evidence:   fd.evidence,
		Time:       fd.time,
		Index:      fd.index,
		History:    d.history(ser, fd),
		Trend:      fd.trend,
	}
}

// history converts ser's counts to plot points, at the level of the
// finding they illustrate (the finest with none). A lone stack, or a
// finding of the lone test, is plotted by its sizes.
func (d *Detector) history(ser *series, fd *finding) []Point {
	level, loneFinding := 0, false
	if fd != nil {
		level, loneFinding = fd.level, fd.evidence.SizesSeen > 0
	}
	f := d.families[ser.resource]
	f.flush(ser)
	n := ser.counts.Len(level)
	b := ser.counts.Last(level, n, nil)
	times := f.clock.Last(level, n, nil)
	objScale := 0.0
	if ser.live > 0 {
		objScale = float64(ser.objects) / float64(ser.live)
	}
	// A lone finding is read by its sizes even if the level's first blocks
	// held more objects.
	lone := loneFinding || isLone(b)
	out := make([]Point, len(b))
	for i, x := range b {
		out[i] = Point{Time: f.at(times[i]), InUseBytes: float64(x.Live) * float64(ser.perObj), InUseObjects: float64(x.Live) * objScale}
		if lone {
			// One object at a time: the largest size born so far, which is
			// what grows.
			out[i].InUseBytes, out[i].InUseObjects = float64(x.Size), float64(x.Live)
		}
	}
	return out
}

// Alerts returns the warnings and alerts raised so far, oldest first: all
// of them unless stacks were evicted and escalated again, in which case at
// least the newest 3·(WithMaxStacks + resources) are kept. Suspects are
// not among them, even those sent to OnAlert (WithSuspectAlerts); see
// Suspects.
func (d *Detector) Alerts() []Alert {
	return append([]Alert(nil), d.alerts...)
}

// Suspects returns the stacks whose growth the newest look found
// significant but could not yet confirm as a leak (too young for the
// horizon, or too little evidence for the alert confidence), most
// confident first. Each one's Evidence.Lacks says what is missing.
func (d *Detector) Suspects() []Alert {
	var out []Alert
	d.each(func(ser *series) {
		if ser.suspect != nil && ser.severity < SeverityWarning {
			out = append(out, d.alert(ser, SeveritySuspect, ser.suspect))
		}
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Confidence > out[j].Confidence })
	return out
}

// Verdict says how much the Detector could decide: whether any
// persistence test was possible, and, when none flagged anything, what the
// evidence lacked.
type Verdict struct {
	// Samples is the number of Samples observed.
	Samples int `json:"samples"`
	// Looks counts the looks at which some persistence test was possible.
	Looks uint64 `json:"looks"`
	// Span is the time the newest look's history covered.
	Span time.Duration `json:"span_ns"`
	// Horizon is the persistence horizon growth had to outlast.
	Horizon time.Duration `json:"horizon_ns"`
	// Tested counts the persistence tests at the newest look.
	Tested int `json:"tested"`
	// Alerts and Suspects count flagged and suspected stacks.
	Alerts   int `json:"alerts"`
	Suspects int `json:"suspects"`
	// Inconclusive is true when nothing was flagged and either no
	// persistence test was ever possible (too short a history for the
	// horizon) or some stack is still a suspect.
	Inconclusive bool `json:"inconclusive"`
	// Reason says, in a sentence, why the verdict is inconclusive.
	Reason string `json:"reason,omitempty"`
	// AlertNeeds and SuspectNeeds are the fewest sampled objects a stack
	// that only retains, at a steady rate over the newest look's span,
	// would have had to keep to be alerted or to be a suspect at that
	// look (0 when no such test was possible): what a clean verdict could
	// see. A leak retaining fewer went unnoticed; a lower sampling rate or
	// a longer history would show it.
	AlertNeeds   int64 `json:"alert_needs_sampled"`
	SuspectNeeds int64 `json:"suspect_needs_sampled"`
	// SampleRate is the heap profile's sampling rate in bytes (0 without
	// one): each sampled object stands for about that many bytes of
	// objects much smaller than it.
	SampleRate int64 `json:"sample_rate"`
}

// Verdict reports what the Detector could decide so far.
func (d *Detector) Verdict() Verdict {
	v := Verdict{Samples: d.index, Looks: d.looks, Span: d.lastLook.span, Horizon: d.cfg.horizon, Tested: d.lastLook.testable,
		AlertNeeds: d.lastLook.alertNeeds, SuspectNeeds: d.lastLook.suspectNeeds, SampleRate: d.lastLook.rate}
	v.Alerts = len(d.Flagged())
	v.Suspects = len(d.Suspects())
	switch {
	case v.Alerts > 0:
	case !d.tested:
		v.Inconclusive = true
		v.Reason = fmt.Sprintf("%d %s spanning %v: a persistence test needs a stack's history of at least 4 samples spanning more than the %v horizon",
			d.index, plural(d.index, "sample", "samples"), roundDuration(v.Span), roundDuration(d.cfg.horizon))
	case v.Suspects > 0:
		v.Inconclusive = true
		v.Reason = fmt.Sprintf("%d suspect %s grew at the suspect level (%.1f over the stacks of one look), but not yet for long enough or with enough sampled objects to confirm at %.2f", v.Suspects, plural(v.Suspects, "stack", "stacks"), suspectAlpha, d.cfg.alertConf)
	}
	return v
}

// Conclude runs a look at the newest sample if it was not one, so that a
// finite series (stored profiles) is tested on all its evidence. With
// WithFinalLook that look has half of the error budget to itself, and
// Conclude runs it once. It returns the escalations that look caused.
func (d *Detector) Conclude() []Alert {
	var raised []Alert
	for _, r := range d.order {
		f := d.families[r]
		if !f.started || f.n == 0 || f.concluded || (f.lookedAt == f.n && !d.cfg.finalLook) {
			continue
		}
		f.concluded = d.cfg.finalLook
		s := &sampler.Sample{Time: f.last, Resource: r}
		got := d.look(f, s, d.index-1, d.cfg.finalLook)
		d.keep(got)
		raised = append(raised, got...)
	}
	return raised
}

// Samples reports how many Samples the Detector has observed.
func (d *Detector) Samples() int { return d.index }

// Patterns returns a snapshot of every tracked stack, most suspicious first.
func (d *Detector) Patterns() []Pattern {
	var out []Pattern
	d.each(func(ser *series) { out = append(out, d.pattern(ser)) })
	sortPatterns(out)
	return out
}

// each visits every tracked series, process totals first.
func (d *Detector) each(fn func(*series)) {
	for _, r := range d.order {
		f := d.families[r]
		if f.total != nil {
			fn(f.total)
		}
		f.store.Range(func(_ uint64, ser *series) bool { fn(ser); return true })
	}
}

func (d *Detector) pattern(ser *series) Pattern {
	p := Pattern{
		Resource:   ser.resource,
		Stack:      ser.key,
		Frames:     d.symbols.frames(ser.frames),
		Severity:   ser.severity,
		Confidence: 1 - ser.bestP,
		Samples:    int(d.families[ser.resource].n - ser.first),
	}
	fd := ser.found
	if ser.suspect != nil && ser.severity < SeverityWarning {
		fd = ser.suspect
		p.Severity = SeveritySuspect
		p.Confidence = 1 - fd.adjusted
	}
	if fd != nil {
		p.Type = fd.pattern
		p.Evidence = fd.evidence
		p.Trend = fd.trend
	}
	p.History = d.history(ser, fd)
	return p
}

func sortPatterns(ps []Pattern) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Severity != ps[j].Severity {
			return ps[i].Severity > ps[j].Severity
		}
		return ps[i].Confidence > ps[j].Confidence
	})
}

// Stats reports the Detector's bookkeeping: samples, stacks tracked and
// evicted, stacks at each severity, and the approximate bytes its storage
// holds.
func (d *Detector) Stats() Stats {
	var st Stats
	for _, r := range d.order {
		f := d.families[r]
		st.Tracked += f.store.Len()
		st.Evicted += f.store.Evictions()
		f.store.Range(func(_ uint64, ser *series) bool {
			st.StorageBytes += ser.counts.SizeBytes()
			return true
		})
	}
	d.each(func(ser *series) {
		switch {
		case ser.severity == SeverityAlert:
			st.Alerts++
			if ser.key != TotalStack && ser.found != nil {
				st.TopGrowthBytesPerSecond = max(st.TopGrowthBytesPerSecond, ser.found.evidence.GrowthBytesPerSecond)
			}
		case ser.severity == SeverityWarning:
			st.Warnings++
		case ser.suspect != nil:
			st.Suspects++
		}
	})
	st.Samples = d.index
	return st
}

// retention is the share of sampled births between two blocks still live
// at the second: near 1 for a pure leak, small under churn; −1 without
// births.
func retention(from, to storage.Count) float64 {
	births := float64(to.Born - from.Born)
	if births <= 0 {
		return -1
	}
	r := float64(int64(to.Live)-int64(from.Live)) / births
	return math.Min(math.Max(r, 0), 1)
}

func mean(y []float64) float64 {
	var s float64
	for _, v := range y {
		s += v
	}
	return s / float64(len(y))
}

// frameTable interns symbolised frames. A deep stack's frames take over a
// kilobyte while its history takes a few hundred bytes, yet stacks share
// most of their frames; a series keeps four bytes a frame. Distinct frames
// are bounded by the code that allocates, not by the number of stacks.
type frameTable struct {
	ids  map[sampler.Frame]uint32
	list []sampler.Frame
}

func (t *frameTable) intern(frames []sampler.Frame) []uint32 {
	if t.ids == nil {
		t.ids = make(map[sampler.Frame]uint32)
	}
	out := make([]uint32, len(frames))
	for i, f := range frames {
		id, ok := t.ids[f]
		if !ok {
			id = uint32(len(t.list))
			t.list = append(t.list, f)
			t.ids[f] = id
		}
		out[i] = id
	}
	return out
}

// frames returns a new slice of the frames ids name.
func (t *frameTable) frames(ids []uint32) []sampler.Frame {
	if len(ids) == 0 {
		return nil
	}
	out := make([]sampler.Frame, len(ids))
	for i, id := range ids {
		out[i] = t.list[id]
	}
	return out
}

package leakguard

import (
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
// time, as a live run sees them, tracks every stack's history in bounded
// storage and tests it for persistent growth.
//
// The false-alarm guarantee: each stack's tests run at levels taken from an
// error budget split over the order in which stacks appear and, per stack,
// over the order of its tests (see stats.SpendWeight), so that the
// probability of any false warning over all stacks and the whole run is at
// most 1 − warning confidence, and of any false alert at most 1 − alert
// confidence, however long the run and however many stacks appear.
//
// A Detector is not safe for concurrent use; Guard serialises access.
type Detector struct {
	cfg      config
	families map[sampler.Resource]*family
	order    []sampler.Resource
	index    int // samples observed
	alerts   []Alert

	// scratch buffers keep the per-cycle path allocation-free.
	pts     []storage.Point
	ys      []float64
	xs      []float64
	fresh   []*series
	warnAlp float64
	alrtAlp float64
}

type family struct {
	resource sampler.Resource
	store    *storage.Store[*series]
	total    *series
	started  bool
	epoch    uint64
	seq      uint64
	origin   time.Time
	last     time.Time
	rate     int64
}

// series is one tracked stack (or the process total).
type series struct {
	resource sampler.Resource
	key      uint64
	frames   []sampler.Frame
	hist     *storage.History
	share    float64 // this series' share of the error budget
	tests    uint64  // scheduled looks so far
	seen     int     // index of the last sample the stack was present in
	proven   int64   // latest count a sound analysis proved leaked
	severity Severity
	bestP    float64
	found    *finding // the most significant test so far
}

// finding is what one test concluded, kept to report on the stack.
type finding struct {
	level    int
	growth   stats.GrowthResult
	adjusted float64
	pattern  PatternType
	evidence Evidence
	trend    [2]Point
	index    int
	time     time.Time
}

// NewDetector returns a Detector configured by opts (only the analysis
// options matter: confidence, window, history, max stacks).
func NewDetector(opts ...Option) (*Detector, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return newDetector(cfg), nil
}

func newDetector(cfg config) *Detector {
	return &Detector{
		cfg:      cfg,
		families: make(map[sampler.Resource]*family),
		warnAlp:  1 - cfg.warnConf,
		alrtAlp:  1 - cfg.alertConf,
	}
}

// Observe feeds the next Sample and returns the escalations it caused: a
// stack that first reaches warning or alert severity at this sample. A nil
// Sample is ignored.
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
	f.seq, f.last, f.rate = s.Seq, s.Time, s.Rate
	t := float32(s.Time.Sub(f.origin).Seconds())
	cohort := uint64(idx + 1)

	var raised []Alert
	present := 0
	d.fresh = d.fresh[:0]
	var tot storage.Point
	tot.T = t
	for i := range s.Records {
		r := &s.Records[i]
		if r.Stack == TotalStack {
			continue // reserved for the total
		}
		p := storage.Point{T: t, InUseBytes: float32(r.InUseBytes), InUseObjects: float32(r.InUseObjects), AllocBytes: float32(r.AllocBytes)}
		tot.InUseBytes += p.InUseBytes
		tot.InUseObjects += p.InUseObjects
		tot.AllocBytes += p.AllocBytes
		ser, ok := f.store.Peek(r.Stack)
		if !ok {
			ser = d.newSeries(f.resource, r.Stack, r.Frames)
			f.store.Add(r.Stack, ser)
			d.fresh = append(d.fresh, ser)
		} else if last, ok := ser.hist.Newest(); !ok || last.InUseBytes != p.InUseBytes {
			f.store.Get(r.Stack) // recency follows change: flat stacks are evicted first
		}
		if ser.seen != idx {
			present++
		}
		ser.seen = idx
		ser.proven = r.ProvenLeaked
		raised = d.push(ser, p, s, idx, raised)
	}
	if present < f.store.Len() {
		// Absent from the sample means nothing in use: stored profiles omit
		// empty stacks (the runtime's own profile lists them all, so this
		// walk is skipped there).
		f.store.Range(func(_ uint64, ser *series) bool {
			if ser.seen != idx {
				ser.seen = idx
				raised = d.push(ser, storage.Point{T: t}, s, idx, raised)
			}
			return true
		})
	}
	if f.total.hist.Pushed(0) == 0 {
		d.fresh = append(d.fresh, f.total)
	}
	raised = d.push(f.total, tot, s, idx, raised)
	if n := len(d.fresh); n > 0 {
		share := stats.SpendWeight(cohort) / float64(n)
		for _, ser := range d.fresh {
			ser.share = share
		}
	}
	d.alerts = append(d.alerts, raised...)
	// Each tracked stack escalates at most twice, but stacks evicted and
	// seen again escalate again: keep the newest escalations within a bound
	// set by the configuration, whatever the host does.
	if limit := 2 * (d.cfg.maxStacks + len(d.families)); len(d.alerts) > 2*limit {
		d.alerts = append(d.alerts[:0:0], d.alerts[len(d.alerts)-limit:]...)
	}
	return raised
}

func (d *Detector) family(s *sampler.Sample) *family {
	f, ok := d.families[s.Resource]
	if ok {
		return f
	}
	f = &family{resource: s.Resource}
	// The bound was validated by the options; NewStore cannot fail here.
	f.store, _ = storage.NewStore[*series](d.cfg.maxStacks, nil)
	d.families[s.Resource] = f
	d.order = append(d.order, s.Resource)
	return f
}

// restart begins new series for a family whose data is no longer comparable
// with what came before. Budget shares are not reused: stacks that reappear
// register again in a later cohort, so the guarantee spans restarts.
func (d *Detector) restart(f *family, s *sampler.Sample) {
	f.store.Purge()
	f.total = d.newSeries(f.resource, TotalStack, totalFrames)
	f.started = true
	f.epoch = s.Epoch
	f.origin = s.Time
}

func (d *Detector) newSeries(res sampler.Resource, key uint64, frames []sampler.Frame) *series {
	h, _ := storage.NewHistory(d.cfg.history, d.cfg.levels)
	return &series{resource: res, key: key, frames: frames, hist: h, seen: -1, bestP: 1}
}

// push appends p to ser's history and runs the tests that are due.
func (d *Detector) push(ser *series, p storage.Point, s *sampler.Sample, idx int, raised []Alert) []Alert {
	ser.hist.Push(p)
	n0 := ser.hist.Pushed(0)
	w := d.cfg.window
	step := uint64(max(1, w/4))
	for k := 0; k < ser.hist.Levels(); k++ {
		if n0%(1<<k) != 0 {
			break // level k completed no point now, nor will any coarser level
		}
		nk := ser.hist.Pushed(k)
		if nk < uint64(w) || (nk-uint64(w))%step != 0 {
			continue
		}
		// A scheduled look spends budget whether or not it is computed, so
		// that each look's level is fixed in advance of the data.
		ser.tests++
		if ser.share == 0 {
			// Shares are assigned at the end of the sample that registered the
			// series; a look cannot be due before then.
			continue
		}
		level := ser.share * stats.SpendWeight(ser.tests)
		if a, ok := d.look(ser, k, level, s, idx); ok {
			raised = append(raised, a)
		}
	}
	return raised
}

// look tests the newest window at level k and reports an escalation.
func (d *Detector) look(ser *series, k int, level float64, s *sampler.Sample, idx int) (Alert, bool) {
	d.pts = ser.hist.Last(k, d.cfg.window, d.pts[:0])
	pts := d.pts
	if pts[len(pts)-1].InUseBytes <= pts[0].InUseBytes {
		return Alert{}, false // cannot be significant growth; skip the arithmetic
	}
	d.ys, d.xs = d.ys[:0], d.xs[:0]
	for _, p := range pts {
		d.ys = append(d.ys, float64(p.InUseBytes))
		// Seconds since the window's start: the heap profile changes only at
		// GC cycles, which grow sparser as the heap grows, so the test runs
		// on time, not on sample count.
		d.xs = append(d.xs, float64(p.T-pts[0].T))
	}
	// The floor is the quantisation of a sampled profile: one sampled object
	// stands for about Rate bytes; a mean of 2^k samples quantises finer.
	noise := float64(s.Rate) * float64(s.Rate) / 12 / float64(uint64(1)<<k)
	g := stats.GrowthAt(d.xs, d.ys, noise)
	adj := stats.Adjust(g.P, level)
	// Describing costs more than testing; only evidence (adj < 1) that
	// beats the best so far is worth it.
	if adj < ser.bestP {
		ser.bestP = adj
		ser.found = d.describe(ser, k, g, adj, pts, s, idx)
	}
	sev := d.severity(adj)
	if sev <= ser.severity {
		return Alert{}, false
	}
	ser.severity = sev
	return d.alert(ser, sev), true
}

func (d *Detector) severity(adjusted float64) Severity {
	switch {
	case adjusted <= d.alrtAlp:
		return SeverityAlert
	case adjusted <= d.warnAlp:
		return SeverityWarning
	}
	return SeverityNone
}

// describe turns a test into reportable evidence. It runs only when a stack
// becomes more suspicious, so it may allocate.
func (d *Detector) describe(ser *series, k int, g stats.GrowthResult, adj float64, pts []storage.Point, s *sampler.Sample, idx int) *finding {
	n := len(pts)
	span := float64(pts[n-1].T - pts[0].T)
	f := d.families[ser.resource]
	objs := make([]float64, n)
	for i, p := range pts {
		objs[i] = float64(p.InUseObjects)
	}
	// Report the slope and interval of the noise model that decided, so the
	// interval agrees with the confidence shown beside it.
	decided := g.Full
	if g.DriftP < g.TrendP {
		decided = g.DriftFull
	}
	lo, hi := decided.Interval(0.95)
	ev := Evidence{
		PValue:                 adj,
		RawPValue:              g.P,
		GrowthBytesPerSecond:   decided.Slope,
		GrowthObjectsPerSecond: stats.TrendAt(d.xs, objs, 0).Slope,
		SlopeLow:               lo,
		SlopeHigh:              hi,
		Samples:                n,
		Window:                 time.Duration(span * float64(time.Second)),
		InUseBytes:             int64(pts[n-1].InUseBytes),
		InUseObjects:           int64(pts[n-1].InUseObjects),
		Retention:              retention(pts),
		ProvenLeaked:           ser.proven,
	}
	if newest, ok := ser.hist.Newest(); ok {
		ev.InUseBytes, ev.InUseObjects = int64(newest.InUseBytes), int64(newest.InUseObjects)
	}
	ev.GrowthStart = f.at(pts[growthStart(d.ys)].T)
	intercept := mean(d.ys) - decided.Slope*mean(d.xs)
	return &finding{
		level:    k,
		growth:   g,
		adjusted: adj,
		pattern:  classify(d.ys),
		evidence: ev,
		trend: [2]Point{
			{Time: f.at(pts[0].T), InUseBytes: intercept},
			{Time: f.at(pts[n-1].T), InUseBytes: intercept + decided.Slope*d.xs[n-1]},
		},
		index: idx,
		time:  s.Time,
	}
}

func (f *family) at(t float32) time.Time {
	return f.origin.Add(time.Duration(float64(t) * float64(time.Second)))
}

func (d *Detector) alert(ser *series, sev Severity) Alert {
	fd := ser.found
	return Alert{
		Severity:   sev,
		Confidence: 1 - fd.adjusted,
		Pattern:    fd.pattern,
		Resource:   ser.resource,
		Stack:      ser.key,
		Frames:     ser.frames,
		Evidence:   fd.evidence,
		Time:       fd.time,
		Index:      fd.index,
		History:    d.history(ser, fd.level),
		Trend:      fd.trend,
	}
}

// history converts a level of ser's history to plot points.
func (d *Detector) history(ser *series, level int) []Point {
	f := d.families[ser.resource]
	pts := ser.hist.Last(level, ser.hist.Len(level), nil)
	out := make([]Point, len(pts))
	for i, p := range pts {
		out[i] = Point{Time: f.at(p.T), InUseBytes: float64(p.InUseBytes), InUseObjects: float64(p.InUseObjects)}
	}
	return out
}

// Alerts returns the escalations raised so far, oldest first: all of them
// unless stacks were evicted and escalated again, in which case at least
// the newest 2·(WithMaxStacks + resources) are kept.
func (d *Detector) Alerts() []Alert {
	return append([]Alert(nil), d.alerts...)
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
		Frames:     ser.frames,
		Severity:   ser.severity,
		Confidence: 1 - ser.bestP,
		Samples:    int(ser.hist.Pushed(0)),
	}
	level := 0
	if ser.found != nil {
		p.Type = ser.found.pattern
		p.Evidence = ser.found.evidence
		p.Trend = ser.found.trend
		level = ser.found.level
	}
	p.History = d.history(ser, level)
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

// Stats reports the Detector's bookkeeping: stacks tracked and evicted, and
// the approximate bytes its storage holds.
func (d *Detector) Stats() DetectorStats {
	var st DetectorStats
	for _, r := range d.order {
		f := d.families[r]
		st.Tracked += f.store.Len()
		st.Evicted += f.store.Evictions()
		f.store.Range(func(_ uint64, ser *series) bool {
			st.StorageBytes += ser.hist.SizeBytes()
			return true
		})
	}
	st.Samples = d.index
	return st
}

// DetectorStats is the Detector's own bookkeeping, for reports.
type DetectorStats struct {
	// Samples is the number of Samples observed.
	Samples int
	// Tracked is the number of stacks currently tracked, over all resources.
	Tracked int
	// Evicted counts stacks forgotten to respect WithMaxStacks.
	Evicted uint64
	// StorageBytes approximates the memory the stacks' histories hold.
	StorageBytes int
}

func retention(pts []storage.Point) float64 {
	n := len(pts)
	da := float64(pts[n-1].AllocBytes - pts[0].AllocBytes)
	if da <= 0 {
		return -1
	}
	r := float64(pts[n-1].InUseBytes-pts[0].InUseBytes) / da
	return math.Min(math.Max(r, 0), 1)
}

func mean(y []float64) float64 {
	var s float64
	for _, v := range y {
		s += v
	}
	return s / float64(len(y))
}

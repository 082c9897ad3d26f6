// Package prom exports a leakguard Guard's metrics to Prometheus. It lives
// apart so that the core library does not depend on the Prometheus client.
//
//	g, _ := leakguard.Start()
//	prometheus.MustRegister(prom.NewCollector(g))
//
// Metrics (all gauges or counters read from the Guard at scrape time):
//
//	leakguard_alerts{severity}                     stacks at each severity
//	leakguard_tracked_stacks                       stacks under analysis
//	leakguard_evicted_stacks_total                 stacks forgotten (WithMaxStacks)
//	leakguard_samples_total                        samples analysed
//	leakguard_sample_errors_total                  failed samples
//	leakguard_dropped_alerts_total                 alerts the callback queue had no room for
//	leakguard_last_cycle_seconds                   analysis time of the last sample
//	leakguard_storage_bytes                        memory held by the stacks' histories
//	leakguard_top_growth_bytes_per_second          fastest growth among alerting stacks
//
// and, per flagged allocation site, labelled resource, function, location
// (file:line of the leaf frame) and severity:
//
//	leakguard_leak_growth_bytes_per_second         estimated growth rate of in-use bytes
//	leakguard_leak_growth_objects_per_second       estimated growth rate of in-use objects
//	leakguard_leak_inuse_bytes                     bytes the site holds
//	leakguard_leak_inuse_objects                   objects (goroutines) the site holds
//	leakguard_leak_confidence                      1 − the family-wise adjusted p-value
//
// These name the leaking function, so alerting rules can page on it and
// group replicas that leak at the same place (see examples/prometheus).
// Their cardinality is bounded: only the TopStacks most suspicious flagged
// stacks are exported (DefaultTopStacks unless set; stacks sharing a leaf
// frame add up into one series), and a stack that is evicted or no longer
// flagged is absent from the next scrape. The severity labels carry
// Severity.String(), so a severity the detector adds later is exported as
// one more label value.
package prom

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/sampler"
)

// DefaultTopStacks is how many flagged stacks a Collector exports per-site
// gauges for unless TopStacks says otherwise: the number of stacks a
// Guard's Report carries, so a scrape usually reads no history beyond that
// Report's.
const DefaultTopStacks = leakguard.DefaultReportTop

// Collector is a prometheus.Collector reading one Guard.
type Collector struct {
	g   *leakguard.Guard
	top int

	alerts, tracked, evicted, samples, errors, dropped, lastCycle, storage, measuredHeap, topGrowth *prometheus.Desc
	growth, growthObjects, inUse, inUseObjects, confidence                                          *prometheus.Desc
}

var _ prometheus.Collector = (*Collector)(nil)

// Option configures a Collector. Options are validated by NewCollector,
// which returns the first error.
type Option func(*options) error

type options struct {
	labels prometheus.Labels
	top    int
}

// ConstLabels adds labels to every metric, for example the service's name
// when several Guards are exported by one process.
func ConstLabels(l prometheus.Labels) Option {
	return func(o *options) error { o.labels = l; return nil }
}

// TopStacks bounds the per-site gauges to the n most suspicious flagged
// stacks (most severe first, then most confident), so a service leaking in
// many places cannot flood Prometheus with series. 0 turns the per-site
// gauges off. A scrape reads the Guard's Report, which carries its
// DefaultTopStacks most suspicious stacks (process totals included); when
// more flagged stacks are wanted than that holds, the scrape snapshots
// every tracked stack (Guard.Patterns), copying each one's history —
// affordable for hundreds of tracked stacks, wasteful for ten thousand.
func TopStacks(n int) Option {
	return func(o *options) error {
		if n < 0 {
			return fmt.Errorf("prom: TopStacks(%d): must not be negative", n)
		}
		o.top = n
		return nil
	}
}

// NewCollector returns a Collector for g, or the first option's error.
func NewCollector(g *leakguard.Guard, opts ...Option) (*Collector, error) {
	if g == nil {
		return nil, errors.New("prom: NewCollector: nil Guard")
	}
	o := options{top: DefaultTopStacks}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("prom: nil Option")
		}
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	c := &Collector{g: g, top: o.top}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("leakguard_"+name, help, labels, o.labels)
	}
	site := []string{"resource", "function", "location", "severity"}
	c.alerts = d("alerts", "Stacks at each severity.", "severity")
	c.tracked = d("tracked_stacks", "Stacks under analysis.")
	c.evicted = d("evicted_stacks_total", "Stacks forgotten to respect the maximum number of tracked stacks.")
	c.samples = d("samples_total", "Samples analysed.")
	c.errors = d("sample_errors_total", "Samples that failed.")
	c.dropped = d("dropped_alerts_total", "Alerts that found the callback queue full.")
	c.lastCycle = d("last_cycle_seconds", "Time the analysis of the last sample took.")
	c.storage = d("storage_bytes", "Approximate memory held by the stacks' histories.")
	c.measuredHeap = d("measured_heap_bytes", "Heap in use at leakguard's own allocation sites, as the runtime heap profile measured it.")
	c.topGrowth = d("top_growth_bytes_per_second", "Largest estimated growth rate among allocation sites at alert severity.")
	c.growth = d("leak_growth_bytes_per_second", "Estimated growth rate of the in-use bytes of a flagged allocation site.", site...)
	c.growthObjects = d("leak_growth_objects_per_second", "Estimated growth rate of the in-use objects of a flagged allocation site.", site...)
	c.inUse = d("leak_inuse_bytes", "In-use bytes of a flagged allocation site.", site...)
	c.inUseObjects = d("leak_inuse_objects", "In-use objects (goroutines for the goroutines resource) of a flagged allocation site.", site...)
	c.confidence = d("leak_confidence", "Confidence that a flagged allocation site leaks: one minus its family-wise adjusted p-value.", site...)
	return c, nil
}

// Describe sends the descriptors of every metric.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.alerts, c.tracked, c.evicted, c.samples, c.errors, c.dropped, c.lastCycle, c.storage, c.measuredHeap, c.topGrowth,
		c.growth, c.growthObjects, c.inUse, c.inUseObjects, c.confidence,
	} {
		ch <- d
	}
}

// Collect reads the Guard's metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	r := c.g.Report()
	m := r.Stats
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	// Warning and alert are always present, so that a rule on them sees 0
	// rather than no data; any other severity appears once a stack has it.
	bySeverity := map[string]int{leakguard.SeverityWarning.String(): 0, leakguard.SeverityAlert.String(): 0}
	for sev, n := range r.AlertsBySeverity {
		bySeverity[sev.String()] += n
	}
	for sev, n := range bySeverity {
		gauge(c.alerts, float64(n), sev)
	}
	gauge(c.tracked, float64(m.Tracked))
	counter(c.evicted, float64(m.Evicted))
	counter(c.samples, float64(m.Samples))
	counter(c.errors, float64(m.SampleErrors))
	counter(c.dropped, float64(m.DroppedAlerts))
	gauge(c.lastCycle, m.LastAnalysis.Seconds())
	gauge(c.storage, float64(m.StorageBytes))
	gauge(c.measuredHeap, float64(m.MeasuredHeapBytes))
	gauge(c.topGrowth, m.TopGrowthBytesPerSecond)
	for _, s := range c.sites(r.Top) {
		l := []string{s.Resource, s.Function, s.Location, s.Severity}
		gauge(c.growth, s.GrowthBytesPerSecond, l...)
		gauge(c.growthObjects, s.GrowthObjectsPerSecond, l...)
		gauge(c.inUse, s.InUseBytes, l...)
		gauge(c.inUseObjects, s.InUseObjects, l...)
		gauge(c.confidence, s.Confidence, l...)
	}
}

// sites picks the exported sites from the Report's top stacks, which cost
// nothing more to read. Only when that list is full, still flagged at its
// end and short of c.top stacks may more flagged stacks exist; then every
// tracked stack is snapshotted.
func (c *Collector) sites(top []leakguard.Pattern) []site {
	if c.top == 0 {
		return nil
	}
	out, taken := sites(top, c.top)
	if taken < c.top && len(top) >= leakguard.DefaultReportTop && top[len(top)-1].Severity != leakguard.SeverityNone {
		out, _ = sites(c.g.Patterns(), c.top)
	}
	return out
}

// site is one exported allocation site: the flagged stacks among the top n
// that share a leaf frame, added together. Growth rates are those of each
// stack's most significant test; in-use counts its newest history point;
// severity and confidence the highest among the stacks.
type site struct {
	Resource, Function, Location, Severity       string
	GrowthBytesPerSecond, GrowthObjectsPerSecond float64
	InUseBytes, InUseObjects                     float64
	Confidence                                   float64
}

// sites turns patterns, most suspicious first as Guard.Report and
// Guard.Patterns order them, into the label sets the per-site gauges carry:
// the first n flagged stacks (any severity above none, so a new tier needs
// no change here; process totals left out, they name no function), merged
// by resource and leaf frame so that two stacks reaching one allocation
// through different callers cannot collide as one label set.
func sites(patterns []leakguard.Pattern, n int) (out []site, taken int) {
	type key struct{ resource, function, location string }
	at := map[key]int{}
	for _, p := range patterns {
		if taken == n {
			break
		}
		if p.Severity == leakguard.SeverityNone || p.Stack == leakguard.TotalStack {
			continue
		}
		taken++
		leaf := sampler.Frame{Function: "(unknown)"}
		if len(p.Frames) > 0 {
			leaf = p.Frames[0]
		}
		k := key{string(p.Resource), leaf.Function, ""}
		if leaf.File != "" {
			k.location = leaf.File + ":" + strconv.Itoa(leaf.Line)
		}
		inUse, inUseObjects := float64(p.Evidence.InUseBytes), float64(p.Evidence.InUseObjects)
		if len(p.History) > 0 {
			last := p.History[len(p.History)-1]
			inUse, inUseObjects = last.InUseBytes, last.InUseObjects
		}
		i, ok := at[k]
		if !ok {
			at[k] = len(out)
			out = append(out, site{
				Resource: k.resource, Function: k.function, Location: k.location,
				Severity:               p.Severity.String(),
				GrowthBytesPerSecond:   p.Evidence.GrowthBytesPerSecond,
				GrowthObjectsPerSecond: p.Evidence.GrowthObjectsPerSecond,
				InUseBytes:             inUse,
				InUseObjects:           inUseObjects,
				Confidence:             p.Confidence,
			})
			continue
		}
		// Patterns come most severe first, so the first stack of a site
		// already set its severity.
		s := &out[i]
		s.Confidence = max(s.Confidence, p.Confidence)
		s.GrowthBytesPerSecond += p.Evidence.GrowthBytesPerSecond
		s.GrowthObjectsPerSecond += p.Evidence.GrowthObjectsPerSecond
		s.InUseBytes += inUse
		s.InUseObjects += inUseObjects
	}
	return out, taken
}

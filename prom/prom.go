// Package prom exports a leakguard Guard's metrics to Prometheus. It lives
// apart so that the core library does not depend on the Prometheus client.
//
//	g, _ := leakguard.Start()
//	prometheus.MustRegister(prom.NewCollector(g))
//
// Metrics (all gauges or counters read from Guard.Metrics at scrape time):
//
//	leakguard_alerts{severity="warning"|"alert"}   stacks at each severity
//	leakguard_tracked_stacks                       stacks under analysis
//	leakguard_evicted_stacks_total                 stacks forgotten (WithMaxStacks)
//	leakguard_samples_total                        samples analysed
//	leakguard_sample_errors_total                  failed samples
//	leakguard_dropped_alerts_total                 alerts the callback queue had no room for
//	leakguard_last_cycle_seconds                   analysis time of the last sample
//	leakguard_storage_bytes                        memory held by the stacks' histories
//	leakguard_top_growth_bytes_per_second          fastest growth among alerting stacks
package prom

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/leakguard/leakguard"
)

// Collector is a prometheus.Collector reading one Guard.
type Collector struct {
	g *leakguard.Guard

	alerts, tracked, evicted, samples, errors, dropped, lastCycle, storage, topGrowth *prometheus.Desc
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a Collector for g. constLabels are added to every
// metric (for example the service's name when several Guards run).
func NewCollector(g *leakguard.Guard, constLabels ...prometheus.Labels) *Collector {
	var cl prometheus.Labels
	if len(constLabels) > 0 {
		cl = constLabels[0]
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("leakguard_"+name, help, labels, cl)
	}
	return &Collector{
		g:         g,
		alerts:    d("alerts", "Stacks at each severity.", "severity"),
		tracked:   d("tracked_stacks", "Stacks under analysis."),
		evicted:   d("evicted_stacks_total", "Stacks forgotten to respect the maximum number of tracked stacks."),
		samples:   d("samples_total", "Samples analysed."),
		errors:    d("sample_errors_total", "Samples that failed."),
		dropped:   d("dropped_alerts_total", "Alerts that found the callback queue full."),
		lastCycle: d("last_cycle_seconds", "Time the analysis of the last sample took."),
		storage:   d("storage_bytes", "Approximate memory held by the stacks' histories."),
		topGrowth: d("top_growth_bytes_per_second", "Largest estimated growth rate among allocation sites at alert severity."),
	}
}

// Describe sends the descriptors of every metric.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.alerts, c.tracked, c.evicted, c.samples, c.errors, c.dropped, c.lastCycle, c.storage, c.topGrowth} {
		ch <- d
	}
}

// Collect reads the Guard's metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	m := c.g.Metrics()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(c.alerts, float64(m.Warnings), "warning")
	gauge(c.alerts, float64(m.Alerts), "alert")
	gauge(c.tracked, float64(m.Tracked))
	counter(c.evicted, float64(m.Evicted))
	counter(c.samples, float64(m.Samples))
	counter(c.errors, float64(m.SampleErrors))
	counter(c.dropped, float64(m.DroppedAlerts))
	gauge(c.lastCycle, m.LastAnalysis.Seconds())
	gauge(c.storage, float64(m.StorageBytes))
	gauge(c.topGrowth, m.TopGrowthBytesPerSecond)
}

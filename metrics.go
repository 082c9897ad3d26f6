package leakguard

import (
	"expvar"
	"sync"
	"time"
)

// Metrics are the Guard's headline numbers, cheap enough to read on every
// metrics scrape: no histories are copied.
type Metrics struct {
	// Alerts and Warnings count stacks at alert and at warning severity.
	Alerts   int `json:"alerts"`
	Warnings int `json:"warnings"`
	// Tracked is the number of stacks under analysis; Evicted how many were
	// forgotten to respect WithMaxStacks.
	Tracked int    `json:"tracked_stacks"`
	Evicted uint64 `json:"evicted_stacks"`
	// Samples counts samples analysed; Cycles sampling cycles run.
	Samples int    `json:"samples"`
	Cycles  uint64 `json:"cycles"`
	// SampleErrors counts failed samples; DroppedAlerts alerts that found
	// the callback queue full.
	SampleErrors  uint64 `json:"sample_errors"`
	DroppedAlerts uint64 `json:"dropped_alerts"`
	// LastAnalysis is how long the last sample's analysis took.
	LastAnalysis time.Duration `json:"last_analysis_ns"`
	// StorageBytes approximates the memory the stacks' histories hold.
	StorageBytes int `json:"storage_bytes"`
	// MeasuredHeapBytes is the heap in use at leakguard's own allocation
	// sites as the newest runtime heap profile measured it: histories,
	// sampler buffers and caches together. 0 without the heap sampler.
	MeasuredHeapBytes int64 `json:"measured_heap_bytes"`
	// TopGrowthBytesPerSecond is the largest estimated growth rate among
	// allocation sites at alert severity (the process totals excluded), 0
	// when none is.
	TopGrowthBytesPerSecond float64 `json:"top_growth_bytes_per_second"`
}

// Metrics returns the Guard's headline numbers.
func (g *Guard) Metrics() Metrics {
	g.mu.Lock()
	var m Metrics
	g.det.each(func(ser *series) {
		switch ser.severity {
		case SeverityAlert:
			m.Alerts++
			if ser.key != TotalStack && ser.found != nil {
				m.TopGrowthBytesPerSecond = max(m.TopGrowthBytesPerSecond, ser.found.evidence.GrowthBytesPerSecond)
			}
		case SeverityWarning:
			m.Warnings++
		}
	})
	st := g.det.Stats()
	g.mu.Unlock()
	m.Tracked, m.Evicted, m.Samples, m.StorageBytes = st.Tracked, st.Evicted, st.Samples, st.StorageBytes
	m.Cycles = g.cycles.Load()
	m.MeasuredHeapBytes = g.selfBytes.Load()
	m.SampleErrors = g.sampleErrors.Load()
	m.DroppedAlerts = g.dropped.Load()
	m.LastAnalysis = time.Duration(g.lastCycle.Load())
	return m
}

// ExpvarName is the expvar variable under which every running Guard's
// Metrics are published, as a JSON list (one entry per Guard, in start
// order), at /debug/vars when the host serves expvar.
const ExpvarName = "leakguard"

// The live Guards behind the expvar variable. expvar's namespace is
// process-global and Publish panics on a second registration, so one
// variable is published once and reads this registry; it is the only
// package-level state besides what the runtime forces.
var live struct {
	once   sync.Once
	mu     sync.Mutex
	guards []*Guard
}

func register(g *Guard) {
	live.once.Do(func() {
		if expvar.Get(ExpvarName) == nil {
			expvar.Publish(ExpvarName, expvar.Func(expvarMetrics))
		}
	})
	live.mu.Lock()
	live.guards = append(live.guards, g)
	live.mu.Unlock()
}

func unregister(g *Guard) {
	live.mu.Lock()
	defer live.mu.Unlock()
	for i, x := range live.guards {
		if x == g {
			live.guards = append(live.guards[:i], live.guards[i+1:]...)
			return
		}
	}
}

func expvarMetrics() any {
	live.mu.Lock()
	guards := append([]*Guard(nil), live.guards...)
	live.mu.Unlock()
	out := make([]Metrics, 0, len(guards))
	for _, g := range guards {
		out = append(out, g.Metrics())
	}
	return out
}

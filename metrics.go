package leakguard

import (
	"expvar"
	"sync"
	"time"
)

// Stats is leakguard's bookkeeping, the one type for it: what
// Detector.Stats and Guard.Stats return, what Report carries, what expvar
// publishes and what the Prometheus collector exports. It is cheap to read
// on every metrics scrape: no histories are copied. Fields a Detector
// cannot know (cycles, analysis time, sampler and callback counters) are
// zero in Detector.Stats.
type Stats struct {
	// Samples counts samples analysed; Cycles sampling cycles run.
	Samples int    `json:"samples"`
	Cycles  uint64 `json:"cycles"`
	// Tracked is the number of stacks under analysis; Evicted how many were
	// forgotten to respect WithMaxStacks.
	Tracked int    `json:"tracked_stacks"`
	Evicted uint64 `json:"evicted_stacks"`
	// Alerts, Warnings and Suspects count stacks at each severity now.
	Alerts   int `json:"alerts"`
	Warnings int `json:"warnings"`
	Suspects int `json:"suspects"`
	// TopGrowthBytesPerSecond is the largest estimated growth rate among
	// allocation sites at alert severity (the process totals excluded), 0
	// when none is.
	TopGrowthBytesPerSecond float64 `json:"top_growth_bytes_per_second"`
	// LastAnalysis and MeanAnalysis are the time one sample's analysis took
	// (the last one, and the mean over all), measured on the analysis
	// goroutine; sampling itself is not included.
	LastAnalysis time.Duration `json:"last_analysis_ns"`
	MeanAnalysis time.Duration `json:"mean_analysis_ns"`
	// StorageBytes approximates the memory the stacks' histories hold.
	StorageBytes int `json:"storage_bytes"`
	// MeasuredHeapBytes is the heap in use at leakguard's own allocation
	// sites as the newest runtime heap profile measured it: histories,
	// sampler buffers and caches together. 0 without the heap sampler.
	MeasuredHeapBytes int64 `json:"measured_heap_bytes"`
	// SampleErrors counts failed samples (and recovered panics); NoNewData
	// samples skipped because the source had nothing new (no GC completed
	// since the previous cycle).
	SampleErrors uint64 `json:"sample_errors"`
	NoNewData    uint64 `json:"no_new_data"`
	// DroppedAlerts counts alerts that found the callback queue full, and
	// CallbackPanics callbacks that panicked.
	DroppedAlerts  uint64 `json:"dropped_alerts"`
	CallbackPanics uint64 `json:"callback_panics"`
}

// Stats returns the Guard's bookkeeping.
func (g *Guard) Stats() Stats {
	g.mu.Lock()
	st := g.det.Stats()
	g.mu.Unlock()
	g.addCounters(&st)
	return st
}

// addCounters fills in what the Guard counts beside its Detector's
// bookkeeping: cycles, analysis time, its measured heap, the sampler and
// callback counters.
func (g *Guard) addCounters(st *Stats) {
	st.Cycles = g.cycles.Load()
	st.LastAnalysis = time.Duration(g.lastCycle.Load())
	if st.Samples > 0 { // every sample the Guard analysed went through Observe once
		st.MeanAnalysis = time.Duration(g.analysisNanos.Load() / uint64(st.Samples))
	}
	st.MeasuredHeapBytes = g.selfBytes.Load()
	st.SampleErrors = g.sampleErrors.Load()
	st.NoNewData = g.noNewData.Load()
	st.DroppedAlerts = g.dropped.Load()
	st.CallbackPanics = g.panics.Load()
}

// ExpvarName is the expvar variable under which every running Guard's
// Stats are published, as a JSON list (one entry per Guard, in start
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
	out := make([]Stats, 0, len(guards))
	for _, g := range guards {
		out = append(out, g.Stats())
	}
	return out
}

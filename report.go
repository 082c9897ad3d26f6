package leakguard

import (
	"errors"
	"fmt"
	"sort"
	"time"
)

// DefaultReportTop is how many of the most suspicious stacks a Report
// carries with their histories.
const DefaultReportTop = 10

// Report is a snapshot of what a Guard has analysed and found, and what the
// analysis costs: the periodic report of a running service. It is
// JSON-serialisable with stable field names, so reports of several
// replicas can be collected and compared.
type Report struct {
	// Time is when the report was made.
	Time time.Time `json:"time"`
	// Stats is the Guard's bookkeeping: samples, cycles, stacks tracked and
	// evicted and at each severity, and what leakguard itself spends.
	Stats Stats `json:"stats"`
	// AlertsBySeverity counts stacks by the highest severity they reached
	// (stacks that never reached warning are not counted).
	AlertsBySeverity map[Severity]int `json:"alerts_by_severity"`
	// Confidence is the distribution of tracked stacks' confidence (one
	// minus their best family-wise adjusted p-value).
	Confidence []ConfidenceBucket `json:"confidence_distribution"`
	// PatternTypes counts tested stacks by the shape of their most
	// significant growth.
	PatternTypes map[PatternType]int `json:"pattern_types"`
	// Alerts holds, per stack, the escalation to the highest severity it
	// reached, most severe and confident first.
	Alerts []Alert `json:"alerts"`
	// Top holds the most suspicious tracked stacks with their histories:
	// those whose tests found some growth, most significant first.
	Top []Pattern `json:"top"`
	// Suspects holds the stacks whose growth the newest look found
	// significant but could not yet confirm, each saying in
	// Evidence.Lacks what it lacks; they reach OnAlert only with
	// WithSuspectAlerts.
	Suspects []Alert `json:"suspects"`
	// Verdict says whether anything could be decided yet.
	Verdict Verdict `json:"verdict"`
}

// ConfidenceBucket counts the tracked stacks whose confidence lies in
// [Min, Max).
type ConfidenceBucket struct {
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	Stacks int     `json:"stacks"`
}

// confidenceEdges are the bucket boundaries: coarse where nothing is
// decided, fine near the warning and alert levels.
var confidenceEdges = []float64{0, 0.5, 0.9, 0.95, 0.99, 0.999, 1.000001}

// report summarises the detector; top bounds the stacks whose histories
// are copied, so a report costs O(tracked) time but O(top) history.
func (d *Detector) report(top int) Report {
	r := Report{
		AlertsBySeverity: map[Severity]int{},
		PatternTypes:     map[PatternType]int{},
	}
	for i := 0; i+1 < len(confidenceEdges); i++ {
		r.Confidence = append(r.Confidence, ConfidenceBucket{Min: confidenceEdges[i], Max: min(confidenceEdges[i+1], 1)})
	}
	var candidates []*series
	d.each(func(ser *series) {
		conf := 1 - ser.bestP
		for i := range r.Confidence {
			if conf < confidenceEdges[i+1] {
				r.Confidence[i].Stacks++
				break
			}
		}
		if ser.severity >= SeverityWarning {
			r.AlertsBySeverity[ser.severity]++
		}
		if ser.found != nil {
			r.PatternTypes[ser.found.pattern]++
		}
		if ser.found != nil {
			// Only stacks a test found some growth in are worth a picture.
			candidates = append(candidates, ser)
		}
	})
	sort.SliceStable(candidates, func(i, j int) bool {
		if candidates[i].severity != candidates[j].severity {
			return candidates[i].severity > candidates[j].severity
		}
		return candidates[i].bestP < candidates[j].bestP
	})
	for _, ser := range candidates[:min(top, len(candidates))] {
		r.Top = append(r.Top, d.pattern(ser))
	}
	r.Alerts = d.Flagged()
	r.Suspects = d.Suspects()
	if len(r.Suspects) > top {
		r.Suspects = r.Suspects[:top]
	}
	r.Verdict = d.Verdict()
	r.Stats = d.Stats()
	return r
}

// Flagged returns, for every stack that reached warning or alert severity,
// its escalation to the highest severity it reached: most severe, then most
// confident first.
func (d *Detector) Flagged() []Alert {
	type key struct {
		r string
		s uint64
	}
	best := map[key]int{}
	var out []Alert
	for _, a := range d.alerts {
		k := key{string(a.Resource), a.Stack}
		if i, ok := best[k]; ok {
			if a.Severity > out[i].Severity {
				out[i] = a
			}
			continue
		}
		best[k] = len(out)
		out = append(out, a)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Severity != out[j].Severity {
			return out[i].Severity > out[j].Severity
		}
		return out[i].Confidence > out[j].Confidence
	})
	return out
}

// Report summarises what the Guard has analysed and found so far.
func (g *Guard) Report() Report {
	g.mu.Lock()
	r := g.det.report(DefaultReportTop)
	g.mu.Unlock()
	r.Time = time.Now()
	// The report already holds the Detector's bookkeeping: walking every
	// stack again for Guard.Stats would double a scrape's cost.
	g.addCounters(&r.Stats)
	return r
}

// WithReportEvery calls fn with the Guard's Report every d, on its own
// goroutine (a slow fn delays the next report, never the analysis; a
// panicking fn is recovered and logged).
func WithReportEvery(d time.Duration, fn func(Report)) Option {
	return func(c *config) error {
		if d < time.Millisecond {
			return fmt.Errorf("leakguard: WithReportEvery(%v): period must be at least 1ms", d)
		}
		if fn == nil {
			return errors.New("leakguard: WithReportEvery: nil function")
		}
		c.reportEvery, c.reportFn = d, fn
		return nil
	}
}

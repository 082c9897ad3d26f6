package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/gcdate"
	"github.com/leakguard/leakguard/internal/storedseries"
	"github.com/leakguard/leakguard/internal/workload"
	"github.com/leakguard/leakguard/sampler"
	"github.com/leakguard/leakguard/sampler/heap"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// outcome is what one run of one workload produced.
type outcome struct {
	detected  bool // a leak workload flagged at its marker
	latency   int  // samples from the leak's start to the alert
	falseAlrm bool // an alert on anything that is not the workload's leak
	// falseAt names the first falsely flagged stack: its leaf frame.
	falseAt string
	// tiers is the highest severity reached at the workload's marker (for
	// a leak) and elsewhere, warnings and alerts as raised, suspects as
	// left at the end: for the held-out breakdown.
	tiers tiers
}

// tiers is the highest severity one run reached at the leak (hit) and on
// any other stack but the process total (other, with its leaf frame).
type tiers struct {
	hit, other leakguard.Severity
	otherAt    string
}

func (t *tiers) note(w workload.Workload, a leakguard.Alert) {
	if a.Stack == leakguard.TotalStack {
		return
	}
	if w.Leak && hasMarker(a, w.Marker) {
		t.hit = max(t.hit, a.Severity)
		return
	}
	if a.Severity > t.other {
		t.other, t.otherAt = a.Severity, leaf(a)
	}
}

// label is, for a leak, the tier at the leak, then anything flagged
// elsewhere; for a benign workload, which has no leak, what was flagged.
func (t tiers) label(leak bool) string {
	at := strings.TrimPrefix(t.otherAt, "github.com/leakguard/leakguard/")
	switch {
	case t.other == leakguard.SeverityNone:
		return t.hit.String()
	case leak:
		return fmt.Sprintf("%s (+%s at %s)", t.hit, t.other, at)
	default:
		return fmt.Sprintf("%s at %s", t.other, at)
	}
}

// tierLines prints, for every workload, the tier each run reached, per
// rate and seed: suspects and warnings, which the precision and recall
// columns of an alert table leave out, and the held-out workloads marked.
func tierLines(w io.Writer, all []workload.Workload, settings []string, seeds, steps int, got map[string][]tiers) {
	fmt.Fprintln(w, "Tier reached per run (at the leak for a leak; + anything flagged elsewhere), per rate: seeds 1..n; the held-out workloads were written after the detector:")
	fmt.Fprintln(w)
	for _, wl := range all {
		label := "leak"
		switch {
		case !wl.Leak:
			label = "benign"
		case wl.LeakFrom >= steps:
			label = "leaks only after these profiles: benign here"
		}
		if workload.Heldout(wl.Name) {
			label += ", held out"
		}
		var parts []string
		for ri, set := range settings {
			var ts []string
			for _, t := range got[wl.Name][ri*seeds : (ri+1)*seeds] {
				ts = append(ts, t.label(wl.Leak))
			}
			parts = append(parts, fmt.Sprintf("%s: %s", set, strings.Join(ts, ", ")))
		}
		fmt.Fprintf(w, "- %s (%s): %s\n", wl.Name, label, strings.Join(parts, "; "))
	}
	fmt.Fprintln(w)
}

// runWorkload runs w for steps steps, one heap profile per step, through a
// fresh detector at default settings, as a live Guard would see them.
func runWorkload(w workload.Workload, steps int, seed uint64) (outcome, error) {
	var out outcome
	hs, err := heap.New(heap.WithForceGC(true))
	if err != nil {
		return out, err
	}
	defer hs.Close()
	det, err := leakguard.NewDetector()
	if err != nil {
		return out, err
	}
	inst := w.New(seed)
	defer func() { inst.Release(); runtime.GC() }()
	for i := range steps {
		inst.Step(i)
		s, err := hs.Sample(context.Background())
		if err != nil {
			return out, err
		}
		// A step stands for the requests a service serves between two
		// profiles; here it takes a millisecond or so and its wall-clock
		// length varies with the GC's, which would read as irregular
		// sampling. Stamp the profiles as a Guard at the default interval
		// would take them.
		s.Time = epoch.Add(time.Duration(i) * leakguard.DefaultInterval)
		for _, a := range det.Observe(s) {
			out.tiers.note(w, a)
			if a.Severity != leakguard.SeverityAlert {
				continue
			}
			switch {
			case w.Leak && a.Stack == leakguard.TotalStack:
				// The process total grows with a leak: true, not counted.
			case w.Leak && hasMarker(a, w.Marker):
				if !out.detected {
					out.detected, out.latency = true, i-w.LeakFrom
				}
			default:
				if !out.falseAlrm {
					out.falseAt = leaf(a)
				}
				out.falseAlrm = true
			}
		}
	}
	for _, a := range det.Suspects() {
		out.tiers.note(w, a)
	}
	return out, nil
}

func leaf(a leakguard.Alert) string {
	if a.Stack == leakguard.TotalStack || len(a.Frames) == 0 {
		return "(process total)"
	}
	return a.Frames[0].Function
}

func hasMarker(a leakguard.Alert, marker string) bool { return framesHave(a.Frames, marker) }

// framesHave reports whether a frame's function contains marker.
func framesHave(frames []sampler.Frame, marker string) bool {
	for _, f := range frames {
		if strings.Contains(f.Function, marker) {
			return true
		}
	}
	return false
}

// score accumulates counts for one row of the table.
type score struct {
	tp, fn, fp, runs int
	latencies        []int
}

func (s *score) add(w workload.Workload, o outcome) {
	s.runs++
	if o.falseAlrm {
		s.fp++
	}
	if w.Leak {
		if o.detected {
			s.tp++
			s.latencies = append(s.latencies, o.latency)
		} else {
			s.fn++
		}
	}
}

func (s *score) merge(o score) {
	s.tp += o.tp
	s.fn += o.fn
	s.fp += o.fp
	s.runs += o.runs
	s.latencies = append(s.latencies, o.latencies...)
}

func ratio(a, b int) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", float64(a)/float64(b))
}

func (s score) row(name string) string {
	prec, rec := ratio(s.tp, s.tp+s.fp), ratio(s.tp, s.tp+s.fn)
	f1 := "–"
	if s.tp > 0 {
		p, r := float64(s.tp)/float64(s.tp+s.fp), float64(s.tp)/float64(s.tp+s.fn)
		f1 = fmt.Sprintf("%.2f", 2*p*r/(p+r))
	}
	lat := "–"
	if len(s.latencies) > 0 {
		l := slices.Clone(s.latencies)
		slices.Sort(l)
		lat = fmt.Sprintf("%d samples", l[len(l)/2])
	}
	return fmt.Sprintf("| %s | %d | %s | %s | %s | %d | %s |", name, s.runs, prec, rec, f1, s.fp, lat)
}

// accuracy runs every labelled workload at three sampling rates.
func accuracy(w io.Writer, short bool) error {
	steps, seeds := 200, 5
	rates := []int{64 << 10, 512 << 10, 1 << 20}
	if short {
		steps, seeds = 100, 1
		rates = []int{512 << 10}
	}
	old := runtime.MemProfileRate
	defer func() { runtime.MemProfileRate = old }()
	all := append(workload.Leaks(), workload.Benign()...)
	seedWord := "seeds"
	if seeds == 1 {
		seedWord = "seed"
	}
	fmt.Fprintf(w, "## Accuracy: %d workloads (%d leaking, %d benign), %d heap profiles each, %d %s, default settings\n\n",
		len(all), len(workload.Leaks()), len(workload.Benign()), steps, seeds, seedWord)
	fmt.Fprintln(w, "A run is a true positive when an alert names the leaking function; any other alert (on a benign workload, or on a stack that is not the leak) is a false positive. Latency counts profiles from the leak's start to the alert; at the default 10 s interval, 60 samples is 10 minutes (one horizon).")
	fmt.Fprintln(w)
	byRate := map[int]*score{}
	byShape := map[string]*score{}
	var total score
	var falseAlarms []string
	got := map[string][]tiers{}
	for _, rate := range rates {
		runtime.MemProfileRate = rate
		byRate[rate] = &score{}
		for _, wl := range all {
			if byShape[wl.Name] == nil {
				byShape[wl.Name] = &score{}
			}
			for seed := range uint64(seeds) {
				o, err := runWorkload(wl, steps, seed+1)
				if err != nil {
					return fmt.Errorf("%s: %w", wl.Name, err)
				}
				byShape[wl.Name].add(wl, o)
				got[wl.Name] = append(got[wl.Name], o.tiers)
				if o.falseAlrm {
					falseAlarms = append(falseAlarms, fmt.Sprintf("%s at %d KiB, seed %d: %s", wl.Name, rate>>10, seed+1, o.falseAt))
				}
				byRate[rate].add(wl, o)
			}
		}
		total.merge(*byRate[rate])
	}
	header := "| %s | Runs | Precision | Recall | F1 | False alarms | Median latency |\n|---|---|---|---|---|---|---|\n"
	fmt.Fprintf(w, header, "Workload")
	for _, wl := range all {
		label := "leak"
		if !wl.Leak {
			label = "benign"
		}
		fmt.Fprintln(w, byShape[wl.Name].row(wl.Name+" ("+label+")"))
	}
	fmt.Fprintln(w, total.row("**overall**"))
	fmt.Fprintln(w)
	if len(falseAlarms) > 0 {
		fmt.Fprintln(w, "False alarms (workload, rate, seed: flagged function):")
		fmt.Fprintln(w)
		for _, f := range falseAlarms {
			fmt.Fprintln(w, "- "+f)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, header, "MemProfileRate")
	for _, rate := range rates {
		fmt.Fprintln(w, byRate[rate].row(fmt.Sprintf("%d KiB", rate>>10)))
	}
	fmt.Fprintln(w)
	var labels []string
	for _, rate := range rates {
		labels = append(labels, fmt.Sprintf("%d KiB", rate>>10))
	}
	tierLines(w, all, labels, seeds, steps, got)
	return nil
}

// shortOutcome is what one stored series of one workload produced, as
// `leakguard analyze` would see it.
type shortOutcome struct {
	alerted, suspected    bool  // the leak, at its marker
	falseAlert, falseSusp bool  // anything else
	retained              int64 // the leak's live sampled objects, last profile minus first
	tiers                 tiers
}

// markedSampled is the number of live sampled objects at stacks through
// marker in s.
func markedSampled(s *sampler.Sample, marker string) int64 {
	var n int64
	for i := range s.Records {
		if framesHave(s.FramesOf(&s.Records[i]), marker) {
			n += s.Records[i].InUseSampled
		}
	}
	return n
}

// storedSetting is how a stored series is taken: at which MemProfileRate,
// and whether a collection is forced before each profile (?gc=1) or the
// profile shows the heap as of the last collection the program ran on its
// own, as `curl /debug/pprof/heap` does.
type storedSetting struct {
	rate    int
	forceGC bool
}

func (s storedSetting) String() string {
	if s.forceGC {
		return fmt.Sprintf("%d KiB", s.rate>>10)
	}
	return fmt.Sprintf("%d KiB, no forced GC", s.rate>>10)
}

// runStored takes n heap profiles of w, 200 ms apart, and tests them the
// way analyze does: the horizon at 0.4 of the span of the profiles it
// keeps, a final look, a block per kept profile. Without forced
// collections, a profile taken before the program collected again repeats
// the one before it, and analyze leaves it out and dates each profile at
// the collection it shows; so does this.
func runStored(w workload.Workload, n int, seed uint64, set storedSetting) (shortOutcome, error) {
	var out shortOutcome
	hs, err := heap.New(heap.WithForceGC(set.forceGC))
	if err != nil {
		return out, err
	}
	defer hs.Close()
	inst := w.New(seed)
	defer func() { inst.Release(); runtime.GC() }()
	// Each series starts from a collected heap, as a service's does some
	// time after it started, whatever the runs before it left.
	runtime.GC()
	var series []*sampler.Sample
	repeated := false
	for i := range n {
		inst.Step(i)
		s, err := hs.Sample(context.Background())
		if errors.Is(err, sampler.ErrNoNewData) {
			repeated = true
			continue
		}
		if err != nil {
			return out, err
		}
		s.Time = epoch.Add(time.Duration(i) * 200 * time.Millisecond)
		series = append(series, s)
	}
	if repeated {
		gcdate.AtCollections(series) // as pprofile.Open dates a series with repeats
	}
	if len(series) == 0 {
		return out, errors.New("no heap profile")
	}
	// The horizon is analyze's share of the span of the profiles kept, as
	// dated, and a block per profile kept: what analyze gives the same
	// files.
	span := series[len(series)-1].Time.Sub(series[0].Time)
	det, err := leakguard.NewDetector(leakguard.WithHorizon(storedseries.Horizon(storedseries.DefaultShare, span)), leakguard.WithSeries(len(series)))
	if err != nil {
		return out, err
	}
	for _, s := range series {
		det.Observe(s)
	}
	if w.Leak {
		out.retained = markedSampled(series[len(series)-1], w.Marker) - markedSampled(series[0], w.Marker)
	}
	det.Conclude()
	for _, a := range append(det.Suspects(), det.Flagged()...) {
		out.tiers.note(w, a)
	}
	for _, a := range det.Flagged() {
		if a.Severity != leakguard.SeverityAlert || a.Stack == leakguard.TotalStack {
			continue
		}
		if w.Leak && w.LeakFrom < n && hasMarker(a, w.Marker) {
			out.alerted = true
		} else {
			out.falseAlert = true
		}
	}
	for _, a := range append(det.Suspects(), det.Flagged()...) {
		if a.Stack == leakguard.TotalStack {
			continue
		}
		if w.Leak && w.LeakFrom < n && hasMarker(a, w.Marker) {
			out.suspected = true
		} else {
			out.falseSusp = true
		}
	}
	return out, nil
}

// recallFrom is a tier's recall over the leak runs whose leak retained at
// least min sampled objects over the series.
type recallFrom struct {
	min          int64
	runs, caught int
}

func (r *recallFrom) note(retained int64, caught bool) {
	if retained < r.min {
		return
	}
	r.runs++
	if caught {
		r.caught++
	}
}

func (r recallFrom) String() string {
	return fmt.Sprintf("%s (%d runs)", ratio(r.caught, r.runs), r.runs)
}

// Alerts are also scored over leaks retaining at least 50 sampled objects
// over the series, and suspects over those retaining at least 20: where a
// pure-retention leak among 100 stacks is almost always alerted, or a
// suspect (TestPowerCurve), so that a miss above it is the detector's and
// one below it mostly the sampling's.
const alertEvidence, suspectEvidence = 50, 20

// stored scores the workloads on short stored series: alerts, and
// suspects-or-better, each with precision and recall over runs.
func stored(w io.Writer, short bool) error {
	n, seeds := 60, 5
	settings := []storedSetting{{64 << 10, true}, {64 << 10, false}, {512 << 10, true}, {512 << 10, false}}
	if short {
		seeds, settings = 1, []storedSetting{{512 << 10, true}, {512 << 10, false}}
	}
	old := runtime.MemProfileRate
	defer func() { runtime.MemProfileRate = old }()
	all := append(workload.Leaks(), workload.Benign()...)
	fmt.Fprintf(w, "## Stored series: %d heap profiles 200 ms apart per workload, tested as analyze does (horizon 0.4 of the span, a final look), %d seeds per rate\n\n", n, seeds)
	fmt.Fprintln(w, "A leak run counts for a tier when that tier names the leaking function; a run with anything else at that tier is a false positive (\"suspected\" counts suspects, warnings and alerts).")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Unless it says \"no forced GC\", each profile follows a forced collection (`?gc=1`); without, a profile shows the heap as of the collection before the program's last one, one that repeats the profile before it (no collection in between) is left out, and the others are dated at the collection they show, as analyze does.")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "| MemProfileRate | Runs | Alert precision | Alert recall | Alert recall, leaks retaining ≥ %d sampled objects | Suspect precision | Suspect recall | Suspect recall, leaks retaining ≥ %d sampled objects | Benign runs with a suspect |\n", alertEvidence, suspectEvidence)
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	missed, falseSuspects := map[string]int{}, map[string]int{}
	missedRetained := map[string][]int64{} // the leak's live sampled objects, last profile minus first
	got := map[string][]tiers{}
	for _, set := range settings {
		runtime.MemProfileRate = set.rate
		var runs, aTP, aFP, aFN, sTP, sFP, sFN, benign, benignSusp int
		alertsFrom, suspectsFrom := recallFrom{min: alertEvidence}, recallFrom{min: suspectEvidence}
		for _, wl := range all {
			for seed := range uint64(seeds) {
				o, err := runStored(wl, n, seed+1, set)
				if err != nil {
					return fmt.Errorf("%s: %w", wl.Name, err)
				}
				runs++
				got[wl.Name] = append(got[wl.Name], o.tiers)
				if o.falseAlert {
					aFP++
				}
				if o.falseSusp {
					sFP++
				}
				// A leak that starts after the series ends is a benign
				// program for this series.
				if !wl.Leak || wl.LeakFrom >= n {
					benign++
					if o.falseSusp {
						benignSusp++
						falseSuspects[fmt.Sprintf("%s at %s", wl.Name, set)]++
					}
					continue
				}
				if o.alerted {
					aTP++
				} else {
					aFN++
				}
				alertsFrom.note(o.retained, o.alerted)
				suspectsFrom.note(o.retained, o.suspected)
				if o.suspected {
					sTP++
				} else {
					sFN++
					key := fmt.Sprintf("%s at %s", wl.Name, set)
					missed[key]++
					missedRetained[key] = append(missedRetained[key], o.retained)
				}
			}
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s | %s | %d/%d |\n", set, runs,
			ratio(aTP, aTP+aFP), ratio(aTP, aTP+aFN), alertsFrom, ratio(sTP, sTP+sFP), ratio(sTP, sTP+sFN), suspectsFrom, benignSusp, benign)
	}
	fmt.Fprintln(w)
	listRuns(w, "Leak runs not even suspected:", missed, seeds, missedRetained)
	listRuns(w, "Benign runs with a suspect:", falseSuspects, seeds, nil)
	var labels []string
	for _, set := range settings {
		labels = append(labels, set.String())
	}
	tierLines(w, all, labels, seeds, n, got)
	return nil
}

// listRuns prints a sentence naming the runs counted in runs, if any.
func listRuns(w io.Writer, intro string, runs map[string]int, seeds int, retained map[string][]int64) {
	if len(runs) == 0 {
		return
	}
	fmt.Fprint(w, intro)
	for i, k := range slices.Sorted(maps.Keys(runs)) {
		sep := ","
		if i == 0 {
			sep = ""
		}
		fmt.Fprintf(w, "%s %s (%d of %d", sep, k, runs[k], seeds)
		if r := retained[k]; len(r) > 0 {
			lo, hi := slices.Min(r), slices.Max(r)
			if lo == hi {
				fmt.Fprintf(w, "; %d sampled objects retained", lo)
			} else {
				fmt.Fprintf(w, "; %d–%d sampled objects retained", lo, hi)
			}
		}
		fmt.Fprint(w, ")")
	}
	fmt.Fprintln(w, ".")
	fmt.Fprintln(w)
}

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/render"
	"github.com/leakguard/leakguard/sampler"
)

// report is the JSON contract of `--format json`. Fields are never removed
// or renamed; new ones may be added.
type report struct {
	Profiles int           `json:"profiles"`
	Start    time.Time     `json:"start"`
	End      time.Time     `json:"end"`
	Alerts   []reportAlert `json:"alerts"`
	Skipped  []string      `json:"skipped,omitempty"`
	// Repeated counts heap profiles left out because they repeated the
	// previous one exactly (no GC in between): not new observations. Always
	// present (0 for watch and goroutine profiles), as the contract shows.
	Repeated int `json:"repeated_profiles"`
	// Undated counts profiles without a timestamp of their own (debug=1
	// text), placed at their files' modification times. Always present.
	Undated int `json:"undated_profiles"`
	// Replicas is the number of replicas analysed with --group-by.
	Replicas int `json:"replicas,omitempty"`
	// Suspects are stacks whose growth the evidence could not yet confirm
	// at the alert confidence (too young for the horizon, or too few
	// sampled objects), with the same fields as alerts; Lacks says what is
	// missing. Always present.
	Suspects []reportAlert `json:"suspects"`
	// Verdict is "leak" (an alert), "clean" (tests were possible and
	// nothing grew) or "inconclusive" (no test was possible, or suspects
	// remain); Reason explains an inconclusive verdict. HorizonSeconds is
	// how long growth had to persist.
	Verdict        string  `json:"verdict"`
	Reason         string  `json:"reason,omitempty"`
	HorizonSeconds float64 `json:"horizon_seconds"`
	// AlertNeeds and SuspectNeeds are the fewest sampled objects a stack
	// growing steadily over the series would have had to retain to be
	// alerted or to be a suspect (0 when no such test was possible): a leak retaining
	// fewer goes unseen. SampleRate, the heap profiles' sampling rate in
	// bytes (0 for other profiles), turns them into bytes of objects much
	// smaller than it.
	AlertNeeds   int64 `json:"alert_needs_sampled"`
	SuspectNeeds int64 `json:"suspect_needs_sampled"`
	SampleRate   int64 `json:"sample_rate"`

	// For the text and HTML renderings only. horizonShare is the share of
	// a stored series' span the horizon was (analyze), 0 when it was a
	// duration.
	horizonShare float64
	alerts       []leakguard.Alert
	suspects     []leakguard.Alert
	current      []leakguard.Pattern
}

// reportAlert is one flagged stack at the highest severity it reached:
// the library's AlertRecord (the one schema of an alert), plus the replica
// count of --group-by.
type reportAlert struct {
	leakguard.AlertRecord
	// Replicas counts the replicas on which the stack was flagged
	// (--group-by only).
	Replicas int `json:"replicas,omitempty"`
}

// buildReport keeps, per stack, the escalation to its highest severity:
// first_detected is when the stack first crossed that severity. Stacks are
// ordered by severity, then confidence; the process total comes after the
// allocation sites it sums.
func buildReport(det *leakguard.Detector, profiles int, start, end time.Time, top int) *report {
	rep := reportOf(det.Flagged(), nil, profiles, start, end, top)
	rep.withVerdict(det.Verdict(), det.Suspects(), top)
	rep.current = det.Patterns()
	return rep
}

// withVerdict adds the suspects and the verdict.
func (rep *report) withVerdict(v leakguard.Verdict, suspects []leakguard.Alert, top int) {
	if top > 0 && len(suspects) > top {
		suspects = suspects[:top]
	}
	rep.suspects = suspects
	for _, a := range suspects {
		rep.Suspects = append(rep.Suspects, toReportAlert(a, nil))
	}
	rep.HorizonSeconds = v.Horizon.Seconds()
	rep.AlertNeeds, rep.SuspectNeeds, rep.SampleRate = v.AlertNeeds, v.SuspectNeeds, v.SampleRate
	var alerts, warnings int
	for _, a := range rep.Alerts {
		if a.Severity == leakguard.SeverityAlert {
			alerts++
		} else {
			warnings++
		}
	}
	switch {
	case alerts > 0:
		rep.Verdict = "leak"
	case warnings > 0:
		rep.Verdict = "inconclusive"
		rep.Reason = fmt.Sprintf("%s significant at the warning confidence but not at the alert's", plural(warnings, "stack"))
	case v.Inconclusive:
		rep.Verdict, rep.Reason = "inconclusive", v.Reason
	default:
		rep.Verdict = "clean"
	}
}

// toReportAlert converts an alert to the JSON contract; replicas, when not
// nil, gives its replica count by stackSignature.
func toReportAlert(a leakguard.Alert, replicas map[string]int) reportAlert {
	return reportAlert{AlertRecord: a.Record(), Replicas: replicas[stackSignature(a)]}
}

// reportOf orders alerts and converts them to the JSON contract; replicas,
// when not nil, gives each alert's replica count by stackSignature.
func reportOf(alerts []leakguard.Alert, replicas map[string]int, profiles int, start, end time.Time, top int) *report {
	sort.Slice(alerts, func(i, j int) bool {
		ti, tj := alerts[i].Stack == leakguard.TotalStack, alerts[j].Stack == leakguard.TotalStack
		if ti != tj {
			return tj
		}
		if alerts[i].Severity != alerts[j].Severity {
			return alerts[i].Severity > alerts[j].Severity
		}
		if alerts[i].Confidence != alerts[j].Confidence {
			return alerts[i].Confidence > alerts[j].Confidence
		}
		return alerts[i].Evidence.GrowthBytesPerSecond > alerts[j].Evidence.GrowthBytesPerSecond
	})
	if top > 0 && len(alerts) > top {
		alerts = alerts[:top]
	}
	rep := &report{Profiles: profiles, Start: start.UTC(), End: end.UTC(), Alerts: []reportAlert{}, Suspects: []reportAlert{}, alerts: alerts}
	for _, a := range alerts {
		rep.Alerts = append(rep.Alerts, toReportAlert(a, replicas))
	}
	return rep
}

// emit writes the report in the chosen format (and the HTML file when
// asked) and returns the exit status: 1 when any stack reached alert
// severity.
func emit(rep *report, out *outputFlags, stdout, stderr io.Writer) int {
	if out.html != "" {
		f, err := os.Create(out.html)
		if err == nil {
			err = writeHTMLAt(f, rep, rep.current)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintln(stderr, "leakguard: writing HTML report:", err)
			return exitUsage
		}
	}
	switch out.format {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(stderr, "leakguard:", err)
			return exitUsage
		}
	default:
		writeText(stdout, rep)
	}
	for _, a := range rep.Alerts {
		if a.Severity == leakguard.SeverityAlert {
			return exitLeak
		}
	}
	if rep.Verdict == "inconclusive" {
		return exitInconclusive
	}
	return exitClean
}

func writeText(w io.Writer, rep *report) {
	fmt.Fprintf(w, "%s from %s to %s (%s)\n", plural(rep.Profiles, "profile"), rep.Start.Format(time.RFC3339), rep.End.Format(time.RFC3339), rep.End.Sub(rep.Start).Round(time.Second))
	switch {
	case rep.Repeated == 1:
		fmt.Fprintln(w, "1 more repeated the profile before it exactly (no GC in between) and was not counted; each profile is dated at the collection it shows, when the one before it was taken")
	case rep.Repeated > 1:
		fmt.Fprintf(w, "%d more repeated the profile before them exactly (no GC in between) and were not counted; each profile is dated at the collection it shows, when the one before it was taken\n", rep.Repeated)
	}
	if rep.Repeated > 0 && rep.Repeated >= rep.Profiles {
		// Most of the series is repeats: the program collected less often
		// than it was profiled, and the evidence is its few collections.
		fmt.Fprintln(w, "most profiles repeated another: a collection before each profile (fetching with ?gc=1, or runtime.GC() before writing one) gives a snapshot per profile")
	}
	switch {
	case rep.Undated == 1:
		fmt.Fprintln(w, "1 profile had no timestamp of its own (debug=1 text) and was placed at its file's modification time")
	case rep.Undated > 1:
		fmt.Fprintf(w, "%d profiles had no timestamp of their own (debug=1 text) and were placed at their files' modification times\n", rep.Undated)
	}
	defer writeSuspects(w, rep)
	if rep.Verdict == "inconclusive" && len(rep.alerts) > 0 {
		fmt.Fprintln(w, "inconclusive:", rep.Reason)
	}
	if len(rep.alerts) == 0 {
		if rep.Verdict == "inconclusive" {
			fmt.Fprintln(w, "inconclusive:", rep.Reason)
			return
		}
		fmt.Fprintln(w, "no leak found")
		if limit := rep.detectionLimit(); limit != "" {
			fmt.Fprintln(w, limit)
		}
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tSEVERITY\tCONFIDENCE\tPATTERN\tGROWTH\tIN USE\tAT PROFILE\tFUNCTION\tLOCATION")
	for i, a := range rep.alerts {
		leaf := site(a)
		loc := ""
		if leaf.File != "" {
			loc = fileLine(shortFile(leaf.File), leaf.Line)
		}
		fmt.Fprintf(tw, "%d\t%s\t%.4f\t%s\t%s/s\t%s\t%d\t%s\t%s\n", i+1, a.Severity, a.Confidence, a.Pattern,
			render.Bytes(a.Evidence.GrowthBytesPerSecond), render.Bytes(float64(a.Evidence.InUseBytes)), a.Index, leaf.Function, loc)
	}
	tw.Flush()
	for i, a := range rep.alerts {
		fmt.Fprintf(w, "\n#%d %s, %s growth, %.4f confidence (p = %.2g), detected at profile %d (%s)\n", i+1, a.Severity, a.Pattern, a.Confidence, a.Evidence.PValue, a.Index, a.Time.UTC().Format(time.RFC3339))
		if rep.Replicas > 0 {
			fmt.Fprintf(w, "   flagged on %d of %d replicas\n", rep.Alerts[i].Replicas, rep.Replicas)
		}
		if a.Resource == sampler.Goroutines {
			where := "at this creation site"
			if a.Stack == leakguard.TotalStack {
				where = "in all"
			}
			fmt.Fprintf(w, "   %s %s now, +%.2f/s\n", plural(int(a.Evidence.InUseObjects), "goroutine"), where, a.Evidence.GrowthObjectsPerSecond)
		}
		if a.Evidence.Retention >= 0 {
			fmt.Fprintf(w, "   retains %.0f%% of what it allocates; growth since %s\n", 100*a.Evidence.Retention, a.Evidence.GrowthStart.UTC().Format(time.RFC3339))
		}
		for _, f := range a.Frames {
			fmt.Fprintf(w, "   %s\n", f.Function)
			if f.File != "" {
				fmt.Fprintf(w, "       %s\n", fileLine(f.File, f.Line))
			}
		}
	}
	if rep.horizonShare > 0 {
		// A stored series knows nothing of the program beyond its own span:
		// a warm-up longer than the horizon is growth beyond it.
		fmt.Fprintf(w, "\nthe horizon was %.0f%% of the series (%s): growth that went on for longer counts as a leak here. A cache, pool or set of sessions still filling when the series ended grows the same way; if the program has one that takes longer to fill, profile it past its warm-up or pass --horizon with the time it takes.\n",
			100*rep.horizonShare, roundedSeconds(rep.HorizonSeconds))
	}
}

// writeSuspects lists the suspects: growth that could not yet be
// confirmed, and what each lacks.
func writeSuspects(w io.Writer, rep *report) {
	if len(rep.suspects) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s (growing, not yet confirmed):\n", plural(len(rep.suspects), "suspect"))
	for _, a := range rep.suspects {
		leaf := site(a)
		loc := ""
		if leaf.File != "" {
			loc = " (" + fileLine(shortFile(leaf.File), leaf.Line) + ")"
		}
		fmt.Fprintf(w, "  %s%s: +%s/s, %s in use; %s\n", leaf.Function, loc,
			render.Bytes(a.Evidence.GrowthBytesPerSecond), render.Bytes(float64(a.Evidence.InUseBytes)), a.Evidence.Lacks)
	}
}

// fileLine writes a location, without a line when none is known (native
// code without debug information).
func fileLine(file string, line int) string {
	if line <= 0 {
		return file
	}
	return fmt.Sprintf("%s:%d", file, line)
}

// site is the frame a report names: the allocating function for memory,
// the creation site (the function the goroutines were started with, the
// outermost frame) for goroutines — their leaf is where they are blocked,
// runtime.gopark for most.
func site(a leakguard.Alert) sampler.Frame {
	if a.Resource == sampler.Goroutines && len(a.Frames) > 0 {
		return a.Frames[len(a.Frames)-1]
	}
	return a.Leaf()
}

// alertLine is an escalation as a live run prints it: the Alert's own line,
// plus the creation site for goroutines.
func alertLine(a leakguard.Alert) string {
	line := a.String()
	if a.Resource == sampler.Goroutines && len(a.Frames) > 1 {
		s := site(a)
		line += "; created by " + s.Function
		if s.File != "" {
			line += fmt.Sprintf(" (%s:%d)", s.File, s.Line)
		}
	}
	return line
}

// stackSignature identifies a stack across processes by its resource and
// symbolised frames: fingerprints need not agree between replicas.
func stackSignature(a leakguard.Alert) string {
	var b strings.Builder
	b.WriteString(string(a.Resource))
	if a.Stack == leakguard.TotalStack {
		b.WriteString("|total")
	}
	for _, f := range a.Frames {
		fmt.Fprintf(&b, "|%s %s:%d", f.Function, f.File, f.Line)
	}
	return b.String()
}

func shortFile(path string) string {
	parts := strings.Split(path, "/")
	if len(parts) > 2 {
		return strings.Join(parts[len(parts)-2:], "/")
	}
	return path
}

// detectionLimit says, for a clean report, how large a steady leak the
// series could have shown: the sampled objects it would have had to
// retain, and what they stand for in bytes.
func (rep *report) detectionLimit() string {
	if rep.Verdict != "clean" || rep.AlertNeeds <= 0 {
		return ""
	}
	s := fmt.Sprintf("a stack growing steadily would have had to retain at least %d sampled objects over these profiles to be alerted, %d to be a suspect",
		rep.AlertNeeds, rep.SuspectNeeds)
	if rep.SampleRate > 1 {
		s += fmt.Sprintf(" (at a sampling rate of %s, about %s and %s of small objects)",
			render.Bytes(float64(rep.SampleRate)), render.Bytes(float64(rep.AlertNeeds*rep.SampleRate)), render.Bytes(float64(rep.SuspectNeeds*rep.SampleRate)))
	}
	return s
}

// roundedSeconds shows a horizon as the alerts' Reason and the suspects'
// Lacks do (to the second, or to 100 ms below ten seconds), so the note
// under the alerts names the same horizon they do.
func roundedSeconds(sec float64) time.Duration {
	d := time.Duration(sec * float64(time.Second))
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}

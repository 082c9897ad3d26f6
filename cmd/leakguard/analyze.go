package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"time"

	"github.com/leakguard/leakguard"

	"github.com/leakguard/leakguard/sampler/pprofile"
)

func runAnalyze(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("analyze", flag.ContinueOnError)
	var out outputFlags
	out.register(fs)
	skipBad := fs.Bool("skip-bad", false, "skip files that are not valid heap profiles instead of failing")
	groupBy := fs.String("group-by", "", "dir: each directory holding profiles is one replica of the same service; a leak is reported once with the number of replicas it was flagged on")
	maxSize := registerMaxSize(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: leakguard analyze [flags] PATH...\n\nPATH is a pprof heap or goroutine profile (debug=0 format, gzipped or not,\nor debug=1 text) or a directory of them; all must be of one kind. The series\nis ordered by each profile's own timestamp; a debug=1 profile has none and is\nplaced at its file's modification time. Goroutine leaks are reported per creation site.\n\nA series follows one process in snapshots: delta profiles (?seconds=N), a mix of\ndebug=1 and debug=0, a restart of the process and a change of its\nruntime.MemProfileRate are refused, naming the files.\n\nflags:")
		fs.PrintDefaults()
	}
	paths, code, ok := parseArgs(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if err := out.validate(); err != nil {
		fmt.Fprintln(stderr, "leakguard analyze:", err)
		return exitUsage
	}
	if len(paths) == 0 {
		fmt.Fprintln(stderr, "leakguard analyze: no PATH given")
		fs.Usage()
		return exitUsage
	}
	opts := []pprofile.FilesOption{pprofile.WithSampleType(pprofile.SampleType(out.sampleType)), pprofile.WithMaxProfileSize(int64(*maxSize))}
	if *skipBad {
		opts = append(opts, pprofile.SkipBad())
	}
	switch *groupBy {
	case "":
	case "dir":
		return analyzeReplicas(paths, opts, &out, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "leakguard analyze: --group-by %q: want dir\n", *groupBy)
		return exitUsage
	}
	files, err := pprofile.Open(paths, opts...)
	if err != nil {
		fmt.Fprintln(stderr, "leakguard analyze:", skipHint(tooLarge(err)))
		return exitUsage
	}
	for _, e := range files.Skipped() {
		fmt.Fprintln(stderr, "leakguard analyze: skipped:", e)
	}
	all := files.Samples()
	det, err := out.detector(all[len(all)-1].Time.Sub(all[0].Time), len(all), 1)
	if err != nil {
		fmt.Fprintln(stderr, "leakguard analyze:", err)
		return exitUsage
	}
	// One profile at a time, as a live run would see them: detection
	// indices never use hindsight.
	for _, s := range all {
		det.Observe(s)
	}
	det.Conclude()
	samples := files.Samples()
	rep := buildReport(det, len(samples), samples[0].Time, samples[len(samples)-1].Time, out.top)
	for _, e := range files.Skipped() {
		rep.Skipped = append(rep.Skipped, e.Error())
	}
	rep.Repeated = files.Repeated()
	rep.Undated = files.Undated()
	rep.horizonShare = out.horizon.fraction
	return emit(rep, &out, stdout, stderr)
}

// skipHint adds to the error of a file that is not a heap or goroutine
// profile (a README or a JSON report beside the profiles, an empty file, a
// CPU profile) how to leave such files out. Open returns such errors only
// without --skip-bad.
func skipHint(err error) error {
	if errors.Is(err, pprofile.ErrNotProfile) || errors.Is(err, pprofile.ErrNotSupported) {
		return fmt.Errorf("%w (--skip-bad leaves out files that are not heap or goroutine profiles)", err)
	}
	return err
}

// analyzeReplicas runs one detector per replica — each directory holding
// profiles — and merges what they flag by symbolised stack. Every replica's
// detector runs at level α/R (Bonferroni), so the probability of any false
// alarm across all replicas stays at most α.
func analyzeReplicas(paths []string, opts []pprofile.FilesOption, out *outputFlags, stdout, stderr io.Writer) int {
	groups, err := profilesByDir(paths)
	if err != nil {
		fmt.Fprintln(stderr, "leakguard analyze:", err)
		return exitUsage
	}
	dirs := slices.Sorted(maps.Keys(groups))
	var (
		profiles   int
		start, end time.Time
		skipped    []string
		repeated   int
		undated    int
	)
	best := map[string]leakguard.Alert{}
	var suspects []leakguard.Alert
	verdict := leakguard.Verdict{}
	count := map[string]int{}
	for _, dir := range dirs {
		files, err := pprofile.Open(groups[dir], opts...)
		if err != nil {
			fmt.Fprintf(stderr, "leakguard analyze: replica %s: %v\n", dir, skipHint(tooLarge(err)))
			return exitUsage
		}
		for _, e := range files.Skipped() {
			fmt.Fprintln(stderr, "leakguard analyze: skipped:", e)
			skipped = append(skipped, e.Error())
		}
		samples := files.Samples()
		span := samples[len(samples)-1].Time.Sub(samples[0].Time)
		det, err := out.detector(span, len(samples), len(dirs))
		if err != nil {
			fmt.Fprintln(stderr, "leakguard analyze:", err)
			return exitUsage
		}
		for _, s := range samples {
			det.Observe(s)
		}
		det.Conclude()
		profiles += len(samples)
		repeated += files.Repeated()
		undated += files.Undated()
		if first := samples[0].Time; start.IsZero() || first.Before(start) {
			start = first
		}
		if last := samples[len(samples)-1].Time; last.After(end) {
			end = last
		}
		suspects = append(suspects, det.Suspects()...)
		v := det.Verdict()
		if v.Inconclusive && !verdict.Inconclusive {
			verdict = v
		} else if verdict.Horizon == 0 {
			verdict.Horizon = v.Horizon
		}
		if !verdict.Inconclusive && v.AlertNeeds > verdict.AlertNeeds {
			// Replicas' limits differ with their profiles: report the
			// weakest.
			verdict.AlertNeeds, verdict.SuspectNeeds, verdict.SampleRate = v.AlertNeeds, v.SuspectNeeds, v.SampleRate
		}
		for _, a := range det.Flagged() {
			sig := stackSignature(a)
			count[sig]++
			if b, ok := best[sig]; !ok || a.Severity > b.Severity || (a.Severity == b.Severity && a.Confidence > b.Confidence) {
				best[sig] = a
			}
		}
	}
	rep := reportOf(slices.Collect(maps.Values(best)), count, profiles, start, end, out.top)
	rep.Replicas = len(dirs)
	rep.withVerdict(verdict, suspects, out.top)
	rep.horizonShare = out.horizon.fraction
	rep.Repeated = repeated
	rep.Undated = undated
	rep.Skipped = skipped
	return emit(rep, out, stdout, stderr)
}

// profilesByDir groups the files named by paths (directories are walked)
// by the directory that holds them.
func profilesByDir(paths []string) (map[string][]string, error) {
	groups := map[string][]string{}
	for _, p := range paths {
		found := 0
		err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				found++
				dir := filepath.Dir(path)
				groups[dir] = append(groups[dir], path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if found == 0 {
			return nil, fmt.Errorf("no profiles in %s: the directory holds no files", p)
		}
	}
	return groups, nil
}

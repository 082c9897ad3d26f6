package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/leakguard/leakguard/sampler/pprofile"
)

func runAnalyze(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("analyze", flag.ContinueOnError)
	var out outputFlags
	out.register(fs)
	skipBad := fs.Bool("skip-bad", false, "skip files that are not valid heap profiles instead of failing")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: leakguard analyze [flags] PATH...\n\nPATH is a pprof heap profile (gzipped or not) or a directory of them;\nthe series is ordered by each profile's own timestamp.\n\nflags:")
		fs.PrintDefaults()
	}
	if !parseFlags(fs, args, stderr) {
		return exitUsage
	}
	if err := out.validate(); err != nil {
		fmt.Fprintln(stderr, "leakguard analyze:", err)
		return exitUsage
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitUsage
	}
	opts := []pprofile.FilesOption{pprofile.WithSampleType(pprofile.SampleType(out.sampleType))}
	if *skipBad {
		opts = append(opts, pprofile.SkipBad())
	}
	files, err := pprofile.Open(fs.Args(), opts...)
	if err != nil {
		fmt.Fprintln(stderr, "leakguard analyze:", err)
		return exitUsage
	}
	for _, e := range files.Skipped() {
		fmt.Fprintln(stderr, "leakguard analyze: skipped:", e)
	}
	det, err := out.detector()
	if err != nil {
		fmt.Fprintln(stderr, "leakguard analyze:", err)
		return exitUsage
	}
	// One profile at a time, as a live run would see them: detection
	// indices never use hindsight.
	for _, s := range files.Samples() {
		det.Observe(s)
	}
	samples := files.Samples()
	rep := buildReport(det, len(samples), samples[0].Time, samples[len(samples)-1].Time, out.top)
	for _, e := range files.Skipped() {
		rep.Skipped = append(rep.Skipped, e.Error())
	}
	return emit(rep, det, &out, stdout, stderr)
}

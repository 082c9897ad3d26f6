package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/sampler/pprofile"
)

// outputFlags are shared by every subcommand that reports.
type outputFlags struct {
	sampleType string
	confidence float64
	format     string
	html       string
	top        int
	window     int
}

func (o *outputFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&o.sampleType, "sample-type", "inuse_space", "series to test: inuse_space or inuse_objects")
	fs.Float64Var(&o.confidence, "confidence", leakguard.DefaultAlertConfidence, "confidence for an alert (the family-wise false-alarm probability is 1 minus this)")
	fs.StringVar(&o.format, "format", "text", "output format: text or json")
	fs.StringVar(&o.html, "html", "", "also write a self-contained HTML report to this file")
	fs.IntVar(&o.top, "top", 0, "report at most this many stacks (0: all)")
	fs.IntVar(&o.window, "window", leakguard.DefaultWindow, "persistence window in profiles (the longest warm-up tolerated is about half of it)")
}

func (o *outputFlags) validate() error {
	if o.sampleType != string(pprofile.InUseSpace) && o.sampleType != string(pprofile.InUseObjects) {
		return fmt.Errorf("--sample-type %q: want inuse_space or inuse_objects", o.sampleType)
	}
	if o.format != "text" && o.format != "json" {
		return fmt.Errorf("--format %q: want text or json", o.format)
	}
	if !(o.confidence > 0 && o.confidence < 1) {
		return fmt.Errorf("--confidence %v: must be in (0, 1)", o.confidence)
	}
	if o.top < 0 {
		return fmt.Errorf("--top %d: must not be negative", o.top)
	}
	return nil
}

func (o *outputFlags) detector() (*leakguard.Detector, error) {
	warn := min(leakguard.DefaultWarningConfidence, o.confidence)
	return leakguard.NewDetector(leakguard.WithConfidence(warn, o.confidence), leakguard.WithWindow(o.window))
}

// parseFlags parses args, printing errors; ok is false on a usage error or
// -h.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) bool {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			return false
		}
		return false
	}
	return true
}

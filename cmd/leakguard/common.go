package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

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
	horizon    horizonFlag
}

// horizonFlag is --horizon: a fraction of a stored series' span (analyze,
// default 0.4) or a duration (watch and attach, default the library's).
type horizonFlag struct {
	fraction float64
	duration time.Duration
}

func (h *horizonFlag) String() string {
	if h.duration > 0 {
		return h.duration.String()
	}
	return strconv.FormatFloat(h.fraction, 'g', -1, 64)
}

func (h *horizonFlag) Set(v string) error {
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if !(f > 0 && f < 1) {
			return fmt.Errorf("a fraction of the series must be in (0, 1)")
		}
		h.fraction, h.duration = f, 0
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < time.Millisecond {
		return fmt.Errorf("want a fraction of the series such as 0.4 or a duration such as 10m")
	}
	h.fraction, h.duration = 0, d
	return nil
}

// of returns the horizon for a series spanning span (0 when the span is not
// known in advance, as when watching live).
func (h *horizonFlag) of(span time.Duration) time.Duration {
	if h.duration > 0 {
		return h.duration
	}
	if span > 0 && h.fraction > 0 {
		return max(time.Millisecond, time.Duration(h.fraction*float64(span)))
	}
	return leakguard.DefaultHorizon
}

func (o *outputFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&o.sampleType, "sample-type", "inuse_space", "series to test: inuse_space or inuse_objects")
	fs.Float64Var(&o.confidence, "confidence", leakguard.DefaultAlertConfidence, "confidence for an alert (the family-wise false-alarm probability is 1 minus this)")
	fs.StringVar(&o.format, "format", "text", "output format: text or json")
	fs.StringVar(&o.html, "html", "", "also write a self-contained HTML report to this file")
	fs.IntVar(&o.top, "top", 0, "report at most this many stacks (0: all)")
	o.horizon = horizonFlag{fraction: 0.4}
	fs.Var(&o.horizon, "horizon", "how long growth must persist to be a leak: a fraction of a stored series' span (default 0.4: growth that stops within the first 40 % is benign) or a duration (watch, attach: default "+leakguard.DefaultHorizon.String()+")")
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

// detector returns a Detector for a series spanning span (0 when live).
func (o *outputFlags) detector(span time.Duration) (*leakguard.Detector, error) {
	warn := min(leakguard.DefaultWarningConfidence, o.confidence)
	return leakguard.NewDetector(leakguard.WithConfidence(warn, o.confidence), leakguard.WithHorizon(o.horizon.of(span)))
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

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/storedseries"
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
	return storedseries.Horizon(h.fraction, span)
}

func (o *outputFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&o.sampleType, "sample-type", "inuse_space", "series to test: inuse_space or inuse_objects (goroutine profiles: stack bytes or goroutine count)")
	fs.Float64Var(&o.confidence, "confidence", leakguard.DefaultAlertConfidence, "confidence for an alert (the family-wise false-alarm probability is 1 minus this)")
	fs.StringVar(&o.format, "format", "text", "output format: text or json")
	fs.StringVar(&o.html, "html", "", "also write a self-contained HTML report to this file")
	fs.IntVar(&o.top, "top", 0, "report at most this many stacks (0: all)")
	o.horizon = horizonFlag{fraction: storedseries.DefaultShare}
	fs.Var(&o.horizon, "horizon", "how long growth must persist to be a leak: a fraction of a stored series' span (default 0.4: growth that stops within the first 40 % is benign) or a duration (watch, attach, run: default "+leakguard.DefaultHorizon.String()+")")
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

// detector returns a Detector for a series of profiles spanning span (0
// and 0 when live), one of replicas whose detectors share the error budget
// (Bonferroni: each runs at α/replicas, so the family-wise guarantee covers
// them all).
func (o *outputFlags) detector(span time.Duration, profiles, replicas int) (*leakguard.Detector, error) {
	r := float64(max(replicas, 1))
	warn := 1 - (1-min(leakguard.DefaultWarningConfidence, o.confidence))/r
	alert := 1 - (1-o.confidence)/r
	opts := []leakguard.Option{leakguard.WithConfidence(warn, alert), leakguard.WithHorizon(o.horizon.of(span))}
	if span > 0 {
		// A stored series ends: three quarters of the budget for its last look, and a
		// block per profile.
		opts = append(opts, leakguard.WithSeries(profiles))
	}
	return leakguard.NewDetector(opts...)
}

// parseArgs parses args with flags allowed before, between and after the
// positional arguments (`watch URL --html r.html`); "--" ends the flags.
// It returns the positional arguments, or ok false with the exit status:
// 0 after printing the help on stdout for -h/--help, 2 after naming the
// problem on stderr.
func parseArgs(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (pos []string, code int, ok bool) {
	// The flag package prints its errors and the usage to one writer;
	// the help goes to stdout and an error to stderr, so both are printed
	// here instead.
	fs.SetOutput(io.Discard)
	defer fs.SetOutput(stderr)
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return nil, exitClean, false
		}
		if err != nil {
			fmt.Fprintf(stderr, "leakguard %s: %v\nRun 'leakguard help %[1]s' for its flags.\n", fs.Name(), err)
			return nil, exitUsage, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, 0, true
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), 0, true
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// byteSize is a flag.Value for a size in bytes: a plain number of bytes,
// or one with a unit (KiB, MiB, GiB; KB, MB, GB).
type byteSize int64

func (b *byteSize) String() string {
	n := int64(*b)
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

func (b *byteSize) Set(s string) error {
	units := []struct {
		suffix string
		size   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	num, mul := s, int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			num, mul = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.size
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mul {
		return errors.New("want a positive size such as 256MiB or 1GiB")
	}
	*b = byteSize(n * mul)
	return nil
}

// registerMaxSize adds --max-profile-size to fs.
func registerMaxSize(fs *flag.FlagSet) *byteSize {
	b := byteSize(pprofile.DefaultMaxProfileSize)
	fs.Var(&b, "max-profile-size", "refuse a profile larger than this `size` once decompressed (a number of bytes, or with KiB, MiB, GiB)")
	return &b
}

// tooLarge adds to a size-limit error how to accept the profile anyway.
func tooLarge(err error) error {
	if errors.Is(err, pprofile.ErrTooLarge) {
		return fmt.Errorf("%w (raise --max-profile-size to accept it)", err)
	}
	return err
}

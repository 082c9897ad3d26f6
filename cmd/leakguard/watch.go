package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/sampler"
	"github.com/leakguard/leakguard/sampler/pprofile"
)

func runWatch(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	var out outputFlags
	out.register(fs)
	var live liveFlags
	live.register(fs)
	timeout := fs.Duration("timeout", 30*time.Second, "timeout of one fetch")
	gc := fs.Bool("gc", false, "ask the server to run a GC before each profile (gc=1)")
	save := fs.String("save", "", "save every fetched profile in this directory")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: leakguard watch [flags] URL\n\nURL is a live heap profile endpoint, e.g. http://localhost:6060/debug/pprof/heap.\nStops on SIGINT/SIGTERM or after --duration.\n\nflags:")
		fs.PrintDefaults()
	}
	if !parseFlags(fs, args, stderr) {
		return exitUsage
	}
	if err := out.validate(); err != nil {
		fmt.Fprintln(stderr, "leakguard watch:", err)
		return exitUsage
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	if err := live.validate(); err != nil {
		fmt.Fprintln(stderr, "leakguard watch:", err)
		return exitUsage
	}
	opts := []pprofile.HTTPOption{pprofile.WithGC(*gc), pprofile.WithTimeout(*timeout), pprofile.WithHTTPSampleType(pprofile.SampleType(out.sampleType))}
	if *save != "" {
		opts = append(opts, pprofile.SaveTo(*save))
	}
	src, err := pprofile.NewHTTP(fs.Arg(0), opts...)
	if err != nil {
		fmt.Fprintln(stderr, "leakguard watch:", err)
		return exitUsage
	}
	defer src.Close()
	return live.run("watch", src, &out, nil, stdout, stderr)
}

// liveFlags are the flags of the commands that sample a live source.
type liveFlags struct {
	interval, duration time.Duration
	untilLeak          bool
}

func (l *liveFlags) register(fs *flag.FlagSet) {
	fs.DurationVar(&l.interval, "interval", 10*time.Second, "time between samples")
	fs.DurationVar(&l.duration, "duration", 0, "stop after this long (0: until interrupted or the source ends)")
	fs.BoolVar(&l.untilLeak, "until-leak", false, "stop as soon as a stack reaches alert severity (for canaries and CI)")
}

func (l *liveFlags) validate() error {
	if l.interval <= 0 || l.duration < 0 {
		return errors.New("--interval must be positive and --duration not negative")
	}
	return nil
}

// run samples src until SIGINT/SIGTERM, --duration, --until-leak or a final
// error, then reports. final may be nil.
func (l *liveFlags) run(cmd string, src sampler.Sampler, out *outputFlags, final func(error) bool, stdout, stderr io.Writer) int {
	det, err := out.detector(0)
	if err != nil {
		fmt.Fprintf(stderr, "leakguard %s: %v\n", cmd, err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if l.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.duration)
		defer cancel()
	}
	w := watcher{src: src, det: det, interval: l.interval, stdout: stdout, stderr: stderr,
		text: out.format == "text", untilLeak: l.untilLeak, final: final}
	w.loop(ctx)
	if w.profiles == 0 {
		fmt.Fprintf(stderr, "leakguard %s: no sample could be taken\n", cmd)
		return exitUsage
	}
	return emit(buildReport(det, w.profiles, w.first, w.last, out.top), out, stdout, stderr)
}

type watcher struct {
	src       sampler.Sampler
	det       *leakguard.Detector
	interval  time.Duration
	stdout    io.Writer
	stderr    io.Writer
	text      bool
	untilLeak bool
	// final reports errors after which fetching again is pointless (a
	// traced process that exited); nil: every error is retried.
	final       func(error) bool
	profiles    int
	first, last time.Time
}

// loop fetches until ctx ends. Failures back off exponentially (up to a
// minute, never below the interval) and are reported once per burst.
func (w *watcher) loop(ctx context.Context) {
	delay := time.Duration(0)
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		s, err := w.src.Sample(ctx)
		if err != nil && pprofile.IsSaveError(err) {
			fmt.Fprintln(w.stderr, "leakguard:", err)
			err = nil
		}
		switch {
		case errors.Is(err, sampler.ErrNoNewData):
			delay = w.interval
			continue
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			if w.final != nil && w.final(err) {
				fmt.Fprintln(w.stderr, "leakguard:", err)
				return
			}
			if failures == 0 {
				fmt.Fprintln(w.stderr, "leakguard:", err, "(retrying)")
			}
			failures++
			delay = min(w.interval<<min(failures, 6), max(time.Minute, w.interval))
			continue
		}
		if failures > 0 {
			fmt.Fprintf(w.stderr, "leakguard: sampling again after %d failures\n", failures)
			failures = 0
		}
		if w.profiles == 0 {
			w.first = s.Time
		}
		w.last = s.Time
		w.profiles++
		leak := false
		for _, a := range w.det.Observe(s) {
			if w.text {
				fmt.Fprintln(w.stdout, a)
			} else {
				fmt.Fprintln(w.stderr, a)
			}
			leak = leak || a.Severity == leakguard.SeverityAlert
		}
		if leak && w.untilLeak {
			return
		}
		delay = w.interval
	}
}

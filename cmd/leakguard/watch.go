package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
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
	gc := fs.Bool("gc", false, "ask the server to run a GC before each heap profile (gc=1)")
	save := fs.String("save", "", "save every fetched profile in this directory")
	maxSize := registerMaxSize(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: leakguard watch [flags] URL\n\nURL is a live heap or goroutine profile endpoint, e.g.\nhttp://localhost:6060/debug/pprof/heap or http://localhost:6060/debug/pprof/goroutine\n(the kind is told by the profile's sample types; goroutine leaks are reported\nper creation site). Progress goes to stderr. Stops on SIGINT/SIGTERM, after\n--duration, or after --give-up of continuous failure. A URL with seconds= (a\ndelta) is refused; a restart of the target starts every stack's history over;\na CPU profile, a delta or a new heap sampling rate stops the run at once.\n\nflags:")
		fs.PrintDefaults()
	}
	pos, code, ok := parseArgs(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if err := out.validate(); err != nil {
		fmt.Fprintln(stderr, "leakguard watch:", err)
		return exitUsage
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "leakguard watch: want one URL, got %s\n", countArgs(pos))
		fs.Usage()
		return exitUsage
	}
	if err := live.validate(); err != nil {
		fmt.Fprintln(stderr, "leakguard watch:", err)
		return exitUsage
	}
	opts := []pprofile.HTTPOption{pprofile.WithGC(*gc), pprofile.WithTimeout(*timeout),
		pprofile.WithHTTPSampleType(pprofile.SampleType(out.sampleType)), pprofile.WithHTTPMaxProfileSize(int64(*maxSize))}
	if *save != "" {
		opts = append(opts, pprofile.SaveTo(*save))
	}
	src, err := pprofile.NewHTTP(pos[0], opts...)
	if err != nil {
		fmt.Fprintln(stderr, "leakguard watch:", err)
		return exitUsage
	}
	defer src.Close()
	// An endpoint that serves a CPU profile or a delta, or whose process
	// changed its sampling rate, will not serve a usable profile by being
	// asked again: stop at once instead of retrying for --give-up. The run
	// did not end as asked, so no leak seen is not a clean bill.
	var broken bool
	final := func(err error) bool {
		broken = errors.Is(err, pprofile.ErrNotSupported) || errors.Is(err, pprofile.ErrDelta) || errors.Is(err, pprofile.ErrRateChanged)
		return broken
	}
	code = live.run("watch", src, &out, final, stdout, stderr)
	if broken && code != exitLeak {
		return exitUsage
	}
	return code
}

// countArgs describes the positional arguments given, for a usage error.
func countArgs(pos []string) string {
	switch len(pos) {
	case 0:
		return "none"
	case 1:
		return fmt.Sprintf("1: %q", pos[0])
	}
	return fmt.Sprintf("%d: %q", len(pos), pos)
}

// plural returns "1 thing" or "n things" ("es" after s, x, ch and sh:
// "2 fetches").
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	for _, end := range []string{"s", "x", "ch", "sh"} {
		if strings.HasSuffix(thing, end) {
			return fmt.Sprintf("%d %ses", n, thing)
		}
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// Defaults of the live-run flags.
const (
	defaultGiveUp   = 5 * time.Minute
	defaultProgress = 30 * time.Second
)

// liveFlags are the flags of the commands that sample a live source.
type liveFlags struct {
	interval, duration time.Duration
	giveUp, progress   time.Duration
	untilLeak          bool
}

func (l *liveFlags) register(fs *flag.FlagSet) {
	fs.DurationVar(&l.interval, "interval", 10*time.Second, "time between samples")
	fs.DurationVar(&l.duration, "duration", 0, "stop after this long (0: until interrupted or the source ends)")
	fs.BoolVar(&l.untilLeak, "until-leak", false, "stop as soon as a stack reaches alert severity (for canaries and CI)")
	fs.DurationVar(&l.giveUp, "give-up", defaultGiveUp, "stop when every sample has failed for this long (exit status 2 unless a leak was found)")
	fs.DurationVar(&l.progress, "progress", defaultProgress, "report progress on stderr at most this often (0: never)")
}

func (l *liveFlags) validate() error {
	switch {
	case l.interval <= 0:
		return fmt.Errorf("--interval %v: must be positive", l.interval)
	case l.duration < 0:
		return fmt.Errorf("--duration %v: must not be negative", l.duration)
	case l.giveUp <= 0:
		return fmt.Errorf("--give-up %v: must be positive", l.giveUp)
	case l.progress < 0:
		return fmt.Errorf("--progress %v: must not be negative", l.progress)
	}
	return nil
}

// run samples src until SIGINT/SIGTERM, --duration, --until-leak, --give-up
// or a final error, then reports. final may be nil.
func (l *liveFlags) run(cmd string, src sampler.Sampler, out *outputFlags, final func(error) bool, stdout, stderr io.Writer) int {
	det, err := out.detector(0, 0, 1)
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
	w := watcher{cmd: cmd, src: src, det: det, interval: l.interval, giveUp: l.giveUp, progress: l.progress,
		horizon: out.horizon.of(0), stdout: stdout, stderr: stderr,
		text: out.format == "text", untilLeak: l.untilLeak, final: final}
	w.loop(ctx)
	if w.profiles == 0 {
		if !w.gaveUp {
			fmt.Fprintf(stderr, "leakguard %s: no sample could be taken\n", cmd)
		}
		return exitUsage
	}
	code := emit(buildReport(det, w.profiles, w.first, w.last, out.top), out, stdout, stderr)
	if w.gaveUp && code != exitLeak {
		// The run did not end as asked: no leak seen is not a clean bill.
		return exitUsage
	}
	return code
}

type watcher struct {
	cmd       string
	src       sampler.Sampler
	det       *leakguard.Detector
	interval  time.Duration
	giveUp    time.Duration
	progress  time.Duration
	horizon   time.Duration
	stdout    io.Writer
	stderr    io.Writer
	text      bool
	untilLeak bool
	// final reports errors after which fetching again is pointless (a
	// traced process that exited); nil: every error is retried.
	final       func(error) bool
	profiles    int
	first, last time.Time
	gaveUp      bool
	epoch       uint64

	lastProgress time.Time
}

// say writes one progress line, at most once per --progress unless forced
// (the first profile: a user waits for it).
func (w *watcher) say(force bool, format string, args ...any) {
	now := time.Now()
	if w.progress == 0 || (!force && now.Sub(w.lastProgress) < w.progress) {
		return
	}
	w.lastProgress = now
	fmt.Fprintf(w.stderr, "leakguard %s: %s\n", w.cmd, fmt.Sprintf(format, args...))
}

// status says how far the run is: profiles taken, stacks tracked, and how
// much more history a first verdict needs.
func (w *watcher) status() string {
	s := fmt.Sprintf("%s, %s tracked", plural(w.profiles, "profile"), plural(w.det.Stats().Tracked, "stack"))
	if so := w.last.Sub(w.first); so <= w.horizon {
		s += fmt.Sprintf(" (a first verdict needs more than the %v horizon of history, %v so far)", w.horizon, so.Round(time.Second))
	}
	return s
}

// loop fetches until ctx ends. Failures back off exponentially (up to a
// minute, never below the interval); after --give-up of nothing but
// failures it stops.
func (w *watcher) loop(ctx context.Context) {
	delay := time.Duration(0)
	failures, idle := 0, 0
	var failingSince time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		s, err := w.src.Sample(ctx)
		if err != nil && errors.Is(err, pprofile.ErrNotSaved) {
			fmt.Fprintf(w.stderr, "leakguard %s: %v\n", w.cmd, err)
			err = nil
		}
		switch {
		case errors.Is(err, sampler.ErrNoNewData):
			idle++
			why := "nothing new since the last profile"
			if errors.Is(err, pprofile.ErrNoGC) {
				why = "no GC completed since the last profile"
			}
			w.say(false, "%s; waiting: %s (%s in a row)", w.status(), why, plural(idle, "fetch"))
			delay = w.interval
			continue
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, pprofile.ErrTooLarge) {
				// The refused profile left up to --max-profile-size of
				// garbage, and the GC would let the next fetch add as much
				// again before collecting: collect now, so that retrying
				// a hostile endpoint costs one cap, not two.
				runtime.GC()
			}
			err = tooLarge(err)
			if w.final != nil && w.final(err) {
				fmt.Fprintf(w.stderr, "leakguard %s: %v\n", w.cmd, err)
				return
			}
			now := time.Now()
			if failures == 0 {
				failingSince = now
				fmt.Fprintf(w.stderr, "leakguard %s: %v (retrying; giving up after %v of failures)\n", w.cmd, err, w.giveUp)
				w.lastProgress = now
			}
			failures++
			failing := now.Sub(failingSince)
			if failing >= w.giveUp {
				fmt.Fprintf(w.stderr, "leakguard %s: giving up: every sample failed for %v (%s); last error: %v\n",
					w.cmd, failing.Round(time.Millisecond), plural(failures, "attempt"), err)
				w.gaveUp = true
				return
			}
			w.say(false, "%s; still failing after %v (%s): %v", w.status(), failing.Round(time.Second), plural(failures, "attempt"), err)
			delay = min(w.interval<<min(failures, 6), max(time.Minute, w.interval), w.giveUp-failing)
			continue
		}
		if failures > 0 {
			fmt.Fprintf(w.stderr, "leakguard %s: sampling again after %s\n", w.cmd, plural(failures, "failure"))
			failures = 0
		}
		idle = 0
		if w.profiles == 0 {
			w.first = s.Time
		} else if s.Epoch != w.epoch {
			// The detector starts every series over at a new epoch.
			fmt.Fprintf(w.stderr, "leakguard %s: the target restarted (its allocations since it started fell): every stack's history starts over\n", w.cmd)
		}
		w.epoch = s.Epoch
		w.last = s.Time
		w.profiles++
		leak := false
		for _, a := range w.det.Observe(s) {
			if w.text {
				fmt.Fprintln(w.stdout, alertLine(a))
			} else {
				fmt.Fprintln(w.stderr, alertLine(a))
			}
			leak = leak || a.Severity == leakguard.SeverityAlert
		}
		w.say(w.profiles == 1, "%s", w.status())
		if leak && w.untilLeak {
			return
		}
		delay = w.interval
	}
}

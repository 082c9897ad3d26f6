package leakguard

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/leakguard/leakguard/sampler"
)

// Option configures a Guard or a Detector. Options are validated when they
// are applied: Start and NewDetector return the first option error, which
// names the option.
type Option func(*config) error

type config struct {
	interval      time.Duration
	warnConf      float64
	alertConf     float64
	maxStacks     int
	history       int
	levels        int
	window        int
	samplers      []sampler.Sampler
	callbacks     []func(Alert)
	logger        *slog.Logger
	queue         int
	sampleTimeout time.Duration
	plotPoints    int
	historySet    bool
	goroutines    bool
	reportEvery   time.Duration
	reportFn      func(Report)
	memRate       int
}

// Defaults. The window of 48 samples is the persistence requirement: growth
// must go on through 48 consecutive samples (at the finest resolution) to be
// called a leak, so a warm-up shorter than about 24 samples is never flagged,
// and a steady leak is found within about 60 samples.
const (
	DefaultInterval          = 10 * time.Second
	DefaultWarningConfidence = 0.95
	DefaultAlertConfidence   = 0.99
	DefaultMaxStacks         = 10000
	DefaultWindow            = 48
	DefaultLevels            = 4
	defaultQueue             = 64
)

func defaultConfig() config {
	return config{
		interval:   DefaultInterval,
		warnConf:   DefaultWarningConfidence,
		alertConf:  DefaultAlertConfidence,
		maxStacks:  DefaultMaxStacks,
		history:    DefaultWindow,
		levels:     DefaultLevels,
		window:     DefaultWindow,
		logger:     slog.Default(),
		queue:      defaultQueue,
		plotPoints: 128,
	}
}

func newConfig(opts []Option) (config, error) {
	c := defaultConfig()
	for _, o := range opts {
		if o == nil {
			return c, errors.New("leakguard: nil Option")
		}
		if err := o(&c); err != nil {
			return c, err
		}
	}
	if !c.historySet {
		c.history = c.window
	}
	if c.history < c.window {
		return c, fmt.Errorf("leakguard: WithHistory(%d) is shorter than WithWindow(%d): the history must hold a whole window", c.history, c.window)
	}
	if c.sampleTimeout == 0 {
		c.sampleTimeout = c.interval
	}
	return c, nil
}

// WithInterval sets how often the Guard samples (default 10 s). The runtime
// heap profile only changes when a garbage collection completes, so cycles
// with no new GC are skipped, not duplicated.
func WithInterval(d time.Duration) Option {
	return func(c *config) error {
		if d < time.Millisecond {
			return fmt.Errorf("leakguard: WithInterval(%v): interval must be at least 1ms", d)
		}
		c.interval = d
		return nil
	}
}

// WithConfidence sets the confidence at which a growing stack is reported
// as a warning and as an alert (defaults 0.95 and 0.99). The probability
// that any stack is ever falsely reported at a level, over the whole run, is
// at most one minus that level's confidence.
func WithConfidence(warning, alert float64) Option {
	return func(c *config) error {
		if !(warning > 0 && warning < 1) || !(alert > 0 && alert < 1) || math.IsNaN(warning) || math.IsNaN(alert) {
			return fmt.Errorf("leakguard: WithConfidence(%v, %v): confidences must be in (0, 1)", warning, alert)
		}
		if warning > alert {
			return fmt.Errorf("leakguard: WithConfidence(%v, %v): warning confidence must not exceed alert confidence", warning, alert)
		}
		c.warnConf, c.alertConf = warning, alert
		return nil
	}
}

// WithMaxStacks bounds the number of allocation stacks tracked per resource
// (default 10000). When more stacks appear, the least recently changed are
// forgotten; memory use is proportional to this bound whatever the host
// does.
func WithMaxStacks(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("leakguard: WithMaxStacks(%d): must be at least 1", n)
		}
		c.maxStacks = n
		return nil
	}
}

// WithHistory sets how many points each resolution level of a stack's
// history keeps (default: the window) and how many levels there are
// (default 4). Level k holds means of 2^k consecutive samples, so the
// history spans history·2^(levels−1) samples in O(history·levels) memory,
// and slow leaks become visible at the coarser levels.
func WithHistory(points, levels int) Option {
	return func(c *config) error {
		if points < 8 || points > 1<<16 {
			return fmt.Errorf("leakguard: WithHistory(%d, %d): points must be in [8, 65536]", points, levels)
		}
		if levels < 1 || levels > 16 {
			return fmt.Errorf("leakguard: WithHistory(%d, %d): levels must be in [1, 16]", points, levels)
		}
		c.history, c.levels, c.historySet = points, levels, true
		return nil
	}
}

// WithWindow sets the persistence window in samples (default 48): the number
// of consecutive points, at any one resolution, over which growth must
// persist before it counts as a leak. A larger window tolerates longer
// warm-ups and finds leaks later; a smaller one finds them sooner and calls
// shorter warm-ups leaks. This is the detector's one trade-off.
func WithWindow(samples int) Option {
	return func(c *config) error {
		if samples < 8 || samples > 1<<16 {
			return fmt.Errorf("leakguard: WithWindow(%d): must be in [8, 65536]", samples)
		}
		c.window = samples
		return nil
	}
}

// WithSampler replaces the default runtime heap sampler with the given
// samplers (for example the heap and goroutine samplers together). The
// Guard takes ownership and closes them on Stop.
func WithSampler(s ...sampler.Sampler) Option {
	return func(c *config) error {
		if len(s) == 0 {
			return errors.New("leakguard: WithSampler(): at least one sampler is required")
		}
		for i, x := range s {
			if x == nil {
				return fmt.Errorf("leakguard: WithSampler: sampler %d is nil", i)
			}
		}
		c.samplers = append([]sampler.Sampler(nil), s...)
		return nil
	}
}

// OnAlert registers a callback for alerts and warnings. Callbacks run on
// their own goroutine, one at a time, fed by a bounded queue: a slow
// callback never delays analysis (alerts that do not fit are dropped and
// counted), and a panicking callback is recovered and logged.
func OnAlert(fn func(Alert)) Option {
	return func(c *config) error {
		if fn == nil {
			return errors.New("leakguard: OnAlert(nil): callback is nil")
		}
		c.callbacks = append(c.callbacks, fn)
		return nil
	}
}

// WithLogger sets the logger for alerts and lifecycle events (default
// slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("leakguard: WithLogger(nil): logger is nil")
		}
		c.logger = l
		return nil
	}
}

// WithAlertQueue sets how many alerts may wait for the callbacks (default
// 64) before further alerts are dropped and counted.
func WithAlertQueue(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("leakguard: WithAlertQueue(%d): must be at least 1", n)
		}
		c.queue = n
		return nil
	}
}

// WithSampleTimeout bounds how long one sampler may take per cycle (default:
// the interval). A sampler that hangs costs one cycle, not the Guard.
func WithSampleTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("leakguard: WithSampleTimeout(%v): must be positive", d)
		}
		c.sampleTimeout = d
		return nil
	}
}

// WithGoroutines watches goroutines too: a goroutine sampler
// (sampler/goroutine) runs beside the default heap sampler, so alerts name
// creation sites whose goroutines accumulate (Alert.Resource is
// sampler.Goroutines). With WithSampler, add a goroutine sampler there
// instead.
func WithGoroutines() Option {
	return func(c *config) error {
		c.goroutines = true
		return nil
	}
}

// WithMemProfileRate sets runtime.MemProfileRate when Start runs: the
// runtime then records about one allocation per rate bytes in the heap
// profile leakguard reads (default 512 KiB). A lower rate finds slow leaks
// sooner — the README's Results measure 64 KiB against the default — at a
// small cost on the allocation path. The setting is process-wide, applies
// to allocations made from then on (set it as early in main as you can),
// and is not restored by Stop. Only Start applies it; a Detector reads
// whatever samples it is given.
func WithMemProfileRate(rate int) Option {
	return func(c *config) error {
		if rate < 1 {
			return fmt.Errorf("leakguard: WithMemProfileRate(%d): must be at least 1 (0 would turn heap profiling off)", rate)
		}
		c.memRate = rate
		return nil
	}
}

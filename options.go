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
	interval       time.Duration
	warnConf       float64
	alertConf      float64
	maxStacks      int
	history        int
	levels         int
	horizon        time.Duration
	memLimit       int64
	memLimitSet    bool
	suspectAlerts  bool
	finalLook      bool
	samplers       []sampler.Sampler
	callbacks      []func(Alert)
	logger         *slog.Logger
	queue          int
	sampleTimeout  time.Duration
	plotPoints     int
	historySet     bool
	seriesProfiles int
	goroutines     bool
	reportEvery    time.Duration
	reportFn       func(Report)
	memRate        int
	memRateSet     bool
	samplingBudget float64
}

// Defaults.
const (
	DefaultInterval          = 10 * time.Second
	DefaultWarningConfidence = 0.95
	DefaultAlertConfidence   = 0.99
	DefaultMaxStacks         = 10000
	// DefaultHorizon is how long growth must persist to be called a leak:
	// growth that stops within it (a cache filling, a pool reaching its
	// working size, a buffer growing to its high-water mark) is never an
	// alert. Ten minutes covers the warm-ups of common caches and pools at
	// a service's steady load; a service that warms up longer sets
	// WithHorizon. An alert needs a stack's history to span more than a
	// horizon, and a slow leak needs more.
	DefaultHorizon = 10 * time.Minute
	// DefaultHistory is the blocks each resolution level keeps per stack,
	// and DefaultLevels the number of levels: level k holds blocks of 2^k
	// samples, so the history spans 16·2^9 samples (a day at 10 s) in at
	// most 10·16 blocks of 12 bytes.
	DefaultHistory = 16
	DefaultLevels  = 10
	// DefaultMemProfileRate is the runtime.MemProfileRate Start sets when
	// the program left it at the runtime's default of 512 KiB, the rate
	// DefaultSamplingBudget gives: eight times the sampled objects per
	// leaked byte. The runtime samples by a geometric countdown in the
	// allocation path and records a stack only for the sampled
	// allocations; at 64 KiB that is one stack walk per 64 KiB allocated,
	// about 1.3–2.5 µs each (BenchmarkSampledAllocation in sampler/heap):
	// 0.3 % of one core for a service allocating 100 MB/s, 3 % for one
	// allocating 1 GB/s (see the README's measurements).
	DefaultMemProfileRate = 64 << 10
	defaultQueue          = 64
)

func defaultConfig() config {
	return config{
		interval:       DefaultInterval,
		warnConf:       DefaultWarningConfidence,
		samplingBudget: DefaultSamplingBudget,
		alertConf:      DefaultAlertConfidence,
		maxStacks:      DefaultMaxStacks,
		history:        DefaultHistory,
		levels:         DefaultLevels,
		horizon:        DefaultHorizon,
		logger:         slog.New(slog.DiscardHandler),
		queue:          defaultQueue,
		plotPoints:     128,
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
	if c.sampleTimeout == 0 {
		c.sampleTimeout = c.interval
	}
	if c.seriesProfiles > c.history && !c.historySet {
		c.history = min(c.seriesProfiles, MaxSeriesHistory)
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
// (default 10000). Once the bound is reached, a stack not yet tracked is
// admitted only when its live count rose above what it had when seen
// before — a leak grows, so it is admitted — and the least recently changed
// tracked stack is forgotten to make room; a process with many more live
// stacks than the bound does not replace its tracked stacks every cycle.
// Memory use is proportional to this bound whatever the host does.
func WithMaxStacks(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("leakguard: WithMaxStacks(%d): must be at least 1", n)
		}
		c.maxStacks = n
		return nil
	}
}

// WithHistory sets how many blocks each resolution level of a stack's
// history keeps (default DefaultHistory) and how many levels there are
// (default DefaultLevels). Level k holds blocks of 2^k consecutive samples
// (the live count at the block's end, its peak within the block, the
// cumulative births), so the history spans points·2^(levels−1) samples in
// O(points·levels) memory and slow leaks are tested at the coarser levels.
// More points give the tests a finer choice of where the horizon falls.
func WithHistory(points, levels int) Option {
	return func(c *config) error {
		if points < 8 || points > 1<<16 {
			return fmt.Errorf("leakguard: WithHistory(%d, %d): points must be in [8, 65536]", points, levels)
		}
		if levels < 1 || levels > 24 {
			return fmt.Errorf("leakguard: WithHistory(%d, %d): levels must be in [1, 24]", points, levels)
		}
		c.history, c.levels, c.historySet = points, levels, true
		return nil
	}
}

// WithHorizon sets how long growth must persist to be called a leak
// (default DefaultHorizon): the detector's one trade-off. Growth that stops
// within the horizon — a warm-up, a buffer reaching its high-water mark —
// is never an alert (at most a suspect while it grows); growth that goes on
// is alerted once a stack's history spans more than a horizon and holds
// enough sampled objects outside it. A longer horizon tolerates longer warm-ups
// and alerts later. A growth projected to reach the process's memory limit
// before the horizon ends is alerted early (WithMemoryLimit).
//
// A cache that approaches its size ever more slowly (keys of uniform
// popularity) keeps adding entries past any horizon: choose one by which
// it is 98 % full, or what it adds later may be alerted as growth.
//
// For a finite series (stored profiles), a horizon of 0.4 × the series'
// span keeps growth that stops within the first 40 % of it silent whatever
// the clock: the CLI's analyze does that.
func WithHorizon(d time.Duration) Option {
	return func(c *config) error {
		if d < time.Millisecond {
			return fmt.Errorf("leakguard: WithHorizon(%v): must be at least 1ms", d)
		}
		c.horizon = d
		return nil
	}
}

// WithMemoryLimit sets the memory limit, in bytes, against which a growing
// stack is projected (default: what Start finds — GOMEMLIMIT when set, else
// the cgroup's memory.max — and none for a Detector). A suspect whose
// growth, at the lower end of its 95 % interval, would fill the remaining
// headroom within the horizon is alerted at once instead of after the
// horizon. 0 turns the projection off.
func WithMemoryLimit(bytes int64) Option {
	return func(c *config) error {
		if bytes < 0 {
			return fmt.Errorf("leakguard: WithMemoryLimit(%d): must not be negative", bytes)
		}
		c.memLimit, c.memLimitSet = bytes, true
		return nil
	}
}

// WithFinalLook is for a Detector fed a finite series (stored profiles)
// that ends with Conclude: three quarters of the error budget are kept for
// that final look, on all the evidence, and the looks along the way, which
// only date a detection, share the rest. The final look then needs at most
// one sampled object more than a single test of every stack would (log2 of
// 4/3 bits); the ones before it, two bits more than without the option.
// WithSeries implies it.
func WithFinalLook() Option {
	return func(c *config) error {
		c.finalLook = true
		return nil
	}
}

// MaxSeriesHistory is the most blocks per level WithSeries gives a finite
// series: a longer one is tested at a coarser level, whose blocks are still
// a small fraction of its horizon.
const MaxSeriesHistory = 256

// WithSeries is for a Detector fed a finite series of the given number of
// profiles (stored profiles) that ends with Conclude. It implies
// WithFinalLook and, unless WithHistory says otherwise, keeps a block per
// profile (up to MaxSeriesHistory), so the persistence test places the
// horizon within a profile of where it falls instead of within a coarse
// block: it then counts all of the series but one horizon. The leakguard
// command's analyze uses it.
func WithSeries(profiles int) Option {
	return func(c *config) error {
		if profiles < 1 {
			return fmt.Errorf("leakguard: WithSeries(%d): profiles must be at least 1", profiles)
		}
		c.finalLook, c.seriesProfiles = true, profiles
		return nil
	}
}

// WithSuspectAlerts makes OnAlert callbacks receive suspects too (Severity
// SeveritySuspect), once per stack when it first becomes one. By default
// suspects are only reported (Report.Suspects, Detector.Suspects, the page):
// they are growth the evidence cannot yet confirm, and a callback that pages
// someone should not hear of them.
func WithSuspectAlerts() Option {
	return func(c *config) error {
		c.suspectAlerts = true
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

// WithLogger sets the logger for alerts and lifecycle events. By default
// leakguard logs nothing, as a library should: alerts reach OnAlert, and a
// service that wants them in its logs passes its logger here.
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
// profile leakguard reads. Without this option Start lowers the runtime's
// default of 512 KiB to the rate WithSamplingBudget chooses (by default
// DefaultMemProfileRate, 64 KiB: eight times the evidence per leaked byte,
// at a cost measured in the README) and leaves
// any other value — set by the program or GODEBUG=memprofilerate — alone;
// WithMemProfileRate(0) leaves the rate alone whatever it is. The setting
// is process-wide, applies to allocations made from then on (start the
// Guard as early in main as you can), and is not restored by Stop. Only
// Start applies it; a Detector reads whatever samples it is given.
func WithMemProfileRate(rate int) Option {
	return func(c *config) error {
		if rate < 0 {
			return fmt.Errorf("leakguard: WithMemProfileRate(%d): must be at least 1, or 0 to leave the rate alone", rate)
		}
		c.memRate, c.memRateSet = rate, true
		return nil
	}
}

package leakguard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leakguard/leakguard/sampler"
	"github.com/leakguard/leakguard/sampler/goroutine"
	"github.com/leakguard/leakguard/sampler/heap"
)

// stopGrace bounds how long Stop waits for a callback that does not return.
const stopGrace = 5 * time.Second

// Guard watches the running process in the background: every interval it
// takes a Sample from each sampler, feeds it to a Detector and hands
// escalations to the OnAlert callbacks.
type Guard struct {
	cfg      config
	samplers []sampler.Sampler

	mu  sync.Mutex // guards det
	det *Detector

	cancel   context.CancelFunc
	loopDone chan struct{}
	queue    chan Alert
	cbDone   chan struct{}
	stopOnce sync.Once
	stopErr  error
	inCB     atomic.Bool

	cycles        atomic.Uint64
	sampleErrors  atomic.Uint64
	noNewData     atomic.Uint64
	dropped       atomic.Uint64
	panics        atomic.Uint64
	lastCycle     atomic.Int64 // nanoseconds of CPU-side work in the last cycle
	selfBytes     atomic.Int64 // the Guard's own heap, as the newest heap profile measured it
	analysisNanos atomic.Uint64
	reportDone    chan struct{}
}

// Start begins watching the process with the given options and returns the
// running Guard. Without WithSampler it watches the Go heap through the
// runtime heap profile (sampler/heap). Stop the Guard when done.
func Start(opts ...Option) (*Guard, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.memRateSet && cfg.memRate > 0:
		runtime.MemProfileRate = cfg.memRate
	case !cfg.memRateSet && runtime.MemProfileRate == runtimeDefaultMemProfileRate:
		runtime.MemProfileRate = memProfileRateFor(cfg.samplingBudget)
	}
	if !cfg.memLimitSet {
		cfg.memLimit = memoryLimit()
	}
	samplers := cfg.samplers
	if len(samplers) == 0 {
		// A collection at most every six intervals when the runtime runs
		// none: as a leak grows the heap, collections grow rare, and the
		// heap profile only changes at one.
		h, err := heap.New(heap.WithLazyFrames(true), heap.WithChanges(true), heap.WithMaxGCAge(6*cfg.interval))
		if err != nil {
			return nil, fmt.Errorf("leakguard: starting the heap sampler: %w", err)
		}
		samplers = []sampler.Sampler{h}
		if cfg.goroutines {
			gs, err := goroutine.New()
			if err != nil {
				return nil, fmt.Errorf("leakguard: starting the goroutine sampler: %w", err)
			}
			samplers = append(samplers, gs)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &Guard{
		cfg:      cfg,
		samplers: samplers,
		det:      newDetector(cfg),
		cancel:   cancel,
		loopDone: make(chan struct{}),
		queue:    make(chan Alert, cfg.queue),
		cbDone:   make(chan struct{}),
	}
	go g.dispatch()
	go g.loop(ctx)
	if cfg.reportFn != nil {
		g.reportDone = make(chan struct{})
		go g.reports(ctx)
	}
	register(g)
	cfg.logger.Info("leakguard: started", "interval", cfg.interval, "samplers", len(samplers),
		"horizon", cfg.horizon, "alert_confidence", cfg.alertConf, "max_stacks", cfg.maxStacks)
	return g, nil
}

// Stop ends watching, waits for the analysis goroutine and the callbacks to
// finish, and closes the samplers. It is safe to call more than once and
// from several goroutines; every call returns the first call's result.
// Called from an OnAlert callback, it does not wait for that callback.
func (g *Guard) Stop() error {
	g.stopOnce.Do(func() {
		g.cancel()
		<-g.loopDone
		if g.reportDone != nil {
			<-g.reportDone
		}
		unregister(g)
		close(g.queue)
		var errs []error
		if !g.inCB.Load() {
			select {
			case <-g.cbDone:
			case <-time.After(stopGrace):
				errs = append(errs, fmt.Errorf("leakguard: an OnAlert callback did not return within %v", stopGrace))
			}
		}
		for _, s := range g.samplers {
			if err := s.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		g.stopErr = errors.Join(errs...)
		g.cfg.logger.Info("leakguard: stopped", "cycles", g.cycles.Load(), "alerts", len(g.Alerts()))
	})
	return g.stopErr
}

// reports calls the WithReportEvery function until the Guard stops.
func (g *Guard) reports(ctx context.Context) {
	defer close(g.reportDone)
	t := time.NewTicker(g.cfg.reportEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		func() {
			defer g.isolate("WithReportEvery")
			g.cfg.reportFn(g.Report())
		}()
	}
}

func (g *Guard) loop(ctx context.Context) {
	defer close(g.loopDone)
	t := time.NewTicker(g.cfg.interval)
	defer t.Stop()
	failing := make([]bool, len(g.samplers))
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		g.cycle(ctx, failing)
	}
}

// cycle samples every sampler once. A panic anywhere in it is recovered:
// the host must never pay for a bug in leakguard.
func (g *Guard) cycle(ctx context.Context, failing []bool) {
	defer func() {
		if r := recover(); r != nil {
			g.sampleErrors.Add(1)
			g.cfg.logger.Error("leakguard: recovered from panic in analysis", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	g.cycles.Add(1)
	for i, s := range g.samplers {
		sctx, cancel := context.WithTimeout(ctx, g.cfg.sampleTimeout)
		smp, err := s.Sample(sctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		switch {
		case errors.Is(err, sampler.ErrNoNewData):
			g.noNewData.Add(1)
			continue
		case err != nil:
			g.sampleErrors.Add(1)
			if !failing[i] {
				// Log once per burst of failures, not once per cycle.
				g.cfg.logger.Warn("leakguard: sampling failed", "resource", string(s.Resource()), "error", err)
			}
			failing[i] = true
			continue
		}
		if failing[i] {
			g.cfg.logger.Info("leakguard: sampling recovered", "resource", string(s.Resource()))
			failing[i] = false
		}
		start := time.Now()
		g.mu.Lock()
		raised := g.det.Observe(smp)
		g.mu.Unlock()
		if r, ok := s.(interface{ Release() }); ok {
			r.Release()
		}
		if m, ok := s.(interface{ SelfBytes() int64 }); ok {
			g.selfBytes.Store(m.SelfBytes())
		}
		took := time.Since(start)
		g.lastCycle.Store(int64(took))
		g.analysisNanos.Add(uint64(took))
		for _, a := range raised {
			g.log(a)
			select {
			case g.queue <- a:
			default:
				g.dropped.Add(1)
			}
		}
	}
}

func (g *Guard) log(a Alert) {
	level := slog.LevelWarn
	switch a.Severity {
	case SeveritySuspect:
		level = slog.LevelInfo
	case SeverityAlert:
		level = slog.LevelError
	}
	leaf := a.Leaf()
	g.cfg.logger.Log(context.Background(), level, "leakguard: "+a.Severity.String()+": memory growing",
		"resource", string(a.Resource),
		"confidence", a.Confidence,
		"pattern", string(a.Pattern),
		"growth_bytes_per_second", a.Evidence.GrowthBytesPerSecond,
		"inuse_bytes", a.Evidence.InUseBytes,
		slog.Group("stack", "function", leaf.Function, "file", leaf.File, "line", leaf.Line, "depth", len(a.Frames)),
	)
}

func (g *Guard) dispatch() {
	defer close(g.cbDone)
	for a := range g.queue {
		for _, fn := range g.cfg.callbacks {
			g.call(fn, a)
		}
	}
}

func (g *Guard) call(fn func(Alert), a Alert) {
	g.inCB.Store(true)
	defer g.inCB.Store(false)
	defer g.isolate("OnAlert")
	fn(a)
}

// isolate, deferred around a user callback, keeps its panic from reaching
// the host: counted and logged instead.
func (g *Guard) isolate(option string) {
	if r := recover(); r != nil {
		g.panics.Add(1)
		g.cfg.logger.Error("leakguard: "+option+" callback panicked", "panic", r)
	}
}

// Alerts returns every alert and warning raised so far, oldest first.
func (g *Guard) Alerts() []Alert {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.det.Alerts()
}

// Suspects returns the stacks whose growth the newest look found
// significant but not yet confirmed (Detector.Suspects), most confident
// first.
func (g *Guard) Suspects() []Alert {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.det.Suspects()
}

// Verdict reports what the Guard could decide so far (Detector.Verdict).
func (g *Guard) Verdict() Verdict {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.det.Verdict()
}

// Patterns returns a snapshot of every tracked stack, most suspicious first.
func (g *Guard) Patterns() []Pattern {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.det.Patterns()
}

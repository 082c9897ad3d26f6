package simulate

import (
	"math"
	"math/rand/v2"
)

// CountParams sets the scale of a generated count series: what a heap
// profile's evidence is, the sampled objects one stack holds and was born.
type CountParams struct {
	// N is the number of samples.
	N int
	// Interval is the mean time between samples, in seconds; the actual
	// gaps vary, as garbage collections do.
	Interval float64
	// Horizon is the persistence horizon in seconds: benign growth phases
	// (warm-ups, fills, ramps) last less than this.
	Horizon float64
	// Churn is the stationary number of live sampled objects from
	// short-lived allocations (0 for none).
	Churn float64
	// Rate is a leak's retained sampled objects per second (ignored by
	// benign shapes).
	Rate float64
}

// CountSeries is one stack's generated evidence.
type CountSeries struct {
	// Time holds the sample times in seconds, strictly increasing.
	Time []float64
	// Live is the live sampled object count and Born the cumulative
	// sampled births at each sample.
	Live, Born []int64
}

// CountShape is one labelled generator of count series.
type CountShape struct {
	// Name identifies the shape in tables.
	Name string
	// Leak is the label: true when the stack retains without bound.
	Leak bool
	// Gen generates a series of p.N samples.
	Gen func(r *rand.Rand, p CountParams) CountSeries
}

// Times returns n sample times with mean gap interval and gaps varying
// between half and one and a half of it.
func Times(r *rand.Rand, n int, interval float64) []float64 {
	t := make([]float64, n)
	now := 0.0
	for i := range t {
		now += interval * (0.5 + r.Float64())
		t[i] = now
	}
	return t
}

// pop is a population of live sampled objects, each with its death time.
type pop struct {
	r      *rand.Rand
	deaths []float64 // death times of live objects; +Inf for retained
	held   int64     // objects held by a buffer or cache, freed by the shape
	born   int64
}

func (p *pop) add(count int, life func() float64, now float64) {
	for range count {
		p.deaths = append(p.deaths, now+life())
		p.born++
	}
}

// advance kills every object whose death time passed.
func (p *pop) advance(now float64) {
	kept := p.deaths[:0]
	for _, d := range p.deaths {
		if d > now {
			kept = append(kept, d)
		}
	}
	p.deaths = kept
}

// churnStep adds the short-lived objects born in (prev, now]: Poisson
// births at rate mean/life per second, exponential lifetimes of mean life
// seconds, so that about mean are live at any time.
func (p *pop) churnStep(prev, now, mean, life float64) {
	if mean <= 0 {
		return
	}
	n := poisson(p.r, (now-prev)*mean/life)
	for range n {
		at := prev + (now-prev)*p.r.Float64()
		p.deaths = append(p.deaths, at+p.r.ExpFloat64()*life)
		p.born++
	}
}

// run drives a shape: each step, extra adds or kills objects between the
// previous and the current time.
func run(r *rand.Rand, p CountParams, extra func(pp *pop, i int, prev, now float64)) CountSeries {
	times := Times(r, p.N, p.Interval)
	pp := &pop{r: r}
	out := CountSeries{Time: times, Live: make([]int64, p.N), Born: make([]int64, p.N)}
	life := 3 * p.Interval
	// Start in the stationary state of the churn.
	pp.add(poisson(r, p.Churn), func() float64 { return r.ExpFloat64() * life }, 0)
	prev := 0.0
	for i, now := range times {
		pp.churnStep(prev, now, p.Churn, life)
		extra(pp, i, prev, now)
		pp.advance(now)
		out.Live[i] = int64(len(pp.deaths)) + pp.held
		out.Born[i] = pp.born
		prev = now
	}
	return out
}

func forever() float64 { return math.Inf(1) }

// batches is churn of requests, one per interval on average, each
// allocating batch objects that die together after an exponential life of
// mean life intervals.
func batches(r *rand.Rand, p CountParams, batch int, life float64) CountSeries {
	return run(r, p, func(pp *pop, _ int, prev, now float64) {
		for range poisson(r, (now-prev)/p.Interval) {
			dies := r.ExpFloat64() * life * p.Interval
			pp.add(batch, func() float64 { return dies }, prev+(now-prev)*r.Float64())
		}
	})
}

// CountBenign returns benign count shapes: stationary churn, bursty churn
// (small batches of objects born and freed together), batches of tens of
// sampled objects freed together, a cache filling within the horizon then
// replacing entries, a cache approaching its size exponentially, a buffer
// filling in chunks, sawtooth buffers that grow and are released, a
// one-time step, a pool that drifts back to its working size, and a load
// spike that drains.
func CountBenign() []CountShape {
	return []CountShape{
		{"churn", false, func(r *rand.Rand, p CountParams) CountSeries {
			return run(r, p, func(*pop, int, float64, float64) {})
		}},
		{"bursty-churn", false, func(r *rand.Rand, p CountParams) CountSeries {
			return batches(r, p, 2+r.IntN(12), 2)
		}},
		{"batch-churn", false, func(r *rand.Rand, p CountParams) CountSeries {
			// Batches of objects large enough to be sampled every one:
			// the live count moves in clumps, far from a Poisson count.
			batch := 10 + r.IntN(90)
			return batches(r, p, batch, 1+4*r.Float64())
		}},
		{"cache-warmup", false, func(r *rand.Rand, p CountParams) CountSeries {
			// Starts at any time and fills at a constant rate for up to 0.9
			// horizons, then each new entry evicts the oldest: births go on,
			// the size does not.
			fill := (0.1 + 0.8*r.Float64()) * p.Horizon
			size := int64(20 + r.IntN(300))
			start := r.Float64() * float64(p.N) * p.Interval
			rate := float64(size) / fill
			return run(r, p, func(pp *pop, _ int, prev, now float64) {
				if now < start {
					return
				}
				n := int64(poisson(r, (now-math.Max(prev, start))*rate))
				pp.born += n
				pp.held = min(size, pp.held+n)
			})
		}},
		{"cache-saturating", false, func(r *rand.Rand, p CountParams) CountSeries {
			// Uniformly popular keys: each request misses with the share
			// of keys not yet cached, so the cache approaches its size
			// exponentially, 99 % full within 0.9 horizons or sooner —
			// and a large cache keeps adding entries after that.
			size := 20 + r.Float64()*2000
			tau := (0.05 + 0.145*r.Float64()) * p.Horizon
			start := r.Float64() * float64(p.N) * p.Interval
			return SaturatingCache(r, p, size, tau, start)
		}},
		{"bounded-buffer", false, func(r *rand.Rand, p CountParams) CountSeries {
			chunks := 2 + r.IntN(6)
			chunk := 5 + r.IntN(40)
			every := 0.9 * p.Horizon / float64(chunks)
			added := 0
			return run(r, p, func(pp *pop, _ int, _, now float64) {
				for added < chunks && now >= float64(added+1)*every {
					pp.add(chunk, forever, now)
					added++
				}
			})
		}},
		{"sawtooth", false, func(r *rand.Rand, p CountParams) CountSeries {
			// A buffer grows for up to 0.9 horizons and is released whole.
			period := (0.1 + 0.8*r.Float64()) * p.Horizon
			rate := float64(10+r.IntN(200)) / period
			next := period * r.Float64()
			return run(r, p, func(pp *pop, _ int, prev, now float64) {
				if now >= next {
					pp.held = 0
					for now >= next {
						next += period
					}
				}
				n := int64(poisson(r, (now-prev)*rate))
				pp.born += n
				pp.held += n
			})
		}},
		{"one-time-step", false, func(r *rand.Rand, p CountParams) CountSeries {
			at := r.Float64() * float64(p.N) * p.Interval
			size := 10 + r.IntN(500)
			done := false
			return run(r, p, func(pp *pop, _ int, _, now float64) {
				if !done && now >= at {
					pp.add(size, forever, now)
					done = true
				}
			})
		}},
		{"pool-drift", false, func(r *rand.Rand, p CountParams) CountSeries {
			// A pool whose size wanders and is pulled back to its target.
			target := 20 + r.IntN(200)
			return run(r, p, func(pp *pop, _ int, prev, now float64) {
				live := len(pp.deaths)
				want := target + int(r.NormFloat64()*math.Sqrt(float64(target)))
				if live < want {
					pp.add(want-live, func() float64 { return r.ExpFloat64() * 5 * p.Interval }, now)
				}
			})
		}},
		{"spike-drain", false, func(r *rand.Rand, p CountParams) CountSeries {
			at := r.Float64() * float64(p.N) * p.Interval
			size := 50 + r.IntN(500)
			drain := (0.1 + 0.8*r.Float64()) * p.Horizon
			done := false
			return run(r, p, func(pp *pop, _ int, _, now float64) {
				if !done && now >= at {
					pp.add(size, func() float64 { return r.Float64() * drain }, now)
					done = true
				}
			})
		}},
	}
}

// SaturatingCache is a cache of uniformly popular keys from time start on:
// each request misses with the share of keys not yet cached, so the cache
// approaches size sampled objects exponentially with time constant tau
// seconds, keeping everything it adds.
func SaturatingCache(r *rand.Rand, p CountParams, size, tau, start float64) CountSeries {
	return run(r, p, func(pp *pop, _ int, prev, now float64) {
		if now < start {
			return
		}
		dt := now - math.Max(prev, start)
		n := int64(poisson(r, dt*(size-float64(pp.held))/tau))
		pp.born += n
		pp.held += n
	})
}

// CountLeaks returns leaking count shapes: pure retention from the start,
// retention under churn, a leak that starts late, and a leak on a rare path
// (retaining in occasional batches).
func CountLeaks() []CountShape {
	return []CountShape{
		{"retain", true, func(r *rand.Rand, p CountParams) CountSeries {
			return run(r, p, func(pp *pop, _ int, prev, now float64) {
				pp.add(poisson(r, (now-prev)*p.Rate), forever, now)
			})
		}},
		{"retain-under-churn", true, func(r *rand.Rand, p CountParams) CountSeries {
			q := p
			if q.Churn == 0 {
				q.Churn = 50
			}
			return run(r, q, func(pp *pop, _ int, prev, now float64) {
				pp.add(poisson(r, (now-prev)*p.Rate), forever, now)
			})
		}},
		{"late-start", true, func(r *rand.Rand, p CountParams) CountSeries {
			start := 0.3 * float64(p.N) * p.Interval
			return run(r, p, func(pp *pop, _ int, prev, now float64) {
				if now > start {
					pp.add(poisson(r, (now-math.Max(prev, start))*p.Rate*10/7), forever, now)
				}
			})
		}},
		{"rare-path", true, func(r *rand.Rand, p CountParams) CountSeries {
			batch := 4
			return run(r, p, func(pp *pop, _ int, prev, now float64) {
				pp.add(batch*poisson(r, (now-prev)*p.Rate/float64(batch)), forever, now)
			})
		}},
	}
}

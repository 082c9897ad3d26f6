// Package simulate generates labelled synthetic in-use series — benign
// look-alikes and leaks of every shape leakguard must tell apart — for the
// detector's false-alarm and power simulations and for the evaluation suite.
//
// Shapes are described relative to a noise level σ (the standard deviation
// of one sample's measurement noise) and, for the benign warm-up shapes, to
// a tolerated duration: warm-ups, steps and spikes complete within Settle
// samples, which callers set to what the detector promises to tolerate.
package simulate

import (
	"math"
	"math/rand/v2"
)

// Params sets the scale of a generated series.
type Params struct {
	// N is the number of samples.
	N int
	// Base is the in-use level at the start, in bytes.
	Base float64
	// Sigma is the standard deviation of per-sample measurement noise.
	Sigma float64
	// Rate is a leak's mean growth per sample, in bytes (ignored by benign
	// shapes).
	Rate float64
	// Settle bounds, in samples, how long a benign shape keeps growing
	// (warm-up, fill, saturation, drain) before it levels off.
	Settle int
}

// Shape is one labelled series generator.
type Shape struct {
	// Name identifies the shape in tables.
	Name string
	// Leak is the label: true when the series grows without bound.
	Leak bool
	// Gen fills a series of p.N samples.
	Gen func(r *rand.Rand, p Params) []float64
}

// Benign returns the benign look-alikes: flat noise, autocorrelated noise, a
// cache warming to a plateau, a bounded buffer filling, sawtooth
// grow-and-release, a one-time step, growth decelerating to saturation, a
// mean-reverting pool, periodic grow/shrink, a load spike that drains, and
// coarse sampling noise.
func Benign() []Shape {
	return []Shape{
		{"flat", false, func(r *rand.Rand, p Params) []float64 {
			return build(r, p, func(int) float64 { return 0 }, white)
		}},
		{"ar1-noise", false, func(r *rand.Rand, p Params) []float64 {
			return build(r, p, func(int) float64 { return 0 }, ar1(0.8))
		}},
		{"cache-warmup", false, func(r *rand.Rand, p Params) []float64 {
			// Linear fill that stops at a random point within Settle.
			stop := 1 + r.IntN(max(1, p.Settle))
			size := 40 * p.Sigma * (0.5 + r.Float64())
			return build(r, p, func(i int) float64 { return size * math.Min(1, float64(i)/float64(stop)) }, white)
		}},
		{"bounded-buffer", false, func(r *rand.Rand, p Params) []float64 {
			// A ring buffer fills in quantised chunks, then stays full.
			chunks := 2 + r.IntN(8)
			chunk := 10 * p.Sigma
			every := max(1, p.Settle/chunks)
			return build(r, p, func(i int) float64 { return chunk * math.Min(float64(chunks), float64(i/every)) }, white)
		}},
		{"sawtooth", false, func(r *rand.Rand, p Params) []float64 {
			period := 5 + r.IntN(30)
			amp := 30 * p.Sigma * (0.5 + r.Float64())
			phase := r.IntN(period)
			return build(r, p, func(i int) float64 { return amp * float64((i+phase)%period) / float64(period) }, white)
		}},
		{"one-time-step", false, func(r *rand.Rand, p Params) []float64 {
			at := r.IntN(p.N)
			size := 50 * p.Sigma * (0.5 + r.Float64())
			return build(r, p, func(i int) float64 {
				if i >= at {
					return size
				}
				return 0
			}, white)
		}},
		{"saturating", false, func(r *rand.Rand, p Params) []float64 {
			// Exponential approach: 95 % of the way within Settle samples.
			tau := float64(max(1, p.Settle)) / 3 * (0.3 + 0.7*r.Float64())
			size := 60 * p.Sigma
			return build(r, p, func(i int) float64 { return size * (1 - math.Exp(-float64(i)/tau)) }, white)
		}},
		{"mean-reverting-pool", false, func(r *rand.Rand, p Params) []float64 {
			return build(r, p, func(int) float64 { return 0 }, ar1(0.95))
		}},
		{"periodic", false, func(r *rand.Rand, p Params) []float64 {
			period := 8 + r.Float64()*60
			amp := 20 * p.Sigma * (0.5 + r.Float64())
			ph := r.Float64() * 2 * math.Pi
			return build(r, p, func(i int) float64 { return amp * math.Sin(2*math.Pi*float64(i)/period+ph) }, white)
		}},
		{"spike-drain", false, func(r *rand.Rand, p Params) []float64 {
			at := r.IntN(p.N)
			size := 80 * p.Sigma
			tau := float64(max(1, p.Settle)) / 6
			return build(r, p, func(i int) float64 {
				if i < at {
					return 0
				}
				return size * math.Exp(-float64(i-at)/tau)
			}, white)
		}},
		{"quantised-sampling", false, func(r *rand.Rand, p Params) []float64 {
			// A heap profile counts sampled objects: Poisson counts of
			// Sigma-sized units around a fixed level.
			lambda := 4 + 20*r.Float64()
			y := make([]float64, p.N)
			for i := range y {
				y[i] = p.Base + p.Sigma*float64(poisson(r, lambda))
			}
			return y
		}},
	}
}

// Leaks returns the leak shapes: steady, accelerating, bursty retained
// steps, periodic with drift, conditional (rare path), slow under heavy
// churn, starting late, and many small versus few large objects.
func Leaks() []Shape {
	return []Shape{
		{"steady", true, func(r *rand.Rand, p Params) []float64 {
			return build(r, p, func(i int) float64 { return p.Rate * float64(i) }, white)
		}},
		{"accelerating", true, func(r *rand.Rand, p Params) []float64 {
			// Same mean rate over the series, but quadratic.
			return build(r, p, func(i int) float64 { return p.Rate * float64(i) * float64(i) / float64(p.N) }, white)
		}},
		{"burst", true, func(r *rand.Rand, p Params) []float64 {
			// Retained steps arriving at random, each worth 8 samples of growth.
			return steps(r, p, 1.0/8)
		}},
		{"periodic-drift", true, func(r *rand.Rand, p Params) []float64 {
			period := 10 + r.IntN(20)
			amp := 10 * p.Sigma
			return build(r, p, func(i int) float64 {
				return p.Rate*float64(i) + amp*float64(i%period)/float64(period)
			}, white)
		}},
		{"conditional", true, func(r *rand.Rand, p Params) []float64 {
			// A rare path: one sample in ten retains ten samples' worth.
			return steps(r, p, 0.1)
		}},
		{"churn", true, func(r *rand.Rand, p Params) []float64 {
			// Slow retention under heavy churn: five times the noise.
			q := p
			q.Sigma *= 5
			return build(r, q, func(i int) float64 { return p.Rate * float64(i) }, white)
		}},
		{"late-start", true, func(r *rand.Rand, p Params) []float64 {
			at := p.N / 3
			return build(r, p, func(i int) float64 { return p.Rate * float64(max(0, i-at)) * 1.5 }, white)
		}},
		{"few-large", true, func(r *rand.Rand, p Params) []float64 {
			// Large objects: growth arrives in units of 4 samples' worth.
			return steps(r, p, 0.25)
		}},
	}
}

// build adds noise to a deterministic shape on top of Base.
func build(r *rand.Rand, p Params, shape func(int) float64, noise func(*rand.Rand, float64) func() float64) []float64 {
	y := make([]float64, p.N)
	next := noise(r, p.Sigma)
	for i := range y {
		y[i] = math.Max(0, p.Base+shape(i)+next())
	}
	return y
}

// steps is a compound-Bernoulli leak: each sample retains a step of
// p.Rate/prob with probability prob, so the mean growth is p.Rate per sample
// however lumpy it is.
func steps(r *rand.Rand, p Params, prob float64) []float64 {
	y := make([]float64, p.N)
	level := p.Base
	step := p.Rate / prob
	for i := range y {
		if r.Float64() < prob {
			level += step
		}
		y[i] = math.Max(0, level+p.Sigma*r.NormFloat64())
	}
	return y
}

func white(r *rand.Rand, sigma float64) func() float64 {
	return func() float64 { return sigma * r.NormFloat64() }
}

// ar1 returns AR(1) noise with lag-1 correlation rho and marginal
// standard deviation sigma.
func ar1(rho float64) func(*rand.Rand, float64) func() float64 {
	return func(r *rand.Rand, sigma float64) func() float64 {
		e := sigma * r.NormFloat64()
		inno := sigma * math.Sqrt(1-rho*rho)
		return func() float64 {
			e = rho*e + inno*r.NormFloat64()
			return e
		}
	}
}

// poisson draws a Poisson variate by inversion (small means only).
func poisson(r *rand.Rand, lambda float64) int {
	l := math.Exp(-lambda)
	k, p := 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

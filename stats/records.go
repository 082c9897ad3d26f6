package stats

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// NewHighs is the evidence that an object which is replaced from time to
// time keeps growing — a slice appended to forever, whose backing array is
// reallocated larger at each growth: Count of the objects that replaced it
// between two times t1 < t2 were larger than every one before, where t0
// ≤ t1 is when the series of objects started.
//
// The null is a stationary demand: a buffer reused and grown whenever a
// request needs more than it holds, or objects of exchangeable sizes. Its
// new highs are records of that demand, and the i-th request since t0 sets
// one with probability 1/i whatever the distribution of sizes (Rényi's
// record theorem); at a steady request rate the records between t1 and t2
// are a sum of independent Bernoulli trials whose mean is at most
// Expected = ln((t2−t0)/(t1−t0)), and such a sum's upper tail beyond its
// mean plus one is at most that of a Poisson count of the same mean
// (Hoeffding; Anderson and Samuels). A buffer grown only to the demand's
// high-water mark therefore sets about one new high per e-fold of its age,
// a slice that leaks about 4.5 (Go grows a large slice by a quarter at each
// reallocation, and the size of a leak grows with time). Starting t0 later
// than the series truly began only raises Expected: the test stays valid
// when the start is not seen.
type NewHighs struct {
	// Count is how many replacements between t1 and t2 set a new high.
	Count int
	// Expected is ln((t2−t0)/(t1−t0)), the null's bound on their mean.
	Expected float64
}

// P is the one-sided p-value of Count under the stationary-demand null:
// P(Poisson(Expected) ≥ Count), or 1 where the Poisson bound does not
// apply (Count below Expected + 1).
func (h NewHighs) P() float64 {
	if h.Count <= 0 || !(h.Expected > 0) || float64(h.Count) < h.Expected+1 {
		return 1
	}
	return distuv.Poisson{Lambda: h.Expected}.Survival(float64(h.Count - 1))
}

// MinP is the smallest p-value seen replacements could give, every one of
// them a new high. Like Rise.MinP it depends on what was observed, not on
// the sizes tested, which is what Tarone's correction needs.
func (h NewHighs) MinP(seen int) float64 {
	return NewHighs{Count: seen, Expected: h.Expected}.P()
}

// NewHighsNeeded is the smallest number of new highs that would be
// significant at level given the null's expected count: what a report
// says is missing.
func NewHighsNeeded(expected, level float64) int {
	if !(level > 0) || level >= 1 || !(expected > 0) {
		return 1
	}
	k := int(math.Ceil(expected + 1))
	for (NewHighs{Count: k, Expected: expected}).P() > level {
		k++
	}
	return k
}

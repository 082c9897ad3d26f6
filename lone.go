package leakguard

import (
	"math"

	"github.com/leakguard/leakguard/stats"
	"github.com/leakguard/leakguard/storage"
)

// A lone stack holds one object at a time: a slice or a buffer reallocated
// as it grows, each new backing array replacing the last. Its count never
// rises, so the count tests cannot see it grow however large it gets; its
// evidence is the sizes of the objects born to replace one another, and
// how often one of them is the largest yet (stats.NewHighs). A buffer
// grown to a stationary demand's high-water mark sets new highs ever more
// rarely, about one per e-fold of its age; a slice appended to forever
// sets one at every reallocation, each a quarter larger than the last.
// That evidence grows with the logarithm of time, too slowly to confirm a
// leak beyond the horizon within hours, so a lone stack can be a suspect,
// never an alert.

// loneLive is the most live sampled objects a lone stack shows: its object
// and the one that object replaced, whose free a heap profile accounts
// only a collection later.
const loneLive = 2

// isLone reports whether blocks held at most loneLive live sampled objects
// each: which test a stack gets is chosen from its counts, not from the
// sizes the lone test reads.
func isLone(b []storage.Count) bool {
	for _, x := range b {
		if x.Live > loneLive || x.Peak > loneLive {
			return false
		}
	}
	return true
}

// rose reports whether block i set a new high: the largest size born so
// far grew since the block before.
func rose(b []storage.Count, i int) bool {
	return i > 0 && b[i].Size > b[i-1].Size
}

// newHighsFrom is the share of a stack's age, from when it was first seen,
// after which the lone test counts new highs while the stack is younger
// than four horizons: the first quarter sets the sizes to beat, and the
// null expects ln 4 ≈ 1.4 new highs in the rest. An older stack's count
// starts one horizon after it was first seen, so that its evidence keeps
// growing with its age: about ln(age/horizon) new highs under the null,
// 4.5 times as many from a slice that leaks.
const newHighsFrom = 0.25

// loneSuspicion adds the suspect hypothesis of a lone stack that holds its
// object throughout the blocks it counts: more new highs since the start
// of its count than a stationary demand would set since the stack was
// first seen, the newest of them in the newer half of the level, and the
// newest births the largest yet — a buffer that grew during a warm-up and
// has been reused since is not still growing. It reports whether the
// stack is lone over the blocks it would count; one that is not gets the
// count tests. Blocks before those do not matter: a young slice's first
// arrays may still be live at a collection or two, and they set only the
// sizes to beat.
func (d *Detector) loneSuspicion(f *family, ser *series, level int, b []storage.Count, horizon float64) bool {
	n := len(b)
	last := n - 1
	if last < 0 || b[last].Live > loneLive {
		return false // most stacks, decided without a pass over the level
	}
	times := levelTimes(f, level, n)
	t0, end := ser.firstTime, times[last]
	from := max(times[0], t0+min(horizon, newHighsFrom*(end-t0)))
	counted := last + 1 // the first block counted
	for i := 1; i <= last; i++ {
		if times[i-1] >= from {
			counted = i
			break
		}
	}
	if !isLone(b[counted-1:]) {
		return false
	}
	highs, seen, newest, latest := 0, 0, -1, -1
	for i := counted; i <= last; i++ {
		if b[i].Live == 0 {
			// Not holding an object: short-lived objects that come and
			// go, which the count tests read.
			return true
		}
		if b[i].Born != b[i-1].Born {
			seen++
			latest = i
		}
		if rose(b, i) {
			highs++
			newest = i
		}
	}
	start := times[counted-1]
	if seen == 0 || !(start > t0) {
		return true
	}
	h := stats.NewHighs{Count: highs, Expected: math.Log((end - t0) / (start - t0))}
	c := candidate{
		ser: ser, kind: suspicion, level: level, p: h.P(), minP: h.MinP(seen),
		lone: true, highs: h, seen: seen, growFrom: start,
	}
	if newest <= last/2 || newest != latest {
		c.p = 1
	}
	d.cands = append(d.cands, c)
	return true
}

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

// isLone reports whether every block of a level held at most loneLive live
// sampled objects: which test a stack gets is chosen from its counts, not
// from the sizes the lone test reads.
func isLone(b []storage.Count) bool {
	for _, x := range b {
		if x.Live > loneLive || x.Peak > loneLive {
			return false
		}
	}
	return true
}

// replaced reports whether block i shows a new object's size: objects
// were born since the block before.
func replaced(b []storage.Count, i int) bool {
	return i > 0 && b[i].Born != b[i-1].Born && b[i].Size > 0
}

// newHighsFrom is the share of a level's span, from its first block, after
// which the lone test counts new highs: the first quarter sets the sizes
// to beat, and the null expects ln 4 ≈ 1.4 new highs in the rest.
const newHighsFrom = 0.25

// loneSuspicion adds the suspect hypothesis of a lone stack that holds its
// object through the newer three quarters of the level: more of the
// objects that replaced one another in the newer three quarters of the
// level were the largest yet than a stationary demand would set, the
// newer half alone sets more than it would at the uncorrected level
// continuing, and the newest object born is the largest yet — a buffer
// that grew during a warm-up and has been reused since is not still
// growing.
func (d *Detector) loneSuspicion(f *family, ser *series, level int, b []storage.Count) {
	n := len(b)
	last := n - 1
	times := levelTimes(f, level, n)
	t0 := times[0]
	from := t0 + newHighsFrom*(times[last]-t0)
	mid := t0 + (times[last]-t0)/2
	// The first block's size may be the mean of every birth before it (a
	// stack's first sample carries all its allocations so far): a mean is
	// easier to beat than the largest of the sizes it averages, so only
	// births within the level set the sizes to beat.
	var best uint32
	highs, seen, newest, latest := 0, 0, -1, -1
	newer := 0 // highs set in the newer half
	start, newerStart := -1.0, -1.0
	for i, x := range b {
		if i > 0 && times[i-1] >= from && x.Live == 0 {
			// Not holding an object: short-lived objects that come and
			// go, which the count tests read.
			return
		}
		if !replaced(b, i) {
			continue
		}
		latest = i
		if times[i-1] >= from {
			if start < 0 {
				start = times[i-1]
			}
			if newerStart < 0 && times[i-1] >= mid {
				newerStart = times[i-1]
			}
			seen++
			if x.Size > best {
				highs++
				newest = i
				if times[i-1] >= mid {
					newer++
				}
			}
		}
		best = max(best, x.Size)
	}
	if seen == 0 || !(start > t0) {
		return
	}
	h := stats.NewHighs{Count: highs, Expected: math.Log((times[last] - t0) / (start - t0))}
	c := candidate{
		ser: ser, kind: suspicion, level: level, p: h.P(), minP: h.MinP(seen),
		lone: true, highs: h, seen: seen, growFrom: start,
	}
	if newest <= last/2 || newest != latest {
		c.p = 1
	}
	// As for a count, the newer half must show growth of its own: a buffer
	// that met a few large requests early on is not still growing.
	if newerStart <= t0 || (stats.NewHighs{Count: newer, Expected: math.Log((times[last] - t0) / (newerStart - t0))}).P() > continuing {
		c.p = 1
	}
	d.cands = append(d.cands, c)
}

package leakguard

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/leakguard/leakguard/storage"
)

// TestPersistenceStatistic checks the persistence test on hand-built count
// series, 60 samples 1 s apart with a 24 s horizon (what analyze uses for
// such a series): growth confined to one horizon anywhere — a warm-up at
// the start, in the middle or at the end, a step, a sawtooth — leaves some
// placement of the window with nothing rising outside it, and growth that
// lasts longer than the horizon does not.
func TestPersistenceStatistic(t *testing.T) {
	const n, horizon = 60, 24.0
	clamp := func(x, lo, hi int) int { return max(lo, min(hi, x)) }
	cases := []struct {
		name string
		live func(i int) int // live sampled objects at sample i
		leak bool
		// retained is, for a leak, the fewest objects retained outside
		// any placement of the window: pure retention gives p = 2^−retained.
		retained int64
	}{
		// 59 s of retention, 25 of them inside the window: 1 s of it is
		// the window's placement within a sample.
		{"steady retention", func(i int) int { return i }, true, 34},
		{"retention at 1 per 4 s", func(i int) int { return i / 4 }, true, 7},
		{"growth for 1.25 horizons then flat", func(i int) int { return 5 * min(i, 30) }, true, 25},
		{"two warm-ups more than a horizon apart", func(i int) int { return 5*clamp(i, 0, 10) + 5*clamp(i-45, 0, 10) }, true, 50},
		{"warm-up at the start", func(i int) int { return 5 * min(i, 20) }, false, 0},
		{"warm-up in the middle", func(i int) int { return 5 * clamp(i-20, 0, 20) }, false, 0},
		{"warm-up at the end", func(i int) int { return 5 * max(0, i-40) }, false, 0},
		{"warm-up of a whole horizon", func(i int) int { return 5 * clamp(i-10, 0, 23) }, false, 0},
		{"one-time step", func(i int) int { return 100 * min(1, max(0, i-30)) }, false, 0},
		{"sawtooth", func(i int) int { return 10 * (i % 10) }, false, 0},
		{"flat", func(int) int { return 50 }, false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			times := make([]float64, n)
			blocks := make([]storage.Count, n)
			var born uint32
			prev := 0
			for i := range n {
				times[i] = float64(i)
				live := c.live(i)
				if live > prev {
					born += uint32(live - prev)
				}
				prev = live
				blocks[i] = storage.Count{Live: uint32(live), Born: born, Peak: uint32(live)}
			}
			d := newDetector(defaultConfig())
			f := &family{times: [][]float64{times}}
			d.persistence(f, &series{}, 0, blocks, horizon, dispersion(blocks, times))
			require.Len(t, d.cands, 1)
			got := d.cands[0]
			if c.leak {
				require.Equal(t, c.retained, got.rise, "retained outside the window")
				require.Equal(t, got.rise, got.events, "pure retention: every event a birth")
				require.InEpsilon(t, math.Exp2(-float64(c.retained)), got.p, 1e-9)
				require.LessOrEqual(t, got.minP, got.p)
			} else {
				require.Greater(t, got.p, 0.4, "growth within one horizon: rise %d over %d events", got.rise, got.events)
			}
		})
	}
}

// TestEventsAtStake checks the bound on the events that can move a live
// count, and the dispersion that scales it, on hand-built blocks.
func TestEventsAtStake(t *testing.T) {
	cases := []struct {
		name       string
		from, to   storage.Count
		dispersion float64
		want       int64
	}{
		{"churn that died between profiles", storage.Count{Live: 3, Born: 100}, storage.Count{Live: 5, Born: 1100}, 1, 8},
		{"clumpy churn counts more", storage.Count{Live: 3, Born: 100}, storage.Count{Live: 5, Born: 1100}, 10, 80},
		{"never more than the events", storage.Count{Live: 30, Born: 100}, storage.Count{Live: 40, Born: 110}, 1, 10},
		{"pure retention", storage.Count{Live: 10, Born: 10}, storage.Count{Live: 25, Born: 25}, 1, 15},
		{"unknown dispersion", storage.Count{Live: 3, Born: 100}, storage.Count{Live: 5, Born: 1100}, math.Inf(1), 1998},
		{"unknown dispersion, nothing live", storage.Count{Live: 0, Born: 100}, storage.Count{Live: 0, Born: 1100}, math.Inf(1), 2000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := eventsAtStake(c.from, c.to, c.dispersion)
			require.Equal(t, c.want, got)
			require.LessOrEqual(t, got, events(c.from, c.to))
		})
	}
}

// TestDispersion checks the live count's dispersion about its trend: about
// 1 for Poisson counts, about the batch size for counts that move in
// batches, 1 for a steady leak, large for a sawtooth.
func TestDispersion(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	const n = 200
	poisson := func(mean float64) uint32 { return uint32(distuv.Poisson{Lambda: mean, Src: rng}.Rand()) }
	cases := []struct {
		name   string
		live   func(i int) uint32
		lo, hi float64
	}{
		{"Poisson churn", func(int) uint32 { return poisson(40) }, 0.7, 1.4},
		{"batches of 20", func(int) uint32 { return 20 * poisson(3) }, 12, 30},
		{"steady leak", func(i int) uint32 { return uint32(i) }, 1, 1},
		{"sawtooth", func(i int) uint32 { return uint32(10 * (i % 20)) }, 20, math.Inf(1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := make([]storage.Count, n)
			times := make([]float64, n)
			for i := range b {
				b[i].Live, times[i] = c.live(i), float64(i)
			}
			got := dispersion(b, times)
			require.GreaterOrEqual(t, got, c.lo)
			require.LessOrEqual(t, got, c.hi)
		})
	}
}

// TestSuspicionNeedsGrowthGoingOn checks the suspect test's conditions on
// hand-built blocks, as sparse as a series of profiles fetched without
// forcing a collection makes them: growth is going on when the count set
// new highs at two blocks at least, not when a single rise — a one-time
// step, or a warm-up whose end fell between two profiles — put the newest
// block above the rest.
func TestSuspicionNeedsGrowthGoingOn(t *testing.T) {
	cases := []struct {
		name    string
		times   []float64
		live    []uint32
		suspect bool
	}{
		{"steady retention", []float64{0, 1, 2, 3, 4, 5, 6, 7}, []uint32{0, 3, 6, 9, 12, 15, 18, 21}, true},
		{"growth at two sparse blocks", []float64{0, 1, 2, 5, 8}, []uint32{0, 0, 0, 12, 24}, true},
		{"one rise, at the newest block", []float64{0, 1, 2, 5, 8}, []uint32{0, 0, 0, 0, 20}, false},
		{"one rise, then flat", []float64{0, 1, 2, 3, 4, 5, 6, 7}, []uint32{0, 0, 0, 0, 0, 0, 20, 20}, false},
		{"a warm-up that ended in the older half", []float64{0, 1, 2, 3, 4, 5, 6, 7}, []uint32{0, 10, 20, 20, 20, 20, 20, 21}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			blocks := make([]storage.Count, len(c.live))
			var born uint32
			for i, live := range c.live {
				if i > 0 && live > c.live[i-1] {
					born += live - c.live[i-1]
				}
				blocks[i] = storage.Count{Live: live, Born: born, Peak: live}
			}
			d := newDetector(defaultConfig())
			f := &family{times: [][]float64{c.times}}
			d.suspicion(f, &series{}, 0, blocks, 3, dispersion(blocks, c.times))
			require.Len(t, d.cands, 1)
			if c.suspect {
				require.Less(t, d.cands[0].p, 1e-3)
			} else {
				require.Equal(t, 1.0, d.cands[0].p)
			}
		})
	}
}

// TestNewHighs counts the blocks after the first that exceed everything
// before them.
func TestNewHighs(t *testing.T) {
	for _, tc := range []struct {
		name string
		live []uint32
		want int
	}{
		{"steady growth", []uint32{1, 2, 3, 4, 5}, 4},
		{"a step", []uint32{0, 0, 0, 9, 9}, 1},
		{"a step seen across two blocks", []uint32{0, 0, 4, 9, 9}, 2},
		{"below the first block's peak", []uint32{9, 0, 3, 5, 8}, 0},
		{"one block", []uint32{1}, 0},
		{"none", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := make([]storage.Count, len(tc.live))
			for i, x := range tc.live {
				b[i] = storage.Count{Live: x, Peak: x}
			}
			require.Equal(t, tc.want, newHighs(b))
		})
	}
}

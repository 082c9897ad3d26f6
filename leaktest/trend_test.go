package leaktest

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// permute calls f with every ordering of y (Heap's algorithm), y's own
// storage rearranged in place.
func permute(y []float64, f func([]float64)) {
	c := make([]int, len(y))
	f(y)
	for i := 0; i < len(y); {
		if c[i] < i {
			if i%2 == 0 {
				y[0], y[i] = y[i], y[0]
			} else {
				y[c[i]], y[i] = y[i], y[c[i]]
			}
			f(y)
			c[i]++
			i = 0
		} else {
			c[i] = 0
			i++
		}
	}
}

func kendallS(y []float64) int {
	s := 0
	for i := range y {
		for j := i + 1; j < len(y); j++ {
			switch {
			case y[j] > y[i]:
				s++
			case y[j] < y[i]:
				s--
			}
		}
	}
	return s
}

// TestTrendPConservative enumerates every ordering of series of 8 rounds
// with various ties — the exact null distribution of S given the ties —
// and checks that trendP never understates the exact tail probability
// where it matters, at or below 0.05.
func TestTrendPConservative(t *testing.T) {
	for _, levels := range [][]int{
		{1, 1, 1, 1, 1, 1, 1, 1}, // no ties
		{2, 2, 2, 2},             // four steps of equal length
		{4, 4},                   // one step halfway
		{1, 7},                   // one step at an end
		{1, 1, 6},
		{3, 5},
		{2, 3, 3},
	} {
		var y []float64
		for v, m := range levels {
			for range m {
				y = append(y, float64(v))
			}
		}
		count := map[int]int{}
		total := 0
		permute(y, func(p []float64) { count[kendallS(p)]++; total++ })
		for s := range count {
			tail := 0
			for s2, c := range count {
				if s2 >= s {
					tail += c
				}
			}
			exact := float64(tail) / float64(total)
			if exact > 0.05 {
				continue
			}
			// trendP depends on the series only through S and the ties:
			// any ordering with this S will do.
			got := -1.0
			permute(y, func(p []float64) {
				if got < 0 && kendallS(p) == s {
					got = trendP(p)
				}
			})
			require.GreaterOrEqual(t, got, exact, "levels %v, S = %d", levels, s)
		}
	}
}

// TestTrendPSize draws exchangeable series — independent draws, often
// tied, as exact byte counts are — and checks that the test rejects at
// most as often as its level says.
func TestTrendPSize(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, distinct := range []int{2, 4, 1000} {
		for _, n := range []int{16, 32} {
			const reps, alpha = 20000, 0.01
			rejected := 0
			y := make([]float64, n)
			for range reps {
				for i := range y {
					y[i] = float64(rng.IntN(distinct))
				}
				if trendP(y) <= alpha {
					rejected++
				}
			}
			rate := float64(rejected) / reps
			// Three binomial standard errors above the level.
			require.LessOrEqual(t, rate, alpha+3*math.Sqrt(alpha*(1-alpha)/reps), "%d values, %d rounds", distinct, n)
		}
	}
}

func TestTrendPCases(t *testing.T) {
	up := make([]float64, 24)
	for i := range up {
		up[i] = float64(i)
	}
	steps := make([]float64, 24) // doubling every 6 rounds
	for i := range steps {
		steps[i] = math.Pow(2, float64(i/6))
	}
	flat := make([]float64, 24)
	down := make([]float64, 24)
	for i := range down {
		down[i] = float64(-i)
	}
	require.Less(t, trendP(up), 1e-7)
	require.Less(t, trendP(steps), 1e-5)
	require.Equal(t, 1.0, trendP(flat))
	require.Equal(t, 1.0, trendP(down))
	require.Equal(t, 1.0, trendP(nil))
}

// TestSchedule checks the measured rounds: strictly more calls each round,
// a constant ratio between round ends, 64 times the warm-up's calls at the
// end, and looks that leave each half enough rounds to be tested.
func TestSchedule(t *testing.T) {
	tests := []struct {
		warmup, rounds, calls int
		looks                 []int
	}{
		{2, 64, 64, []int{32, 48, 64}},
		{0, 16, 1, []int{16}},
		{1, 20, 5, []int{20}},
		{4, 40, 10, []int{20, 30, 40}},
	}
	for _, tc := range tests {
		c := defaults()
		c.warmup, c.rounds, c.calls = tc.warmup, tc.rounds, tc.calls
		ends := schedule(c)
		require.Len(t, ends, tc.rounds)
		base := max(tc.warmup, 1) * tc.calls
		require.InDelta(t, float64(base*span), float64(ends[len(ends)-1]), 1)
		prev := tc.warmup * tc.calls
		for _, e := range ends {
			require.Greater(t, e, prev)
			prev = e
		}
		require.Equal(t, tc.looks, looksAt(tc.rounds))
	}
	c := defaults()
	ends := schedule(c)
	q := float64(ends[1]) / float64(ends[0])
	for i := 2; i < len(ends); i++ {
		require.InEpsilon(t, q, float64(ends[i])/float64(ends[i-1]), 0.02, "round %d", i)
	}
}

func TestStdFrame(t *testing.T) {
	tests := []struct {
		function string
		std      bool
	}{
		{"runtime.gopark", true},
		{"internal/runtime/maps.newarray", true},
		{"net/http.(*persistConn).readLoop", true},
		{"sync.(*Map).Store", true},
		{"strings.(*Builder).WriteString", true},
		{"github.com/leakguard/leakguard/leaktest.appendRec", false},
		{"example.com/app/handler.(*Server).serve.func1", false},
		{"main.main", false},
	}
	saved := goroot
	t.Cleanup(func() { goroot = saved })
	for _, gr := range []string{saved, ""} { // "": a binary built with -trimpath
		goroot = gr
		for _, tc := range tests {
			file := "/home/me/app/x.go"
			if tc.std && gr != "" {
				file = gr + "runtime/x.go"
			}
			require.Equal(t, tc.std, stdFrame(tc.function, file), "%s (goroot %q)", tc.function, gr)
		}
	}
	require.NotEmpty(t, saved, "the test binary records where the standard library is")
}

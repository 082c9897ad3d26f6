package stats_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/leakguard/leakguard/stats"
)

// Growth separates growth that persists up to now from growth that
// stopped: a leak, and a cache that warmed up and then held steady.
func ExampleGrowth() {
	rng := rand.New(rand.NewPCG(1, 1))
	leak := make([]float64, 48)
	warmed := make([]float64, 48)
	for i := range leak {
		leak[i] = float64(i)*1e4 + rng.NormFloat64()*1e4
		warmed[i] = float64(min(i, 20))*3e4 + rng.NormFloat64()*1e4
	}
	fmt.Printf("leak:   P < 0.001: %v\n", stats.Growth(leak, 0).P < 0.001)
	fmt.Printf("warmed: P < 0.001: %v\n", stats.Growth(warmed, 0).P < 0.001)
	// Output:
	// leak:   P < 0.001: true
	// warmed: P < 0.001: false
}

// Alpha spending gives each stack and each look a fixed share of the
// error budget; the shares sum to less than one however many there are.
func ExampleSpendWeight() {
	sum := 0.0
	for i := uint64(1); i <= 1_000_000; i++ {
		sum += stats.SpendWeight(i)
	}
	fmt.Printf("first look %.2f, second %.3f, a million looks sum to %.2f\n", stats.SpendWeight(1), stats.SpendWeight(2), sum)
	// Output: first look 0.50, second 0.087, a million looks sum to 0.81
}

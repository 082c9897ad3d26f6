package stats_test

import (
	"fmt"

	"github.com/leakguard/leakguard/stats"
)

// A stack that only retained 20 sampled objects, and one that kept 20 more
// than it freed among 200 births and deaths: the same rise, far less
// evidence.
func ExampleRise() {
	pure := stats.Rise{Events: 20, Rise: 20}
	churn := stats.Rise{Events: 200, Rise: 20}
	fmt.Printf("pure %.1e, under churn %.3f, smallest possible with 200 events %.1e\n", pure.P(), churn.P(), churn.MinP())
	// Output: pure 9.5e-07, under churn 0.089, smallest possible with 200 events 6.2e-61
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

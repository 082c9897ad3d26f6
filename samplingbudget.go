package leakguard

import (
	"fmt"
	"math"
	"time"
)

// The runtime's heap-profile sampling has a price per sampled allocation
// (a stack walk and a bucket update) and none for the others beyond a
// countdown, so what it adds to the CPU a program spends allocating depends
// on MemProfileRate alone, not on how fast the program allocates: about
// sampledAllocationPrice / (rate × allocationCostPerByte) for small objects,
// less for large ones. Both figures are what BenchmarkSampledAllocation
// (package sampler/heap) measures: 1.3–2.5 µs per sampled allocation at
// stack depths 8 to 32, and 51–62 ns to allocate 64 bytes (0.8–1 ns a
// byte). Expressed so, a CPU budget gives the rate at Start, before the
// program's allocation rate is known — and the runtime wants the rate set
// once, early: a rate changed later would make every stack's sampled count
// drift towards the new density, which the tests would read as growth.
const (
	sampledAllocationPrice = 2 * time.Microsecond
	allocationCostPerByte  = 0.8 // nanoseconds
)

// DefaultSamplingBudget is the share by which Start lets the runtime's
// heap-profile sampling raise the CPU cost of allocating small objects:
// 5 %, which gives DefaultMemProfileRate. A program that spends a tenth of
// its CPU allocating pays about 0.5 % for the evidence.
const DefaultSamplingBudget = 0.05

// memProfileRateFor returns the MemProfileRate whose sampling stays within
// budget: the power of two nearest sampledAllocationPrice / (budget ×
// allocationCostPerByte), within [1 KiB, 4 MiB].
func memProfileRateFor(budget float64) int {
	bytes := float64(sampledAllocationPrice.Nanoseconds()) / (budget * allocationCostPerByte)
	exp := math.Round(math.Log2(bytes))
	return 1 << int(max(10, min(22, exp)))
}

// WithSamplingBudget sets the share by which the runtime's heap-profile
// sampling may raise the CPU cost of allocating (default
// DefaultSamplingBudget, 5 %), from which Start chooses
// runtime.MemProfileRate when the program left it at the runtime's default:
// the budget 0.05 gives 64 KiB, 0.01 gives 256 KiB, 0.2 gives 16 KiB. A
// finer rate brings more sampled objects per leaked byte, so leaks are
// decided sooner. WithMemProfileRate wins over it.
func WithSamplingBudget(share float64) Option {
	return func(c *config) error {
		if !(share > 0 && share <= 1) {
			return fmt.Errorf("leakguard: WithSamplingBudget(%v): must be in (0, 1]", share)
		}
		c.samplingBudget = share
		return nil
	}
}

package heap

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

var costSink []byte

//go:noinline
func allocAtDepth(depth, size int) {
	if depth == 0 {
		costSink = make([]byte, size)
		return
	}
	allocAtDepth(depth-1, size)
}

// BenchmarkSampledAllocation measures what the runtime's heap-profile
// sampling costs the program per sampled allocation — the stack walk and
// the bucket update it does for one allocation in MemProfileRate bytes —
// as the difference between allocating with every allocation sampled and
// with none, alternated in each iteration so that both see the same
// machine. A program allocating A bytes a second at rate R pays about
// A/R × ns/sample. The stack depth is what the walk scales with.
func BenchmarkSampledAllocation(b *testing.B) {
	const batch = 1000
	for _, depth := range []int{8, 32} {
		b.Run(fmt.Sprintf("depth=%d", depth), func(b *testing.B) {
			old := runtime.MemProfileRate
			defer func() { runtime.MemProfileRate = old }()
			var on, off time.Duration
			for b.Loop() {
				runtime.MemProfileRate = 1
				start := time.Now()
				for range batch {
					allocAtDepth(depth, 64)
				}
				on += time.Since(start)
				runtime.MemProfileRate = 1 << 40
				start = time.Now()
				for range batch {
					allocAtDepth(depth, 64)
				}
				off += time.Since(start)
			}
			n := float64(b.N * batch)
			b.ReportMetric(float64(on-off)/n, "ns/sample")
			b.ReportMetric(float64(off)/n, "ns/unsampled-alloc")
		})
	}
}

package leakguard

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leakguard/leakguard/internal/cputime"
)

// treeDepth gives 2^16 = 65,536 leaves, each reached by its own call path.
const treeDepth = 16

// tree allocates one object at the leaf its path bits lead to: each leaf's
// allocation stack is distinct, as in a service with very many allocation
// sites.
//
//go:noinline
func tree(depth int, path uint32, keep *[][]byte) {
	if depth == 0 {
		*keep = append(*keep, make([]byte, 64))
		return
	}
	if path&1 == 0 {
		treeLeft(depth-1, path>>1, keep)
	} else {
		treeRight(depth-1, path>>1, keep)
	}
}

//go:noinline
func treeLeft(depth int, path uint32, keep *[][]byte) { tree(depth, path, keep) }

//go:noinline
func treeRight(depth int, path uint32, keep *[][]byte) { tree(depth, path, keep) }

// distinctLiveStacks profiles every allocation and holds one live object
// at each of n ≤ 2^treeDepth distinct stacks. The returned function
// restores the profiling rate.
func distinctLiveStacks(n int) (keep [][]byte, restore func()) {
	rate := runtime.MemProfileRate
	runtime.MemProfileRate = 1
	keep = make([][]byte, 0, n)
	for p := range uint32(n) {
		tree(treeDepth, p, &keep)
	}
	return keep, func() { runtime.MemProfileRate = rate }
}

func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// guardCycles runs n of g's cycles directly, each after a completed GC so
// that the heap profile has news.
func guardCycles(g *Guard, n int) {
	failing := make([]bool, len(g.samplers))
	for range n {
		runtime.GC()
		g.cycle(context.Background(), failing)
	}
}

// TestGuardHeapAtHighCardinality runs a Guard at default settings in a
// process with 65,536 distinct live allocation stacks, six times its
// WithMaxStacks, and bounds the heap the Guard holds between cycles,
// measured by the runtime: histories, sampler buffers and caches. It runs
// in a child process: the runtime never forgets a profiled stack, and every
// later heap sample in this process would read all 65,536.
func TestGuardHeapAtHighCardinality(t *testing.T) {
	if os.Getenv(cardinalityChild) == "" {
		if raceEnabled {
			t.Skip("profiling every allocation under the race detector takes minutes")
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestGuardHeapAtHighCardinality$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), cardinalityChild+"=1")
		out, err := cmd.CombinedOutput()
		t.Logf("child process:\n%s", out)
		require.NoError(t, err)
		return
	}
	keep, restore := distinctLiveStacks(1 << treeDepth)
	defer restore()
	before := heapAlloc()
	g, err := Start(WithInterval(time.Hour), WithLogger(quietLogger()))
	require.NoError(t, err)
	defer func() { require.NoError(t, g.Stop()) }()
	guardCycles(g, 12)
	after := heapAlloc()
	runtime.KeepAlive(keep)

	m := g.Stats()
	grown := int64(after) - int64(before)
	t.Logf("%d live stacks: %d tracked, %d evicted in 12 cycles; Guard heap %.1f MB (runtime), %.1f MB (its heap profile), storage estimate %.1f MB",
		1<<treeDepth, m.Tracked, m.Evicted, float64(grown)/1e6, float64(m.MeasuredHeapBytes)/1e6, float64(m.StorageBytes)/1e6)
	require.Equal(t, DefaultMaxStacks, m.Tracked)
	require.Less(t, m.Evicted, uint64(1000), "flat stacks beyond the bound must not replace tracked ones")
	require.LessOrEqual(t, grown, int64(20<<20), "Guard heap measured by the runtime")
	require.Positive(t, m.MeasuredHeapBytes)
	require.LessOrEqual(t, m.MeasuredHeapBytes, int64(20<<20), "Guard heap measured by its heap profile")
}

// cardinalityChild marks the child process that runs the measurement.
const cardinalityChild = "LEAKGUARD_CARDINALITY_CHILD"

// BenchmarkGuardCycle measures one full Guard cycle at default settings
// (heap profile read and analysis) with 10,000 and 65,536 distinct live
// stacks, every allocation profiled; cpu-ns/op is the process's CPU time,
// steadier than wall time on a shared machine. Run it alone: the stacks stay
// in the process's heap profile afterwards (the second size also reads the
// first one's).
func BenchmarkGuardCycle(b *testing.B) {
	for _, n := range []int{10000, 1 << treeDepth} {
		b.Run(fmt.Sprintf("stacks=%d", n), func(b *testing.B) {
			keep, restore := distinctLiveStacks(n)
			defer restore()
			g, err := Start(WithInterval(time.Hour), WithLogger(quietLogger()))
			require.NoError(b, err)
			defer func() { require.NoError(b, g.Stop()) }()
			guardCycles(g, 12) // past admitting the first stacks and the first looks
			failing := make([]bool, len(g.samplers))
			var cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				runtime.GC()
				start := cputime.Used()
				b.StartTimer()
				g.cycle(context.Background(), failing)
				cpu += cputime.Used() - start
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
			runtime.KeepAlive(keep)
		})
	}
}

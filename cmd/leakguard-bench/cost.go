package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/cputime"
	"github.com/leakguard/leakguard/sampler"
)

// syntheticSample fills s with stacks records for cycle i: every stack has
// a stable base, a quarter of them move by up to 1 MiB each cycle and one in
// a hundred grows, so the tests keep falling due as in a busy service.
func syntheticSample(s *sampler.Sample, rng *rand.Rand, firstStack uint64, stacks, i int) {
	frames := []sampler.Frame{{Function: "main.handler", File: "main.go", Line: 1}}
	s.Resource, s.Rate = sampler.Heap, 512<<10
	s.Time = time.Unix(0, 0).Add(time.Duration(i) * 10 * time.Second)
	s.Seq = uint64(i + 1)
	s.Records = slices.Grow(s.Records[:0], stacks)[:stacks]
	for k := range stacks {
		v := int64(k%4096+1) << 12
		if k%4 == i%4 {
			v += int64(rng.IntN(1 << 20))
		}
		if k%100 == 0 {
			v += int64(i) << 10
		}
		s.Records[k] = sampler.Record{Stack: firstStack + uint64(k), Frames: frames, InUseBytes: v, InUseObjects: v >> 10}
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// cost measures one analysis cycle and the detector's memory at 1k, 10k and
// 100k live stacks, then streams a million distinct stacks through a
// detector bounded to 10k to show its memory stays bounded.
func cost(w io.Writer, short bool) error {
	sizes, warm, timed := []int{1000, 10000, 100000}, 150, 50
	distinct := 1_000_000
	if short {
		sizes, warm, timed = []int{1000, 10000}, 40, 5
		distinct = 100_000
	}
	fmt.Fprintf(w, "## Analysis cost per cycle (%d warm-up cycles, then the mean of %d)\n\n", warm, timed)
	fmt.Fprintln(w, "| Live stacks | Time per cycle | CPU per cycle | Time per stack | Storage | Storage per stack |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, n := range sizes {
		det, err := leakguard.NewDetector(leakguard.WithMaxStacks(n + 1))
		if err != nil {
			return err
		}
		rng := rand.New(rand.NewPCG(1, uint64(n)))
		var s sampler.Sample
		for i := range warm {
			syntheticSample(&s, rng, 1, n, i)
			det.Observe(&s)
		}
		var spent, cpu time.Duration
		for i := warm; i < warm+timed; i++ {
			syntheticSample(&s, rng, 1, n, i)
			start, startCPU := time.Now(), cputime.Used()
			det.Observe(&s)
			spent += time.Since(start)
			cpu += cputime.Used() - startCPU
		}
		per := spent / time.Duration(timed)
		st := det.Stats()
		fmt.Fprintf(w, "| %d | %v | %v | %v | %.1f MB | %d B |\n", n, per.Round(time.Microsecond), (cpu / time.Duration(timed)).Round(time.Microsecond),
			(per / time.Duration(n)).Round(10*time.Nanosecond), float64(st.StorageBytes)/1e6, st.StorageBytes/n)
	}
	fmt.Fprintln(w)

	const bound = 10000
	perSample := 10000
	before := heapInUse()
	det, err := leakguard.NewDetector(leakguard.WithMaxStacks(bound))
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(2, 2))
	var s sampler.Sample
	for i := range distinct / perSample {
		// Every sample brings perSample stacks never seen before.
		syntheticSample(&s, rng, uint64(1+i*perSample), perSample, i)
		det.Observe(&s)
	}
	s.Records = nil
	after := heapInUse()
	st := det.Stats()
	runtime.KeepAlive(det)
	fmt.Fprintf(w, "## Memory bound: %d distinct stacks streamed through WithMaxStacks(%d)\n\n", distinct, bound)
	fmt.Fprintln(w, "| Tracked | Evicted | Storage (detector's estimate) | Heap in use, after − before |")
	fmt.Fprintln(w, "|---|---|---|---|")
	fmt.Fprintf(w, "| %d | %d | %.1f MB | %.1f MB |\n\n", st.Tracked, st.Evicted, float64(st.StorageBytes)/1e6, (float64(after)-float64(before))/1e6)
	if st.Tracked > bound {
		return fmt.Errorf("tracked %d stacks with a bound of %d", st.Tracked, bound)
	}
	return nil
}

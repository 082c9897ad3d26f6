package leakguard

import (
	"math/rand/v2"
	"time"

	"github.com/leakguard/leakguard/internal/simulate"
	"github.com/leakguard/leakguard/sampler"
)

// countSamples turns per-stack count series (same times) into Samples,
// stack k+1 holding series k.
func countSamples(times []float64, series []simulate.CountSeries, bytesPer int64) []*sampler.Sample {
	origin := time.Unix(1_700_000_000, 0)
	out := make([]*sampler.Sample, len(times))
	for i, t := range times {
		s := &sampler.Sample{Time: origin.Add(time.Duration(t * float64(time.Second))), Resource: sampler.Heap, Rate: 512 << 10, Seq: uint64(i + 1), Epoch: 1}
		for k, c := range series {
			live, born := c.Live[i], c.Born[i]
			s.Records = append(s.Records, sampler.Record{
				Stack: uint64(k + 1), Frames: []sampler.Frame{{Function: "f"}},
				InUseSampled: live, AllocSampled: born,
				InUseObjects: live * 8, InUseBytes: live * bytesPer * 8,
				AllocObjects: born * 8, AllocBytes: born * bytesPer * 8,
			})
		}
		out[i] = s
	}
	return out
}

// genProcess draws one process: stacks from shapes, on shared times.
func genProcess(rng *rand.Rand, shapes []simulate.CountShape, p simulate.CountParams) ([]float64, []simulate.CountSeries) {
	times := simulate.Times(rng, p.N, p.Interval)
	var series []simulate.CountSeries
	for _, sh := range shapes {
		q := p
		q.Churn = float64(rng.IntN(3)) * 20 * rng.Float64()
		// Each shape draws its own times; keep the shared ones.
		c := sh.Gen(rng, q)
		c.Time = times
		series = append(series, c)
	}
	return times, series
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

package stats

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// floatsFrom decodes data as little-endian float64s: any bit pattern,
// so NaNs, infinities, subnormals and huge values all occur.
func floatsFrom(data []byte) []float64 {
	out := make([]float64, 0, len(data)/8)
	for ; len(data) >= 8; data = data[8:] {
		out = append(out, math.Float64frombits(binary.LittleEndian.Uint64(data)))
	}
	return out
}

func bytesOf(v ...float64) []byte {
	out := make([]byte, 0, 8*len(v))
	for _, f := range v {
		out = binary.LittleEndian.AppendUint64(out, math.Float64bits(f))
	}
	return out
}

// FuzzGrowth feeds adversarial series (and times: repeated, backwards,
// non-finite) to every test in the package: none may panic, and every
// p-value is a probability, never NaN.
func FuzzGrowth(f *testing.F) {
	ramp := make([]float64, 0, 48)
	for i := range 24 {
		ramp = append(ramp, float64(i), float64(i*i))
	}
	f.Add(bytesOf(ramp...), 0.0, true)
	f.Add(bytesOf(1, 1, 1, 1, 1, 1, 1, 1, 1, 1), 0.0, false)                      // constant
	f.Add(bytesOf(0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6), 1.0, true)                 // time stands still
	f.Add(bytesOf(5, 1, 4, 2, 3, 3, 2, 4, 1, 5, 0, 6), 0.0, true)                 // time runs backwards
	f.Add(bytesOf(0, 1e300, 1, -1e300, 2, 1e300, 3, -1e300, 4, 1e308), 0.0, true) // huge
	f.Add(bytesOf(0, math.NaN(), 1, 2, 2, math.Inf(1), 3, 4), 0.0, true)
	f.Add([]byte{}, 0.0, false)
	f.Fuzz(func(t *testing.T, data []byte, noiseVar float64, timed bool) {
		v := floatsFrom(data)
		var x, y []float64
		if timed {
			n := len(v) / 2
			x, y = make([]float64, n), make([]float64, n)
			for i := range n {
				x[i], y[i] = v[2*i], v[2*i+1]
			}
		} else {
			y = v
		}
		isP := func(name string, p float64) {
			require.False(t, math.IsNaN(p), "%s is NaN", name)
			require.GreaterOrEqual(t, p, 0.0, name)
			require.LessOrEqual(t, p, 1.0, name)
		}
		g := GrowthAt(x, y, noiseVar)
		isP("Growth.P", g.P)
		isP("Growth.TrendP", g.TrendP)
		isP("Growth.DriftP", g.DriftP)
		tr := TrendAt(x, y, noiseVar)
		isP("Trend.P", tr.P)
		tr.Interval(0.95)
		isP("Drift.P", DriftAt(x, y, noiseVar).P)
		isP("SignP", SignP(y))
	})
}

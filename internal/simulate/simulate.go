// Package simulate generates labelled synthetic evidence — the sampled
// objects one allocation stack holds and was born, at GC-like irregular
// sample times — for benign look-alikes and leaks of every shape leakguard
// must tell apart, for the detector's false-alarm and power simulations.
//
// Benign shapes keep every growth phase shorter than the horizon they are
// given (CountParams.Horizon): what the detector promises to tolerate.
package simulate

import (
	"math/rand/v2"

	"gonum.org/v1/gonum/stat/distuv"
)

// poisson draws a Poisson variate with mean lambda (0 for lambda ≤ 0).
func poisson(r *rand.Rand, lambda float64) int {
	if !(lambda > 0) {
		return 0
	}
	return int(distuv.Poisson{Lambda: lambda, Src: r}.Rand())
}

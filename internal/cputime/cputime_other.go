//go:build !unix

// Package cputime reads the CPU time the process has used: on a machine
// shared with other work, steadier than wall time, which counts waiting
// for a core. The benchmarks report it beside wall time.
package cputime

import "time"

// Used is 0 where the process's CPU time is not measured.
func Used() time.Duration { return 0 }

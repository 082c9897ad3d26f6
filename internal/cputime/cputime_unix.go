//go:build unix

// Package cputime reads the CPU time the process has used: on a machine
// shared with other work, steadier than wall time, which counts waiting
// for a core. The benchmarks report it beside wall time.
package cputime

import (
	"syscall"
	"time"
)

// Used is the CPU time (user and system) the process has used so far.
func Used() time.Duration {
	var r syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &r) != nil {
		return 0
	}
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

//go:build !unix

package leakguard

import "time"

// cpuTime is not measured here.
func cpuTime() time.Duration { return 0 }

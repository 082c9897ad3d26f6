package leakguard

import (
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// runtimeDefaultMemProfileRate is the runtime's own default: Start lowers
// only this value, so a rate the program or GODEBUG chose is kept.
const runtimeDefaultMemProfileRate = 512 * 1024

// memoryLimit is the limit the process's memory is held to: GOMEMLIMIT
// (debug.SetMemoryLimit) when set, else the cgroup v2 memory.max of the
// process's cgroup, else 0 (none known).
func memoryLimit() int64 {
	if l := debug.SetMemoryLimit(-1); l > 0 && l < math.MaxInt64 {
		return l
	}
	return cgroupMemoryMax("/proc/self/cgroup", "/sys/fs/cgroup")
}

// cgroupMemoryMax reads memory.max of the process's cgroup v2 ("0::/path"
// in /proc/self/cgroup); 0 when there is none or it says "max".
func cgroupMemoryMax(cgroupFile, root string) int64 {
	b, err := os.ReadFile(cgroupFile)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		path, ok := strings.CutPrefix(line, "0::")
		if !ok {
			continue
		}
		v, err := os.ReadFile(root + strings.TrimSpace(path) + "/memory.max")
		if err != nil {
			return 0
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(v)), 10, 64)
		if err != nil || n <= 0 {
			return 0
		}
		return n
	}
	return 0
}

//go:build linux

package uprobe

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// mapping is one file-backed executable region of /proc/PID/maps.
type mapping struct {
	start, end, off uint64
	path            string
}

// readMaps returns the executable, file-backed mappings of pid sorted by
// start address.
func readMaps(pid int) ([]mapping, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return nil, procErr(pid, err)
	}
	return parseMaps(data), nil
}

func parseMaps(data []byte) []mapping {
	var out []mapping
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		// start-end perms offset dev inode path
		f := strings.Fields(sc.Text())
		if len(f) < 6 || !strings.Contains(f[1], "x") || !strings.HasPrefix(f[5], "/") {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		off, err3 := strconv.ParseUint(f[2], 16, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		// A path may contain spaces; " (deleted)" marks a replaced file.
		out = append(out, mapping{start: start, end: end, off: off, path: strings.Join(f[5:], " ")})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].start < out[j].start })
	return out
}

// findMapping returns the mapping holding addr.
func findMapping(maps []mapping, addr uint64) (mapping, bool) {
	i := sort.Search(len(maps), func(i int) bool { return maps[i].end > addr })
	if i < len(maps) && maps[i].start <= addr {
		return maps[i], true
	}
	return mapping{}, false
}

// isLibc reports whether a mapped object is a C library that exports the
// allocator: glibc's libc.so.6 (or old libc-2.x.so) and musl's libc.
func isLibc(path string) bool {
	b := filepath.Base(path)
	return strings.HasPrefix(b, "libc.so") || (strings.HasPrefix(b, "libc-") && strings.HasSuffix(b, ".so")) ||
		strings.HasPrefix(b, "libc.musl-") || strings.HasPrefix(b, "ld-musl-")
}

// findLibc returns the path of the C library the process maps.
func findLibc(maps []mapping) (string, bool) {
	for _, m := range maps {
		if isLibc(m.path) {
			return m.path, true
		}
	}
	return "", false
}

// inProcRoot resolves a path as the process sees it, so that a target in
// another mount namespace (a container) is probed in its own files.
func inProcRoot(pid int, path string) string {
	return fmt.Sprintf("/proc/%d/root%s", pid, path)
}

// startTime returns the process start time in clock ticks since boot
// (field 22 of /proc/PID/stat), which tells a process from a later one
// that reuses its PID.
func startTime(pid int) (uint64, error) {
	st, zombie, err := procStart(pid)
	if err == nil && zombie {
		err = procErr(pid, os.ErrProcessDone)
	}
	return st, err
}

// procStart returns the process start time and whether the process is a
// zombie (exited, not yet reaped by its parent).
func procStart(pid int) (start uint64, zombie bool, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false, procErr(pid, err)
	}
	start, err = parseStartTime(data)
	if errors.Is(err, errZombie) {
		return start, true, nil
	}
	return start, false, err
}

// errZombie is parseStartTime's error for a zombie, which has a start
// time yet no longer runs.
var errZombie = fmt.Errorf("uprobe: zombie process: %w", os.ErrProcessDone)

func parseStartTime(data []byte) (uint64, error) {
	// The command name (field 2) is parenthesised and may hold spaces and
	// parentheses: fields resume after the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, errors.New("uprobe: malformed /proc/PID/stat")
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state); start time is field 22.
	if len(f) < 20 {
		return 0, errors.New("uprobe: malformed /proc/PID/stat")
	}
	st, err := strconv.ParseUint(f[19], 10, 64)
	switch {
	case err != nil:
		return 0, err
	case f[0] == "X":
		return 0, os.ErrProcessDone
	case f[0] == "Z":
		return st, errZombie
	}
	return st, nil
}

// procErr turns a failure to read /proc/PID into an error that says the
// process is gone, when it is.
func procErr(pid int, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("uprobe: process %d: %w", pid, os.ErrProcessDone)
	}
	return fmt.Errorf("uprobe: process %d: %w", pid, err)
}

// Capability bits (linux/capability.h).
const (
	capSysAdmin = 21
	capPerfmon  = 38
	capBPF      = 39
)

// checkCaps reports whether the effective capabilities in /proc/self/status
// allow loading tracing BPF programs and opening uprobe perf events.
func checkCaps() error {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return fmt.Errorf("uprobe: reading capabilities: %w", err)
	}
	return capsAllow(data)
}

func capsAllow(status []byte) error {
	for line := range strings.SplitSeq(string(status), "\n") {
		v, ok := strings.CutPrefix(line, "CapEff:")
		if !ok {
			continue
		}
		eff, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			return fmt.Errorf("uprobe: malformed CapEff %q: %w", strings.TrimSpace(v), err)
		}
		has := func(c uint) bool { return eff&(1<<c) != 0 }
		if has(capSysAdmin) || (has(capBPF) && has(capPerfmon)) {
			return nil
		}
		return fmt.Errorf("%w: need root, CAP_SYS_ADMIN, or CAP_BPF and CAP_PERFMON (effective capabilities %#x)", ErrPermission, eff)
	}
	return fmt.Errorf("%w: no CapEff line in /proc/self/status", ErrPermission)
}

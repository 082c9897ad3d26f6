//go:build linux && amd64

package uprobe

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
)

const (
	ptraceOExitKill = 0x100000 // PTRACE_O_EXITKILL
	sysPidfdOpen    = 434      // pidfd_open(2), the same number on every architecture
	pPID            = 1        // P_PID for waitid(2)
	pPidfd          = 3        // P_PIDFD for waitid(2)
	// syscallStop is the stop signal of a system-call stop under
	// PTRACE_O_TRACESYSGOOD.
	syscallStop = syscall.SIGTRAP | 0x80
	// maxLoaderStops bounds the system-call stops Start waits through for
	// the dynamic loader to map the C library: it makes a handful of calls
	// per library, so this allows thousands of libraries, yet a program
	// that never maps one is not traced call by call for long.
	maxLoaderStops = 1 << 16
)

// Start starts cmd, which must not have been started, with the probes on
// its C allocator attached before it runs any code of its own, so that the
// Sampler sees every allocation it makes from the first one.
//
// The program is started stopped at its exec (ptrace), and its system
// calls are followed until the dynamic loader has mapped the C library,
// before any library initialiser or main has run; then the probes are
// attached and the program is let go (ptrace detached): it runs at full
// speed, and stdin, stdout and stderr are cmd's. With WithLibrary the
// probes are attached at the exec itself (uprobes live on the file, so the
// library need not be mapped yet). Start sets cmd.SysProcAttr.Ptrace.
//
// On success the caller must wait for the program (cmd.Wait) and Close
// the Sampler. Exited reports when the program has exited; until cmd.Wait
// reaps it, Sample still reads what it held as it exited, its last
// observation. On failure the program has been killed and waited for. A
// program that exits before it maps a C library (its loader could not
// find a library, say) makes Start fail with an error that wraps
// os.ErrProcessDone and says how it exited; a statically linked one,
// ErrNoAllocator unless WithLibrary names the object with the allocator.
func Start(cmd *exec.Cmd, opts ...Option) (*Sampler, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if cmd.Process != nil {
		return nil, errors.New("uprobe: Start: the command was already started")
	}
	if cfg.library != "" {
		if _, err := os.Stat(cfg.library); err != nil {
			return nil, fmt.Errorf("uprobe: allocator library %s: %w", cfg.library, err)
		}
	}
	// Fail before starting anything the checks New would make later.
	if err := checkCaps(); err != nil {
		return nil, err
	}
	if err := features.HaveProgramType(ebpf.Kprobe); err != nil {
		return nil, fmt.Errorf("%w: kernel cannot load kprobe/uprobe BPF programs: %v", ErrUnsupported, err)
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Ptrace = true
	type result struct {
		s   *Sampler
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := startTraced(cmd, cfg, opts)
		done <- result{s, err}
	}()
	r := <-done
	return r.s, r.err
}

// startTraced runs on a goroutine of its own: every ptrace request must
// come from the thread that started the program, so the goroutine is
// locked to it. On failure it stays locked, and the thread ends with the
// goroutine: whatever went wrong, no ptrace hold on the program survives
// (PTRACE_O_EXITKILL kills a program whose tracer is gone).
func startTraced(cmd *exec.Cmd, cfg config, opts []Option) (*Sampler, error) {
	runtime.LockOSThread()
	if err := cmd.Start(); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("uprobe: starting %s: %w", cmd.Path, err)
	}
	pid := cmd.Process.Pid
	sig, reaped, err := runToAllocator(pid, cfg)
	var s *Sampler
	if err == nil {
		s, err = New(pid, opts...)
	}
	if err == nil {
		// pidfd_open is for the process's exit, which can then never be
		// confused with that of a later process given the same PID; the
		// PID cannot be reused before, while the program is our stopped,
		// unreaped child.
		fd, _, errno := syscall.RawSyscall(sysPidfdOpen, uintptr(pid), 0, 0)
		pidfd := -1
		if errno == 0 {
			pidfd = int(fd)
		}
		if _, _, errno := syscall.Syscall6(syscall.SYS_PTRACE, syscall.PTRACE_DETACH, uintptr(pid), 0, uintptr(sig), 0, 0); errno != 0 {
			err = fmt.Errorf("uprobe: letting process %d run (ptrace detach): %w", pid, errno)
			s.Close()
			if pidfd >= 0 {
				syscall.Close(pidfd)
			}
		} else {
			s.owned = true
			s.exited = make(chan struct{})
			go waitExit(pid, pidfd, s.exited)
		}
	}
	if err != nil {
		if !reaped {
			_ = cmd.Process.Kill()
		}
		_ = cmd.Wait()
		return nil, err
	}
	runtime.UnlockOSThread()
	return s, nil
}

// runToAllocator waits for the program's exec stop and, unless the
// allocator's library was named, follows its system calls until it maps
// a C library. It leaves the program in a ptrace stop, and returns the
// signal to deliver when it is let go. reaped says whether the program
// exited (and was waited for) meanwhile.
func runToAllocator(pid int, cfg config) (sig int, reaped bool, err error) {
	ws, reaped, err := waitStop(pid)
	if err != nil {
		return 0, reaped, err
	}
	if ws.StopSignal() != syscall.SIGTRAP {
		return 0, false, fmt.Errorf("uprobe: process %d stopped by %v, not at its exec", pid, ws.StopSignal())
	}
	if err := syscall.PtraceSetOptions(pid, syscall.PTRACE_O_TRACESYSGOOD|ptraceOExitKill); err != nil {
		return 0, false, fmt.Errorf("uprobe: tracing process %d: %w", pid, err)
	}
	if cfg.library != "" {
		return 0, false, nil
	}
	interp, err := hasInterpreter(pid)
	if err != nil {
		return 0, false, err
	}
	if !interp {
		return 0, false, fmt.Errorf("%w: process %d is statically linked (no dynamic loader); use WithLibrary to name the object holding the allocator", ErrNoAllocator, pid)
	}
	for range maxLoaderStops {
		maps, err := readMaps(pid)
		if err != nil {
			return 0, false, err
		}
		if _, ok := findLibc(maps); ok {
			return sig, false, nil
		}
		if err := syscall.PtraceSyscall(pid, sig); err != nil {
			return 0, false, fmt.Errorf("uprobe: following process %d's loader: %w", pid, err)
		}
		ws, reaped, err := waitStop(pid)
		if err != nil {
			return 0, reaped, err
		}
		// A stop other than a system call's is a signal for the
		// program: it is delivered on resuming.
		sig = 0
		if ws.StopSignal() != syscallStop {
			sig = int(ws.StopSignal())
		}
	}
	return 0, false, fmt.Errorf("%w: process %d mapped no C library in its first %d system calls", ErrNoAllocator, pid, maxLoaderStops/2)
}

// waitStop waits for the traced program's next stop. Its exit is an error
// wrapping os.ErrProcessDone, with reaped set: it was waited for.
func waitStop(pid int) (ws syscall.WaitStatus, reaped bool, err error) {
	for {
		_, err = syscall.Wait4(pid, &ws, syscall.WALL, nil)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	switch {
	case err != nil:
		return ws, false, fmt.Errorf("uprobe: waiting for process %d: %w", pid, err)
	case ws.Exited():
		return ws, true, fmt.Errorf("uprobe: process %d exited with status %d before it could be traced: %w", pid, ws.ExitStatus(), os.ErrProcessDone)
	case ws.Signaled():
		return ws, true, fmt.Errorf("uprobe: process %d was killed by %v before it could be traced: %w", pid, ws.Signal(), os.ErrProcessDone)
	case !ws.Stopped():
		return ws, false, fmt.Errorf("uprobe: process %d: unexpected wait status %#x", pid, uint32(ws))
	}
	return ws, false, nil
}

// hasInterpreter reports whether the program's executable names a dynamic
// loader (PT_INTERP): a static one never maps a C library.
func hasInterpreter(pid int) (bool, error) {
	f, err := elf.Open(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return false, fmt.Errorf("uprobe: reading process %d's executable: %w", pid, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return true, nil
		}
	}
	return false, nil
}

// waitExit closes exited once the program has exited, without reaping it:
// the caller's cmd.Wait does. It returns when the program exits or has
// been reaped; the caller waits for the program, so it does not outlive
// that.
func waitExit(pid, pidfd int, exited chan<- struct{}) {
	defer close(exited)
	idType, id := pPidfd, pidfd
	if pidfd < 0 {
		idType, id = pPID, pid
	} else {
		defer syscall.Close(pidfd)
	}
	var info [128]byte // siginfo_t, unread
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, uintptr(idType), uintptr(id),
			uintptr(unsafe.Pointer(&info)), syscall.WEXITED|syscall.WNOWAIT, 0, 0)
		if errno != syscall.EINTR {
			return
		}
	}
}

// Exited returns a channel closed when a program started by Start has
// exited (whether or not it was waited for yet), and nil for a process
// attached to with New.
func (s *Sampler) Exited() <-chan struct{} { return s.exited }

// Package uprobe is leakguard's Linux eBPF sampler for native memory: it
// puts uprobes on the C allocator (malloc, calloc, realloc, free,
// aligned_alloc, memalign) of a process and reports in-use and allocated
// bytes per user stack, as the runtime heap sampler does for Go memory. It
// sees what the Go heap profile cannot: memory allocated by C code in cgo
// libraries, and native processes that have no heap profile at all.
//
// # How it works
//
// The libc the target actually maps is found in /proc/PID/maps (or named
// with WithLibrary; WithSymbolPrefix handles jemalloc's je_malloc and the
// like). An entry probe on each allocating function records the requested
// size per thread; a return probe pairs it with the returned address and
// the caller's user stack (a BPF stack-trace map) in a bounded hash of
// outstanding allocations and adds it to per-stack cumulative counters;
// a probe on free removes the address. Sample walks the outstanding map in
// user space and aggregates it per stack; frames are named from the ELF
// symbol tables of the mapped objects (debug/elf), as "module+0xoffset"
// where there is no symbol, and given the source file and line of the call
// from their DWARF line tables when they carry debug information (built
// with -g; names too, from DWARF, when only the symbol table was
// stripped). A frame without debug information has the object's path as
// its File and no Line.
//
// New attaches to a running process and sees the allocations made from
// then on. Start runs a program with the probes attached before any of
// its code runs: it starts it under ptrace, follows its dynamic loader's
// system calls until the C library is mapped, attaches, and lets it go.
//
// The BPF programs are C (bpf/malloc.c), compiled by bpf2go into the
// committed malloc_x86_bpfel.o and its Go bindings, so building leakguard
// needs no clang; `go generate ./sampler/uprobe` rebuilds them (needs
// clang and the kernel and libbpf headers). They need no BTF: only the
// pt_regs layout, which is why the sampler is built for amd64 only.
//
// # Cost
//
// Every probed call traps into the kernel whatever the BPF program does —
// a uretprobe adds a second trap at return — so a malloc-heavy program
// slows down a great deal while traced. BenchmarkTracedMalloc times one
// malloc/free pair in a traced C program (go test -bench TracedMalloc
// -count 3, kernel 6.18, 2-core VM; ranges over the three runs):
//
//	untraced                    15–21 ns
//	traced, every allocation    8.5–10.8 µs   (~500×)
//	traced, WithSampleEvery(64) 7.2–8.1 µs
//
// Sampling (WithSampleEvery, decided at random per call so that it cannot
// alias with a program's allocation cycle; WithMinSize) saves the stack
// walk and the map updates, about a quarter, not the traps, which dominate. What
// does lower the cost is probing fewer calls: attach to the process only
// while looking for a leak (leakguard attach --duration), and prefer the Go
// heap profile for Go memory. Counts of a sampled run are scaled back by
// the factor, like the runtime's heap profile, and Sample.Rate reports
// bytes per recorded allocation.
// Maps are bounded (WithMaxOutstanding); allocations that do not fit and
// stacks that cannot be captured are counted in Stats, never silently
// dropped.
//
// # Requirements and errors
//
// Root, or CAP_BPF with CAP_PERFMON (CAP_SYS_ADMIN on older kernels); a
// kernel with BPF and uprobes; a target that maps a shared libc (a static
// binary has none; point WithLibrary at it if it exports malloc). New
// checks privileges before touching the target and never writes to it.
// When the target exits, Sample returns an error wrapping
// os.ErrProcessDone and Close cleans up. Elsewhere New returns ErrUnsupported.
package uprobe

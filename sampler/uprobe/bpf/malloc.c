// SPDX-License-Identifier: (MIT OR GPL-2.0)
//
// Uprobes on the C allocator. Entry probes remember the requested size per
// thread; return probes see the returned address, capture the user stack
// (at the return site, where the caller's frame pointer is already restored,
// so the caller of malloc is the first frame) and record the allocation as
// outstanding. free() removes it. User space reads the maps.
//
// Sampling is decided at entry, at random, so an unsampled call costs no map
// update and no stack walk; the uprobe trap
// itself cannot be avoided from here (see the package doc for measurements).

//go:build ignore

#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char __license[] SEC("license") = "Dual MIT/GPL";

#define MAX_DEPTH 64

// Configured from Go before loading (spec.Variables).
volatile const __u64 sample_every = 1;
volatile const __u64 min_size = 0;

enum counter {
	C_CALLS = 0,        // allocation calls seen (before sampling)
	C_SAMPLED = 1,      // allocations recorded
	C_ALLOCS_FULL = 2,  // outstanding map full: allocation not recorded
	C_STACK_FAIL = 3,   // stack not captured (stack map full or collision)
	C_PENDING_FULL = 4, // per-thread pending map full
	C_FREES = 5,        // frees of a recorded allocation
	C_TOTALS_FULL = 6,  // per-stack totals map full
	C_NCOUNTERS = 7,
};

struct pending {
	__u64 size;
	__u64 old;    // realloc: old pointer, removed when realloc succeeds
	__u64 memptr; // posix_memalign: where the result is stored
};

struct alloc {
	__u64 size;
	__s64 stack_id;
};

struct stack_totals {
	__u64 bytes;
	__u64 count;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64); // pid_tgid
	__type(value, struct pending);
} pendings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 20); // overridden from Go
	__type(key, __u64);           // address
	__type(value, struct alloc);
} allocs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384); // overridden from Go
	__uint(key_size, sizeof(__u32));
	__uint(value_size, MAX_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); // overridden from Go, same as stacks
	__type(key, __s64);         // stack id
	__type(value, struct stack_totals);
} totals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, C_NCOUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");


static __always_inline void count(__u32 c) {
	__u64 *v = bpf_map_lookup_elem(&counters, &c);
	if (v)
		*v += 1;
}

static __always_inline int enter(__u64 size, __u64 old, __u64 memptr) {
	count(C_CALLS);
	if (size < min_size)
		return 0;
	// Bernoulli sampling with a kernel random number: a deterministic
	// every-nth counter aliases with programs that allocate in a fixed
	// cycle (every nth call would always be the same call site).
	if (sample_every > 1 && bpf_get_prandom_u32() % sample_every != 0) {
		// An unsampled realloc still moves a block that may have been
		// recorded: forget the old address at return, if it succeeds.
		if (old) {
			struct pending p = {.size = 0, .old = old};
			__u64 id = bpf_get_current_pid_tgid();
			bpf_map_update_elem(&pendings, &id, &p, BPF_ANY);
		}
		return 0;
	}
	struct pending p = {.size = size ? size : 1, .old = old, .memptr = memptr};
	__u64 id = bpf_get_current_pid_tgid();
	if (bpf_map_update_elem(&pendings, &id, &p, BPF_ANY))
		count(C_PENDING_FULL);
	return 0;
}

static __always_inline void forget(__u64 addr) {
	if (!addr)
		return;
	if (bpf_map_delete_elem(&allocs, &addr) == 0)
		count(C_FREES);
}

static __always_inline int leave(struct pt_regs *ctx, __u64 addr) {
	__u64 id = bpf_get_current_pid_tgid();
	struct pending *pp = bpf_map_lookup_elem(&pendings, &id);
	if (!pp)
		return 0;
	struct pending p = *pp;
	bpf_map_delete_elem(&pendings, &id);
	if (p.memptr) {
		// posix_memalign returns 0 on success and stores the block.
		if (addr != 0)
			return 0;
		addr = 0;
		if (bpf_probe_read_user(&addr, sizeof(addr), (void *)p.memptr))
			return 0;
	}
	if (!addr)
		return 0; // failed: realloc's old block stays valid
	if (p.old)
		forget(p.old);
	if (p.size == 0)
		return 0; // unsampled realloc
	struct alloc a = {.size = p.size};
	a.stack_id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	if (a.stack_id < 0)
		count(C_STACK_FAIL);
	if (bpf_map_update_elem(&allocs, &addr, &a, BPF_ANY)) {
		count(C_ALLOCS_FULL);
		return 0;
	}
	count(C_SAMPLED);
	struct stack_totals *t = bpf_map_lookup_elem(&totals, &a.stack_id);
	if (t) {
		__sync_fetch_and_add(&t->bytes, p.size);
		__sync_fetch_and_add(&t->count, 1);
	} else {
		struct stack_totals n = {.bytes = p.size, .count = 1};
		if (bpf_map_update_elem(&totals, &a.stack_id, &n, BPF_NOEXIST)) {
			t = bpf_map_lookup_elem(&totals, &a.stack_id);
			if (t) {
				__sync_fetch_and_add(&t->bytes, p.size);
				__sync_fetch_and_add(&t->count, 1);
			} else {
				count(C_TOTALS_FULL);
			}
		}
	}
	return 0;
}

SEC("uprobe/malloc")
int BPF_KPROBE(malloc_enter, __u64 size) { return enter(size, 0, 0); }

SEC("uprobe/calloc")
int BPF_KPROBE(calloc_enter, __u64 n, __u64 size) { return enter(n * size, 0, 0); }

SEC("uprobe/realloc")
int BPF_KPROBE(realloc_enter, __u64 old, __u64 size) {
	if (size == 0) {
		// realloc(p, 0) frees p (glibc) and may return NULL.
		forget(old);
		return 0;
	}
	return enter(size, old, 0);
}

SEC("uprobe/aligned_alloc")
int BPF_KPROBE(aligned_alloc_enter, __u64 align, __u64 size) { return enter(size, 0, 0); }

SEC("uprobe/posix_memalign")
int BPF_KPROBE(posix_memalign_enter, __u64 memptr, __u64 align, __u64 size) {
	return enter(size, 0, memptr);
}

SEC("uretprobe/alloc")
int BPF_KRETPROBE(alloc_return, __u64 ret) { return leave(ctx, ret); }

SEC("uprobe/free")
int BPF_KPROBE(free_enter, __u64 addr) {
	forget(addr);
	return 0;
}

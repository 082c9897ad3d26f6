package heap

import (
	"runtime"
	"syscall"
	"unsafe"
)

const (
	madvHugePage      = 14 // MADV_HUGEPAGE
	madvPopulateWrite = 23 // MADV_POPULATE_WRITE, Linux 5.14
)

// mapRecords returns a profile buffer of n records outside the Go heap.
// A profile of tens of thousands of stacks takes a buffer of tens of
// megabytes for the length of one read; allocated on the heap, it brings
// the next collection that much closer, and in a process with a small heap
// starts one during every read. A record holds no pointers, so the runtime
// need not see it. Huge pages and one prefaulting call spare a fault per
// page; a kernel without them faults the pages in as they are written.
func mapRecords(n int) ([]runtime.MemProfileRecord, bool) {
	size := n * int(unsafe.Sizeof(runtime.MemProfileRecord{}))
	b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, false
	}
	_ = syscall.Madvise(b, madvHugePage)
	_ = syscall.Madvise(b, madvPopulateWrite)
	return unsafe.Slice((*runtime.MemProfileRecord)(unsafe.Pointer(unsafe.SliceData(b))), n), true
}

// unmapRecords returns a buffer mapRecords made to the system.
func unmapRecords(r []runtime.MemProfileRecord) {
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(r))), cap(r)*int(unsafe.Sizeof(runtime.MemProfileRecord{})))
	_ = syscall.Munmap(b)
}

//go:build cgo

// Package cleak leaks and churns C memory from inside a Go process, so that
// the uprobe sampler's tests can trace the process they run in.
package cleak

/*
#cgo CFLAGS: -O0 -fno-omit-frame-pointer
// go test strips the executable's symbol table; exporting the functions
// in the dynamic symbol table keeps their names visible to symbolisation.
#cgo LDFLAGS: -rdynamic
#include <stdlib.h>
#include <string.h>

static void *volatile cleak_sink;

__attribute__((noinline)) void cleak_leak(int n, int size) {
	for (int i = 0; i < n; i++) {
		void *p = malloc(size);
		memset(p, 1, size);
		cleak_sink = p; // never freed
	}
}

__attribute__((noinline)) void cleak_churn(int n, int size) {
	for (int i = 0; i < n; i++) {
		void *p = malloc(size);
		cleak_sink = p;
		free(p);
	}
}
*/
import "C"

// Leak allocates n blocks of size bytes in C and never frees them.
func Leak(n, size int) { C.cleak_leak(C.int(n), C.int(size)) }

// Churn allocates and frees n blocks of size bytes in C.
func Churn(n, size int) { C.cleak_churn(C.int(n), C.int(size)) }

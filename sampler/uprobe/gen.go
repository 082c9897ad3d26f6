//go:build linux && amd64

package uprobe

//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -tags linux -target amd64 -type alloc -type stack_totals -type pending malloc bpf/malloc.c -- -O2 -g -Wall -I/usr/include/x86_64-linux-gnu

// Package storage holds leakguard's bounded per-stack state: a
// multi-resolution History of compact Points per stack, and a Store that
// keeps at most a fixed number of stacks, evicting the least recently
// changed.
//
// Memory model: a Point is 16 bytes. A full History of capacity c at L
// levels holds c·L Points plus small headers — 48 points × 4 levels is
// about 3.4 KB — and buffers grow only as points arrive, so a stack seen a
// few times costs a few hundred bytes. A Store of n entries costs n
// Histories plus the LRU's per-entry overhead (about 100 bytes). Both are
// fixed by configuration, whatever the number of distinct stacks the host
// creates: TestStoreMemoryBound feeds a million distinct stacks through a
// Store of 10,000 and measures the retained heap.
package storage

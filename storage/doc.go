// Package storage holds leakguard's bounded per-stack state: a
// multi-resolution Counts history of each stack's evidence (live sampled
// objects, their peak, cumulative sampled births, the largest size born),
// a Clock holding the block end times once per family, and a Store that
// keeps at most a fixed number of stacks, evicting the least recently
// changed.
//
// Memory model: a block is stored in 12 bytes (Live and Born exact; Peak
// and Size to one part in 2048 above 2047, Peak rounded up and Size down).
// Level k of a Counts holds blocks of 2^k samples; a coarse level stores
// only the blocks the level below no longer holds, in one lazily grown
// array per stack, so a young stack costs little and a full one (every
// level reached) about 1.3 KB at the default 16 blocks × 10 levels. A Store of n entries costs n histories plus its
// per-entry bookkeeping. Both are fixed by configuration, whatever the
// number of distinct stacks the host creates: TestStoreMemoryBound feeds a
// million distinct stacks through a Store of 10,000 and measures the
// retained heap.
package storage

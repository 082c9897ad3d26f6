package storage_test

import (
	"fmt"

	"github.com/leakguard/leakguard/storage"
)

// A Counts keeps a stack's evidence — live and born sampled objects — at
// the newest samples and, coarser, in blocks of 2, 4, 8 … samples, each
// with its peak, in memory fixed by its capacity.
func ExampleCounts() {
	c, err := storage.NewCounts(8, 3)
	if err != nil {
		panic(err)
	}
	for i := range uint64(100) {
		c.Push(i, uint32(i%10), uint32(i), 0)
	}
	fmt.Println(c.Len(0), c.Len(1), c.Len(2))
	newest := c.Last(2, 1, nil)[0]
	fmt.Println(newest.Live, newest.Peak, newest.Born) // the block of samples 96..99
	// Output:
	// 8 8 8
	// 9 9 99
}

// A Store bounds how many keys are tracked, evicting the least recently
// used.
func ExampleStore() {
	s, err := storage.NewStore[string](2, func(key uint64, v string) { fmt.Println("evicted", key, v) })
	if err != nil {
		panic(err)
	}
	s.Add(1, "a")
	s.Add(2, "b")
	s.Get(1)
	s.Add(3, "c")
	fmt.Println(s.Len(), s.Evictions())
	// Output:
	// evicted 2 b
	// 2 1
}

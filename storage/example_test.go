package storage_test

import (
	"fmt"

	"github.com/leakguard/leakguard/storage"
)

// A History keeps the newest points at full resolution and means of 2, 4,
// 8 … points at coarser levels, in memory fixed by its capacity.
func ExampleHistory() {
	h, err := storage.NewHistory(8, 3)
	if err != nil {
		panic(err)
	}
	for i := range 100 {
		h.Push(storage.Point{T: float32(i), InUseBytes: float32(i)})
	}
	fmt.Println(h.Len(0), h.Len(1), h.Len(2), h.Pushed(0), h.Pushed(2))
	newest := h.Last(2, 1, nil)[0]
	fmt.Println(newest.InUseBytes) // the mean of raw points 96..99
	// Output:
	// 8 8 8 100 25
	// 97.5
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

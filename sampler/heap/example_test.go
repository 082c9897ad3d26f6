package heap_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/leakguard/leakguard/sampler"
	"github.com/leakguard/leakguard/sampler/heap"
)

// A heap Sampler reads the runtime's heap profile as of the last GC; it
// says so when no GC has run since the previous read.
func ExampleNew() {
	s, err := heap.New(heap.WithForceGC(true)) // a GC per sample: for tools and tests
	if err != nil {
		panic(err)
	}
	defer s.Close()
	smp, err := s.Sample(context.Background())
	if errors.Is(err, sampler.ErrNoNewData) {
		return
	}
	if err != nil {
		panic(err)
	}
	fmt.Println(smp.Resource, smp.Rate > 0)
	// Output: heap true
}

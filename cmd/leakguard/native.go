package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/leakguard/leakguard/sampler/uprobe"
)

// nativeFlags are the allocator-tracing flags attach and run share.
type nativeFlags struct {
	every, minSize  int
	library, prefix string
}

// register adds the flags; library says where the allocator is looked for
// when --library is not given.
func (n *nativeFlags) register(fs *flag.FlagSet, library string) {
	fs.IntVar(&n.every, "sample-every", 1, "record one allocation in N, at random (counts are scaled back)")
	fs.IntVar(&n.minSize, "min-size", 0, "ignore allocations smaller than this many bytes")
	fs.StringVar(&n.library, "library", "", "probe the allocator in this ELF file instead of "+library)
	fs.StringVar(&n.prefix, "symbol-prefix", "", "allocator symbol prefix, e.g. je_ for a prefixed jemalloc")
}

// options are the uprobe options the flags ask for.
func (n *nativeFlags) options() []uprobe.Option {
	opts := []uprobe.Option{uprobe.WithSampleEvery(n.every), uprobe.WithMinSize(n.minSize)}
	if n.library != "" {
		opts = append(opts, uprobe.WithLibrary(n.library))
	}
	if n.prefix != "" {
		opts = append(opts, uprobe.WithSymbolPrefix(n.prefix))
	}
	return opts
}

// validateNative checks the output and live flags of a native trace: the
// sample type is a pprof notion, a trace measures in-use bytes.
func validateNative(out *outputFlags, live *liveFlags) error {
	if err := out.validate(); err != nil {
		return err
	}
	if out.sampleType != "inuse_space" {
		return errors.New("--sample-type applies to pprof profiles; a native trace tests in-use bytes")
	}
	return live.validate()
}

// reportDrops says when the probes' maps overflowed: the counts are then
// an undercount.
func reportDrops(cmd string, src *uprobe.Sampler, stderr io.Writer) {
	if st, err := src.Stats(); err == nil && st.AllocsDropped+st.StacksDropped+st.PendingDropped+st.TotalsDropped > 0 {
		fmt.Fprintf(stderr, "leakguard %s: the probes could not record everything (undercounts): %+v\n", cmd, st)
	}
}

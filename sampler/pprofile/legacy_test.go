package pprofile

import (
	"bytes"
	"runtime"
	"runtime/pprof"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTextProfilesAreNamedLikeProtobufOnes writes the same heap and
// goroutine state in both formats and reads them: the debug=1 text names its
// stacks by the runtime's own symbolization (its comment lines), so the
// retaining stack has the same frames, and the same key, as in the debug=0
// protobuf, and no stack is left named by an address the runtime hid.
// (A goroutine's text stack also leaves out the runtime frames it is parked
// in; goroutines are keyed by their creation site, which both formats show.)
func TestTextProfilesAreNamedLikeProtobufOnes(t *testing.T) {
	rate := runtime.MemProfileRate
	runtime.MemProfileRate = 1
	defer func() { runtime.MemProfileRate = rate }()
	retainForTest(8)
	parked(t, 3)
	runtime.GC()
	const retainer = "github.com/leakguard/leakguard/sampler/pprofile.retainForTest"
	const parker = "github.com/leakguard/leakguard/sampler/pprofile.parkForTest"
	for _, tc := range []struct{ kind, site string }{{"heap", retainer}, {"goroutine", parker}} {
		stacks := map[int]map[uint64][]string{}
		for _, debug := range []int{0, 1} {
			var buf bytes.Buffer
			require.NoError(t, pprof.Lookup(tc.kind).WriteTo(&buf, debug))
			_, p, err := readProfile(&buf, DefaultMaxProfileSize, tc.kind, "as written")
			require.NoError(t, err)
			s, err := FromProfile(p, tc.kind, InUseSpace)
			require.NoError(t, err)
			stacks[debug] = map[uint64][]string{}
			for _, r := range s.Records {
				var names []string
				for _, f := range r.Frames {
					require.NotRegexp(t, `^0x[0-9a-f]+$`, f.Function, "%s debug=%d: a frame named by address", tc.kind, debug)
					names = append(names, f.Function)
				}
				stacks[debug][r.Stack] = names
			}
		}
		var found bool
		for key, names := range stacks[1] {
			if !contains(names, tc.site) {
				continue
			}
			found = true
			proto, ok := stacks[0][key]
			require.True(t, ok, "%s: the text profile's stack %v is a stack of the protobuf's", tc.kind, names)
			require.GreaterOrEqual(t, len(proto), len(names), tc.kind)
			require.Equal(t, proto[len(proto)-len(names):], names, tc.kind)
			if tc.kind == "heap" {
				require.Equal(t, proto, names, tc.kind)
			}
		}
		require.True(t, found, "%s: the text profile names %s", tc.kind, tc.site)
	}
}

func contains(names []string, want string) bool {
	for _, n := range names {
		if n == want {
			return true
		}
	}
	return false
}

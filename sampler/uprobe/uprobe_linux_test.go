//go:build linux && amd64

package uprobe

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/leakguard/leakguard/sampler"
)

const leakSize = 1000 // LEAK_SIZE in testdata/target.c

// TestCountsExactly checks that every allocation and free the target makes
// is seen: in-use bytes of the leaking site grow by exactly what it leaks,
// churning sites (malloc/free, calloc/realloc/free) hold nothing, and
// their cumulative counts match the calls made.
func TestCountsExactly(t *testing.T) {
	requireBPF(t)
	tg := startTarget(t, buildC(t, "target"), "leak")
	s, err := New(tg.cmd.Process.Pid)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })

	var prevSeq uint64
	for step := 1; step <= 4; step++ {
		tg.do(t, "step 25")
		n := int64(25 * step)
		got := sample(t, s)
		require.Greater(t, got.Seq, prevSeq, "Seq increases")
		prevSeq = got.Seq
		require.EqualValues(t, 1, got.Rate)
		require.Contains(t, got.Source, strconv.Itoa(tg.cmd.Process.Pid))

		leak, ok := find(got, "leak_here")
		require.True(t, ok, "leak_here's allocation site is reported: %v", got.Records)
		require.Equal(t, n*leakSize, leak.InUseBytes)
		require.Equal(t, n, leak.InUseObjects)
		require.Equal(t, n*leakSize, leak.AllocBytes)
		require.Equal(t, n, leak.AllocObjects)
		require.Equal(t, "leak_here", leak.Frames[0].Function, "the caller of malloc is the leaf frame")
		require.NotZero(t, leak.Stack)
		_, early := find(got, "early_here")
		require.False(t, early, "attached after the program's start, the sampler misses what it allocated before")

		churn, ok := find(got, "churn_here")
		require.True(t, ok)
		require.Zero(t, churn.InUseBytes, "freed blocks are not in use")
		require.Equal(t, n, churn.AllocObjects)
		require.Equal(t, n*64, churn.AllocBytes)

		// calloc(4, 32) then realloc to 256: two allocation records, both freed.
		var reallocBytes, reallocInUse int64
		for _, r := range got.Records {
			if len(r.Frames) > 0 && r.Frames[0].Function == "churn_calloc_realloc" {
				reallocBytes += r.AllocBytes
				reallocInUse += r.InUseBytes
			}
		}
		require.Equal(t, n*(128+256), reallocBytes)
		require.Zero(t, reallocInUse)
	}
	st, err := s.Stats()
	require.NoError(t, err)
	require.EqualValues(t, 4*25*4, st.Calls, "malloc, malloc, calloc, realloc per step")
	require.Equal(t, st.Calls, st.Recorded)
	require.EqualValues(t, 4*25*3, st.Frees, "realloc's move and two frees per step")
	require.Zero(t, st.AllocsDropped+st.StacksDropped+st.PendingDropped+st.TotalsDropped)
}

func TestSamplingAndMinSize(t *testing.T) {
	requireBPF(t)
	tests := []struct {
		name   string
		opts   []Option
		check  func(t *testing.T, got *sampler.Sample, st Stats)
		leakN  int64
		steps  int
		perCmd int
	}{
		{
			name: "min size keeps only large blocks",
			opts: []Option{WithMinSize(500)},
			check: func(t *testing.T, got *sampler.Sample, st Stats) {
				_, churn := find(got, "churn_here")
				require.False(t, churn, "64-byte blocks are below the minimum")
				leak, ok := find(got, "leak_here")
				require.True(t, ok)
				require.EqualValues(t, 200*leakSize, leak.InUseBytes)
				require.EqualValues(t, 200, st.Recorded)
			},
			steps: 2, perCmd: 100,
		},
		{
			name: "sampling one in four scales counts back",
			opts: []Option{WithSampleEvery(4)},
			check: func(t *testing.T, got *sampler.Sample, st Stats) {
				require.Greater(t, got.Rate, int64(1), "Rate reports the sampling")
				// 16000 calls sampled with p = 1/4: Recorded ~ Binomial, sd ~55;
				// 6 sd bounds make a flaky failure practically impossible.
				require.InDelta(t, float64(st.Calls)/4, float64(st.Recorded), 6*55)
				leak, ok := find(got, "leak_here")
				require.True(t, ok)
				require.Zero(t, leak.InUseObjects%4, "counts are scaled by 4")
				// 4000 leaked blocks, each kept with p = 1/4: sd of the
				// estimate is 4*sqrt(4000*3/16) ~ 110 blocks.
				require.InDelta(t, 4000, float64(leak.InUseObjects), 6*110)
				churn, ok := find(got, "churn_here")
				require.True(t, ok)
				require.Zero(t, churn.InUseBytes, "sampled blocks that were freed are not in use")
			},
			steps: 4, perCmd: 1000,
		},
	}
	bin := buildC(t, "target")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tg := startTarget(t, bin, "leak")
			s, err := New(tg.cmd.Process.Pid, tc.opts...)
			require.NoError(t, err)
			defer s.Close()
			for range tc.steps {
				tg.do(t, "step "+strconv.Itoa(tc.perCmd))
			}
			got := sample(t, s)
			st, err := s.Stats()
			require.NoError(t, err)
			tc.check(t, got, st)
		})
	}
}

// TestTargetExits checks that a sampler whose target is gone says so and
// still closes cleanly, twice.
func TestTargetExits(t *testing.T) {
	requireBPF(t)
	tg := startTarget(t, buildC(t, "target"), "leak")
	s, err := New(tg.cmd.Process.Pid)
	require.NoError(t, err)
	tg.do(t, "step 3")
	sample(t, s)
	tg.quit(t)
	_, err = s.Sample(context.Background())
	require.ErrorIs(t, err, os.ErrProcessDone)
	_, err = s.Sample(context.Background())
	require.ErrorIs(t, err, os.ErrProcessDone, "stays gone")
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	_, err = s.Sample(context.Background())
	require.ErrorIs(t, err, sampler.ErrClosed)
}

func TestNewErrors(t *testing.T) {
	// A PID beyond pid_max never exists.
	_, err := New(1 << 30)
	require.ErrorIs(t, err, os.ErrProcessDone)
	_, err = New(-1)
	require.ErrorContains(t, err, "negative")
	_, err = New(0, nil)
	require.ErrorContains(t, err, "nil Option")
	_, err = New(0, WithLibrary("/nonexistent/libc.so.6"))
	require.ErrorContains(t, err, "/nonexistent/libc.so.6")

	requireBPF(t)
	static := buildC(t, "target", "-static")
	tg := startTarget(t, static)
	_, err = New(tg.cmd.Process.Pid)
	require.ErrorIs(t, err, ErrNoAllocator)
	require.ErrorContains(t, err, "WithLibrary")

	// The executable itself holds the allocator: name it and it is probed.
	tg.do(t, "step 1") // static glibc resolves malloc lazily on first use
	s, err := New(tg.cmd.Process.Pid, WithLibrary(static))
	require.NoError(t, err)
	defer s.Close()
	tg.do(t, "step 5")
	got := sample(t, s)
	_, ok := find(got, "churn_here")
	require.True(t, ok, "a static binary's own malloc is probed: %v", got.Records)
}

func TestOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		opt  Option
		want string
	}{
		{WithSampleEvery(0), "WithSampleEvery(0)"},
		{WithMinSize(-1), "WithMinSize(-1)"},
		{WithLibrary(""), "WithLibrary"},
		{WithMaxOutstanding(0), "WithMaxOutstanding(0)"},
		{WithMaxStacks(1 << 21), "WithMaxStacks"},
	} {
		_, err := New(0, tc.opt)
		require.ErrorContains(t, err, tc.want)
	}
}

func TestCapsAllow(t *testing.T) {
	for _, tc := range []struct {
		status string
		ok     bool
	}{
		{"Name:\tx\nCapEff:\t000001ffffffffff\n", true},
		{"CapEff:\t0000000000200000\n", true},  // CAP_SYS_ADMIN
		{"CapEff:\t000000c000000000\n", true},  // CAP_BPF + CAP_PERFMON
		{"CapEff:\t0000008000000000\n", false}, // CAP_BPF alone
		{"CapEff:\t0000000000000000\n", false},
		{"Name:\tx\n", false},
	} {
		err := capsAllow([]byte(tc.status))
		if tc.ok {
			require.NoError(t, err, tc.status)
		} else {
			require.ErrorIs(t, err, ErrPermission, tc.status)
		}
	}
}

func TestParseProc(t *testing.T) {
	maps := parseMaps([]byte(`55d0c0a00000-55d0c0a01000 r--p 00000000 08:01 123 /usr/bin/prog
55d0c0a01000-55d0c0a05000 r-xp 00001000 08:01 123 /usr/bin/prog
7f0000000000-7f0000100000 r-xp 00028000 08:01 456 /usr/lib/x86_64-linux-gnu/libc.so.6
7f0000200000-7f0000201000 r-xp 00000000 00:00 0 
7f0000300000-7f0000301000 r-xp 00000000 08:01 789 /tmp/my lib.so (deleted)
`))
	require.Len(t, maps, 3)
	libc, ok := findLibc(maps)
	require.True(t, ok)
	require.Equal(t, "/usr/lib/x86_64-linux-gnu/libc.so.6", libc)
	m, ok := findMapping(maps, 0x7f0000000010)
	require.True(t, ok)
	require.EqualValues(t, 0x28000, m.off)
	_, ok = findMapping(maps, 0x7f0000200010)
	require.False(t, ok, "anonymous executable memory is not a file mapping")
	require.Equal(t, "/tmp/my lib.so (deleted)", maps[2].path)

	st, err := parseStartTime([]byte("42 (a (b) c) S 1 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 98765 1 2 3"))
	require.NoError(t, err)
	require.EqualValues(t, 98765, st)
	_, err = parseStartTime([]byte("42 (x) Z 1 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 98765 1 2 3"))
	require.ErrorIs(t, err, os.ErrProcessDone)
	_, err = parseStartTime([]byte("garbage"))
	require.Error(t, err)
}

// BenchmarkTracedMalloc measures what the probes cost the traced program:
// the time of one malloc/free pair in the target, untraced and traced.
func BenchmarkTracedMalloc(b *testing.B) {
	requireBPF(b)
	bin := buildC(b, "target")
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{"untraced", nil},
		{"traced", []Option{}},
		{"traced-every-64", []Option{WithSampleEvery(64)}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			tg := startTarget(b, bin)
			if tc.opts != nil {
				s, err := New(tg.cmd.Process.Pid, tc.opts...)
				require.NoError(b, err)
				defer s.Close()
			}
			b.ResetTimer()
			tg.do(b, "churn "+strconv.Itoa(b.N))
			// Detaching the probes (the deferred Close) takes over a second;
			// timed, it was the whole figure and kept b.N at 1.
			b.StopTimer()
		})
	}
}

package pprofile

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/require"

	"github.com/leakguard/leakguard/internal/pproftest"
)

var retained [][]byte

//go:noinline
func retainForTest(n int) {
	for range n {
		retained = append(retained, make([]byte, 64<<10))
	}
}

// heapProfile returns a real heap profile of this process in which
// retainForTest holds memory. Every allocation is recorded while it runs:
// at the default rate 512 KiB of allocations go unsampled about a third of
// the time, which made the attribution assertion flaky.
func heapProfile(t testing.TB) []byte {
	t.Helper()
	rate := runtime.MemProfileRate
	runtime.MemProfileRate = 1
	defer func() { runtime.MemProfileRate = rate }()
	retainForTest(8)
	runtime.GC()
	var buf bytes.Buffer
	require.NoError(t, pprof.Lookup("heap").WriteTo(&buf, 0))
	return buf.Bytes()
}

// cpuProfile is a minimal profile of a kind this package does not read.
func cpuProfile() *profile.Profile {
	fn := &profile.Function{ID: 1, Name: "main.spin"}
	loc := &profile.Location{ID: 1, Line: []profile.Line{{Function: fn}}}
	return &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		Sample:     []*profile.Sample{{Location: []*profile.Location{loc}, Value: []int64{1, 10e6}}},
		Location:   []*profile.Location{loc},
		Function:   []*profile.Function{fn},
		TimeNanos:  1,
	}
}

func goroutineProfile(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, pprof.Lookup("goroutine").WriteTo(&buf, 0))
	return buf.Bytes()
}

func TestFromProfile(t *testing.T) {
	heap, err := profile.ParseData(heapProfile(t))
	require.NoError(t, err)
	gor, err := profile.ParseData(goroutineProfile(t))
	require.NoError(t, err)

	find := func(t *testing.T, st SampleType) (bytes, objects int64) {
		s, err := FromProfile(heap, "heap.pb.gz", st)
		require.NoError(t, err)
		require.Equal(t, heap.TimeNanos, s.Time.UnixNano())
		require.Equal(t, heap.Period, s.Rate)
		seen := map[uint64]bool{}
		for _, r := range s.Records {
			require.False(t, seen[r.Stack], "records are aggregated per stack")
			seen[r.Stack] = true
			if len(r.Frames) > 0 && r.Frames[0].Function == "github.com/leakguard/leakguard/sampler/pprofile.retainForTest" {
				bytes += r.InUseBytes
				objects += r.InUseObjects
			}
		}
		return bytes, objects
	}
	spaceBytes, spaceObjects := find(t, InUseSpace)
	require.GreaterOrEqual(t, spaceBytes, int64(8*64<<10), "the retained memory is attributed to its allocation site")
	objBytes, objObjects := find(t, InUseObjects)
	require.Equal(t, spaceObjects, objObjects)
	require.Equal(t, objObjects, objBytes, "with inuse_objects, InUseBytes carries the object count")

	for _, tc := range []struct {
		name string
		p    *profile.Profile
		st   SampleType
		want string
	}{
		{"nil", nil, InUseSpace, "nil profile"},
		{"cpu profile", cpuProfile(), InUseSpace, "neither a heap nor a goroutine profile"},
		{"unknown sample type", heap, "alloc_space", "unknown sample type"},
		{"unknown sample type, goroutines", gor, "alloc_space", "unknown sample type"},
	} {
		_, err := FromProfile(tc.p, "x.pb.gz", tc.st)
		require.ErrorContains(t, err, tc.want, tc.name)
	}
}

func TestOpenErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, data, 0o600))
		return p
	}
	good := write("good.pb.gz", heapProfile(t))
	good2 := write("good2.pb.gz", heapProfile(t))
	corrupt := write("corrupt.pb.gz", []byte("not a profile"))
	gor := write("goroutine.pb.gz", goroutineProfile(t))
	var cpu bytes.Buffer
	require.NoError(t, cpuProfile().Write(&cpu))
	cpuFile := write("cpu.pb.gz", cpu.Bytes())
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.Mkdir(empty, 0o755))

	_, err := Open([]string{good, corrupt})
	require.ErrorContains(t, err, corrupt)
	_, err = Open([]string{good, cpuFile})
	require.ErrorIs(t, err, ErrNotSupported)
	require.ErrorContains(t, err, cpuFile)
	_, err = Open([]string{good, gor})
	require.ErrorContains(t, err, "one kind at a time")
	require.ErrorContains(t, err, gor)
	_, err = Open([]string{empty})
	require.EqualError(t, err, "no profiles in "+empty+": the directory holds no files")
	_, err = Open([]string{good, good})
	require.ErrorContains(t, err, "same timestamp")
	_, err = Open(nil)
	require.Error(t, err)

	f, err := Open([]string{good2, corrupt, good}, SkipBad())
	require.NoError(t, err)
	require.Equal(t, 2, f.Len())
	require.Len(t, f.Skipped(), 1)
	s := f.Samples()
	require.True(t, s[0].Time.Before(s[1].Time), "ordered by the profiles' own time, not by name")
}

// FuzzProfile feeds arbitrary bytes through the CLI's ingestion path:
// pprof parsing, conversion to a Sample in both modes, and Open on a file.
// Nothing may panic; whatever converts is aggregated per stack.
func FuzzProfile(f *testing.F) {
	f.Add(heapProfile(f))
	f.Add(goroutineProfile(f))
	for _, kind := range []string{"heap", "goroutine"} {
		var buf bytes.Buffer
		require.NoError(f, pprof.Lookup(kind).WriteTo(&buf, 1))
		f.Add(buf.Bytes())
	}
	f.Add([]byte("heap profile: 1: 8 [1: 8] @ heap/1\n1: 8 [1: 8] @ 0x2 0x3\n#\t0x1\tmain.f+0x1\t\t/a.go:1\n#\t0x1\n#\t0x2\t+0x\tx:y\n"))
	f.Add([]byte{})
	f.Add([]byte("\x1f\x8b\x08\x00garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := profile.ParseData(data)
		if err != nil {
			return
		}
		for _, st := range []SampleType{InUseSpace, InUseObjects} {
			s, err := FromProfile(p, "fuzz", st)
			if err != nil {
				continue
			}
			seen := make(map[uint64]bool, len(s.Records))
			for _, r := range s.Records {
				require.False(t, seen[r.Stack])
				seen[r.Stack] = true
			}
		}
		path := filepath.Join(t.TempDir(), "p.pb.gz")
		require.NoError(t, os.WriteFile(path, data, 0o600))
		if fs, err := Open([]string{path}); err == nil {
			require.Equal(t, 1, fs.Len())
		}
	})
}

// TestHTTPCapsTheResponse serves an endless body: the sampler stops
// reading at its cap and says so, instead of filling the host's memory.
func TestHTTPCapsTheResponse(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte{0x1f}, 4096)
		for range 64 { // 256 KiB, far past the test's cap
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	h, err := NewHTTP(srv.URL, WithHTTPMaxProfileSize(16<<10))
	require.NoError(t, err)
	_, err = h.Sample(context.Background())
	require.ErrorIs(t, err, ErrTooLarge)
	require.ErrorContains(t, err, "more than 16384 bytes as received")
}

// TestOpenSkipsRepeatedProfiles stores one heap profile three times under
// later timestamps, as an endpoint read between garbage collections serves
// it: one observation, two repeats.
func TestOpenSkipsRepeatedProfiles(t *testing.T) {
	p, err := profile.ParseData(heapProfile(t))
	require.NoError(t, err)
	dir := t.TempDir()
	var names []string
	p.TimeNanos -= 10e9 // the repeats come before the other profile, taken later
	for i := range 3 {
		p.TimeNanos += int64(i+1) * 1e9
		var buf bytes.Buffer
		require.NoError(t, p.Write(&buf))
		name := filepath.Join(dir, fmt.Sprintf("heap-%d.pb.gz", i))
		require.NoError(t, os.WriteFile(name, buf.Bytes(), 0o600))
		names = append(names, name)
	}
	names = append(names, filepath.Join(dir, "other.pb.gz"))
	require.NoError(t, os.WriteFile(names[3], heapProfile(t), 0o600))
	f, err := Open(names)
	require.NoError(t, err)
	require.Equal(t, 2, f.Len())
	require.Equal(t, 2, f.Repeated())
}

// TestOpenSkipsRepeatsWithNewEmptyStacks: between two collections the
// runtime already lists a stack it has sampled an allocation at, with zero
// counts until a collection publishes them. A profile that gained only
// such a stack repeats the one before it.
func TestOpenSkipsRepeatsWithNewEmptyStacks(t *testing.T) {
	withEmptyStack := func(p *profile.Profile) *profile.Profile {
		fn := &profile.Function{ID: 2, Name: "main.startup", Filename: "main.go"}
		loc := &profile.Location{ID: 2, Line: []profile.Line{{Function: fn, Line: 9}}}
		p.Function = append(p.Function, fn)
		p.Location = append(p.Location, loc)
		p.Sample = append(p.Sample, &profile.Sample{Location: []*profile.Location{loc}, Value: []int64{0, 0, 0, 0}})
		return p
	}
	dir := t.TempDir()
	for i, p := range []*profile.Profile{
		snapshot(10, 1024, 5, 5),
		withEmptyStack(snapshot(11, 1024, 5, 5)), // a repeat
		snapshot(12, 1024, 8, 6),
	} {
		var buf bytes.Buffer
		require.NoError(t, p.Write(&buf))
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("heap-%d.pb.gz", i)), buf.Bytes(), 0o600))
	}
	f, err := Open([]string{dir})
	require.NoError(t, err)
	require.Equal(t, 2, f.Len())
	require.Equal(t, 1, f.Repeated())
}

// TestOpenDatesProfilesAtTheCollectionTheyShow: when some profiles repeat
// the one before them, the series was fetched faster than the program
// collects, and each profile shows the collection before the one after
// which it was first seen: it is dated when the profile before it was
// fetched, the first one interval earlier. Without repeats, nothing moves.
func TestOpenDatesProfilesAtTheCollectionTheyShow(t *testing.T) {
	for _, tc := range []struct {
		name  string
		snaps []*profile.Profile
		want  []int64 // seconds
	}{
		{"repeats", []*profile.Profile{snapshot(10, 1024, 5, 5), snapshot(11, 1024, 5, 5), snapshot(12, 1024, 8, 6), snapshot(13, 1024, 8, 6), snapshot(15, 1024, 9, 7)}, []int64{8, 10, 12}},
		{"no repeats", []*profile.Profile{snapshot(10, 1024, 5, 5), snapshot(12, 1024, 8, 6), snapshot(15, 1024, 9, 7)}, []int64{10, 12, 15}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for i, p := range tc.snaps {
				var buf bytes.Buffer
				require.NoError(t, p.Write(&buf))
				require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("heap-%d.pb.gz", i)), buf.Bytes(), 0o600))
			}
			f, err := Open([]string{dir})
			require.NoError(t, err)
			var got []int64
			for _, s := range f.Samples() {
				got = append(got, s.Time.Unix())
			}
			require.Equal(t, tc.want, got)
		})
	}
}

// TestOpenPlacesTextProfilesAtTheirFilesTimes reads debug=1 text profiles,
// which carry no timestamp: each is placed at its file's modification time,
// whatever the files' names say, and two files written at the same time
// cannot make a series.
func TestOpenPlacesTextProfilesAtTheirFilesTimes(t *testing.T) {
	dir := t.TempDir()
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rate := runtime.MemProfileRate
	runtime.MemProfileRate = 1 // each profile differs from the one before
	defer func() { runtime.MemProfileRate = rate }()
	write := func(name string, kind string, at time.Time) string {
		retainForTest(4)
		runtime.GC()
		var buf bytes.Buffer
		require.NoError(t, pprof.Lookup(kind).WriteTo(&buf, 1))
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o600))
		require.NoError(t, os.Chtimes(path, at, at))
		return path
	}
	for _, kind := range []string{"heap", "goroutine"} {
		// Written in time order (a heap profile's allocations only grow),
		// named against it.
		earlier := write(kind+"-b.txt", kind, base.Add(time.Second))
		later := write(kind+"-a.txt", kind, base.Add(2*time.Second))
		f, err := Open([]string{later, earlier})
		require.NoError(t, err, kind)
		require.Equal(t, 2, f.Undated(), kind)
		s := f.Samples()
		require.Len(t, s, 2, kind)
		require.Equal(t, base.Add(time.Second), s[0].Time.UTC(), kind)
		require.Equal(t, base.Add(2*time.Second), s[1].Time.UTC(), kind)
		require.NotEmpty(t, s[1].Records, kind)

		same := write(kind+"-c.txt", kind, base.Add(time.Second))
		_, err = Open([]string{earlier, same})
		require.ErrorContains(t, err, "modification times", kind)
	}
}

// snapshot is pproftest.Snapshot: one process's heap at second sec.
var snapshot = pproftest.Snapshot

// TestOpenRefusesWhatIsNotOneSeries stores series that do not follow one
// process's heap through snapshots: each is refused with what is wrong,
// naming the file, rather than read as a flat or growing heap.
func TestOpenRefusesWhatIsNotOneSeries(t *testing.T) {
	delta := snapshot(3, 512<<10, 300, 30)
	delta.DurationNanos = 5e9 // what /debug/pprof/heap?seconds=5 serves
	negative := snapshot(3, 512<<10, 300, 30)
	negative.Sample[0].Value[2], negative.Sample[0].Value[3] = -4, -4<<10
	for _, tc := range []struct {
		name  string
		ps    []*profile.Profile
		opts  []FilesOption
		want  string
		is    error
		count int // profiles in the series when accepted
	}{
		{"one process", []*profile.Profile{snapshot(1, 512<<10, 100, 10), snapshot(2, 512<<10, 200, 20), snapshot(3, 512<<10, 300, 30)}, nil, "", nil, 3},
		{"delta profile", []*profile.Profile{snapshot(1, 512<<10, 100, 10), snapshot(2, 512<<10, 200, 20), delta}, nil, "p2.pb.gz: a delta profile", ErrDelta, 0},
		{"negative in-use value", []*profile.Profile{snapshot(1, 512<<10, 100, 10), snapshot(2, 512<<10, 200, 20), negative}, nil, "p2.pb.gz: a delta profile", ErrDelta, 0},
		{"delta left out", []*profile.Profile{snapshot(1, 512<<10, 100, 10), snapshot(2, 512<<10, 200, 20), delta}, []FilesOption{SkipBad()}, "", nil, 2},
		{"restart", []*profile.Profile{snapshot(1, 512<<10, 100, 10), snapshot(2, 512<<10, 200, 20), snapshot(3, 512<<10, 50, 5)}, nil, "p2.pb.gz counts fewer allocations since its process started than ", nil, 0},
		{"two processes interleaved", []*profile.Profile{snapshot(1, 512<<10, 100, 10), snapshot(2, 512<<10, 1000, 20), snapshot(3, 512<<10, 150, 15)}, nil, "the process restarted between them, or the profiles are of two processes", nil, 0},
		{"rate changed", []*profile.Profile{snapshot(1, 512<<10, 100, 10), snapshot(2, 512<<10, 200, 20), snapshot(3, 64<<10, 300, 30)}, nil, "p1.pb.gz was sampled at a rate of 524288 bytes and ", nil, 0},
		{"restart at another rate", []*profile.Profile{snapshot(1, 512<<10, 100, 10), snapshot(2, 512<<10, 200, 20), snapshot(3, 64<<10, 20, 5)}, nil, "restarted", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var names []string
			for i, p := range tc.ps {
				var buf bytes.Buffer
				require.NoError(t, p.Write(&buf))
				name := filepath.Join(dir, fmt.Sprintf("p%d.pb.gz", i))
				require.NoError(t, os.WriteFile(name, buf.Bytes(), 0o600))
				names = append(names, name)
			}
			f, err := Open(names, tc.opts...)
			if tc.want == "" {
				require.NoError(t, err)
				require.Equal(t, tc.count, f.Len())
				return
			}
			require.ErrorContains(t, err, tc.want)
			if tc.is != nil {
				require.ErrorIs(t, err, tc.is)
			}
		})
	}
}

// TestOpenRefusesMixedFormats stores a debug=1 text heap profile beside a
// debug=0 one: the text format is timed by its file, the protobuf by its
// own timestamp, so the series would be ordered by two clocks.
func TestOpenRefusesMixedFormats(t *testing.T) {
	dir := t.TempDir()
	proto := filepath.Join(dir, "heap.pb.gz")
	require.NoError(t, os.WriteFile(proto, heapProfile(t), 0o600))
	var buf bytes.Buffer
	require.NoError(t, pprof.Lookup("heap").WriteTo(&buf, 1))
	text := filepath.Join(dir, "heap.txt")
	require.NoError(t, os.WriteFile(text, buf.Bytes(), 0o600))
	later := time.Now().Add(time.Hour)
	require.NoError(t, os.Chtimes(text, later, later))
	_, err := Open([]string{dir})
	require.ErrorContains(t, err, text+" is a debug=1 text profile (timed by its file) and "+proto+" a debug=0 profile")
}

// TestHTTPFollowsOneProcess serves a scripted endpoint: a URL asking for
// a delta is refused up front, a restart starts a new Epoch, and a change
// of sampling rate within the process or a delta is an error.
func TestHTTPFollowsOneProcess(t *testing.T) {
	_, err := NewHTTP("http://localhost:6060/debug/pprof/heap?seconds=5")
	require.ErrorContains(t, err, "drop seconds= from the URL")

	delta := snapshot(9, 512<<10, 900, 30)
	delta.DurationNanos = 5e9
	script := []*profile.Profile{
		snapshot(1, 512<<10, 100, 10),
		snapshot(2, 512<<10, 200, 20),
		snapshot(3, 512<<10, 50, 5), // restarted
		snapshot(4, 512<<10, 60, 6),
		snapshot(5, 64<<10, 70, 7), // the same process at another rate
		delta,
	}
	var served int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, script[served].Write(w))
		served++
	}))
	defer srv.Close()
	h, err := NewHTTP(srv.URL)
	require.NoError(t, err)
	for _, want := range []struct {
		epoch uint64
		err   error
	}{{1, nil}, {1, nil}, {2, nil}, {2, nil}, {0, ErrRateChanged}, {0, ErrDelta}} {
		s, err := h.Sample(context.Background())
		if want.err != nil {
			require.ErrorIs(t, err, want.err, "profile %d", served)
			continue
		}
		require.NoError(t, err, "profile %d", served)
		require.Equal(t, want.epoch, s.Epoch, "profile %d", served)
	}
}

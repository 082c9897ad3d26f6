//go:build linux && amd64

package uprobe

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/leakguard/leakguard/sampler"
)

// markedLine returns the 1-based line of testdata/name.c that carries the
// comment "line: marker", so that tests follow the source as it is edited.
func markedLine(t testing.TB, name, marker string) int {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name+".c"))
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if strings.Contains(sc.Text(), "/* line: "+marker+" */") {
			return n
		}
	}
	require.NoError(t, sc.Err())
	t.Fatalf("no line marked %q in %s.c", marker, name)
	return 0
}

// bodyLines returns the lines from a function's signature in
// testdata/name.c to its closing brace.
func bodyLines(t testing.TB, name, signature string) (first, last int) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name+".c"))
	require.NoError(t, err)
	for i, l := range strings.Split(string(data), "\n") {
		switch {
		case first == 0 && strings.Contains(l, signature):
			first = i + 1
		case first != 0 && l == "}":
			return first, i + 1
		}
	}
	t.Fatalf("no function %q in %s.c", signature, name)
	return 0, 0
}

func elfSymbol(t testing.TB, path, name string) elf.Symbol {
	t.Helper()
	f, err := elf.Open(path)
	require.NoError(t, err)
	defer f.Close()
	syms, err := f.Symbols()
	require.NoError(t, err)
	for _, s := range syms {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no symbol %s in %s", name, path)
	return elf.Symbol{}
}

func TestDWARFLineTable(t *testing.T) {
	code := func(a uint64) bool { return a >= 0x1000 && a < 0x9000 }
	b := newLineBuilder(code)
	f, g := b.file("f.c"), b.file("g.c")
	// Sequences arrive in no particular order; the second starts where the
	// first ends, as adjacent functions do.
	b.sequence([]lineRow{{0x2000, g, 20}, {0x2010, g, 21}, {0x2020, 0, 0}})
	b.sequence([]lineRow{{0x1000, f, 10}, {0x1008, f, 10}, {0x1010, f, 11}, {0x1010, f, 12}, {0x1018, 0, 0}, {0x1020, f, 13}, {0x2000, 0, 0}})
	// Discarded code the linker left at 0 must not shadow real code.
	b.sequence([]lineRow{{0, f, 99}, {0x3000, 0, 0}})
	// A sequence of one row (its end) describes nothing.
	b.sequence([]lineRow{{0x4000, 0, 0}})
	tab := b.table()
	for _, tc := range []struct {
		addr uint64
		file string
		line int
	}{
		{0x0fff, "", 0},
		{0x1000, "f.c", 10},
		{0x100f, "f.c", 10},
		{0x1010, "f.c", 12}, // the last row at an address wins
		{0x1017, "f.c", 12},
		{0x1018, "", 0}, // line 0: no source line
		{0x1020, "f.c", 13},
		{0x1fff, "f.c", 13},
		{0x2000, "g.c", 20}, // the next sequence's start beats the previous end
		{0x2015, "g.c", 21},
		{0x2020, "", 0},
		{0x2fff, "", 0},
		{0x8000, "", 0},
	} {
		file, line, ok := tab.lookup(tc.addr)
		require.Equal(t, tc.line != 0, ok, "%#x", tc.addr)
		require.Equal(t, tc.file, file, "%#x", tc.addr)
		require.Equal(t, tc.line, line, "%#x", tc.addr)
	}
	require.Len(t, tab.rows, 7, "repeated lines are merged: %v", tab.rows)
}

// TestSymbolizeDWARF reads the lines of a program compiled with -g, and
// the names of its functions once its symbol table is stripped, without
// running it.
func TestSymbolizeDWARF(t *testing.T) {
	bin := buildC(t, "target", "-g")
	fn := elfSymbol(t, bin, "leak_here")
	first, last := bodyLines(t, "target", "void leak_here(void) {")
	mallocLine := markedLine(t, "target", "leak_here's malloc")

	o := loadObject(bin, maxLineRows)
	require.NotEmpty(t, o.lines.rows, "a -g binary has a line table")
	seen := map[int]bool{}
	for pc := fn.Value; pc < fn.Value+fn.Size; pc++ {
		file, line, ok := o.lines.lookup(pc)
		require.True(t, ok, "%#x has a line", pc)
		require.Equal(t, "target.c", filepath.Base(file))
		require.True(t, line >= first && line <= last, "%#x: line %d is in leak_here (%d-%d)", pc, line, first, last)
		seen[line] = true
	}
	require.True(t, seen[mallocLine], "the malloc call's line %d is in the table: %v", mallocLine, seen)
	_, _, ok := o.lines.lookup(0)
	require.False(t, ok)

	// Without debug information, frames keep the object and no line.
	plainBin := buildC(t, "target")
	plain := loadObject(plainBin, maxLineRows)
	require.Empty(t, plain.lines.rows)
	fr := plain.frame(elfSymbol(t, plainBin, "leak_here").Value+1, "/bin/target")
	require.Equal(t, sampler.Frame{Function: "leak_here", File: "/bin/target"}, fr)

	// A budget too small for the table keeps names and drops lines.
	require.Empty(t, loadObject(bin, 2).lines.rows)

	strip, err := exec.LookPath("strip")
	if err != nil {
		skipOrFail(t, "no strip (binutils) to remove the symbol table")
	}
	stripped := filepath.Join(t.TempDir(), "stripped")
	msg, err := exec.Command(strip, "--strip-all", "--keep-section=.debug_*", "-o", stripped, bin).CombinedOutput()
	require.NoError(t, err, "%s", msg)
	s := loadObject(stripped, maxLineRows)
	_, ok = lookupSym(s.syms, fn.Value)
	require.False(t, ok, "the dynamic symbols do not name leak_here")
	require.NotEmpty(t, s.funcs)
	fr = s.frame(fn.Value+fn.Size/2+1, stripped)
	require.Equal(t, "leak_here", fr.Function, "DWARF names it")
	require.Equal(t, "target.c", filepath.Base(fr.File))
}

// TestDWARFStacks traces a program compiled with -g: the leaking site's
// frame carries the malloc call's file and line, and its caller's frame
// the line of the call to it (not the line after).
func TestDWARFStacks(t *testing.T) {
	requireBPF(t)
	tg := startTarget(t, buildC(t, "target", "-g"), "leak")
	s, err := New(tg.cmd.Process.Pid)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	tg.do(t, "step 3")
	got := sample(t, s)
	leak, ok := find(got, "leak_here")
	require.True(t, ok, "%v", got.Records)
	leaf := leak.Frames[0]
	require.Equal(t, "leak_here", leaf.Function)
	require.True(t, strings.HasSuffix(leaf.File, "/target.c"), "file %q", leaf.File)
	require.Equal(t, markedLine(t, "target", "leak_here's malloc"), leaf.Line)
	require.GreaterOrEqual(t, len(leak.Frames), 2)
	caller := leak.Frames[1]
	require.Equal(t, "main", caller.Function)
	require.True(t, strings.HasSuffix(caller.File, "/target.c"), "file %q", caller.File)
	require.Equal(t, markedLine(t, "target", "main calls leak_here"), caller.Line)
}

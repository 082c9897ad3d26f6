//go:build linux

package uprobe

import (
	"cmp"
	"debug/dwarf"
	"debug/elf"
	"errors"
	"io"
	"path"
	"slices"
	"strings"
)

// Bounds on what one symbolizer keeps from debug information: a large
// C++ binary carries gigabytes of DWARF, and a sampler must not cost more
// memory than the leak it looks for. Objects beyond them are symbolised
// from their symbol tables alone.
const (
	// maxDWARFBytes bounds the debug sections of one object, which
	// debug/elf reads (and decompresses) whole.
	maxDWARFBytes = 256 << 20
	// maxLineRows bounds the line-table rows kept by one symbolizer, over
	// all its objects (16 bytes each).
	maxLineRows = 1 << 22
)

// lineRow starts an address range of one source line. A row with line 0
// ends a sequence: the addresses after it have no line until the next row.
type lineRow struct {
	addr uint64
	file uint32
	line uint32
}

// lineTable maps addresses of one object to source lines. Reading the
// DWARF line programs on every lookup would cost a scan of every compile
// unit; flattened and sorted once, a lookup is a binary search.
type lineTable struct {
	rows  []lineRow // sorted by addr
	files []string
}

// lookup returns the source file and line of the instruction at addr.
func (t *lineTable) lookup(addr uint64) (string, int, bool) {
	i, found := slices.BinarySearchFunc(t.rows, addr, func(r lineRow, a uint64) int { return cmp.Compare(r.addr, a) })
	if !found {
		i--
	}
	if i < 0 || t.rows[i].line == 0 {
		return "", 0, false
	}
	return t.files[t.rows[i].file], int(t.rows[i].line), true
}

// lineBuilder collects the sequences of an object's line programs.
type lineBuilder struct {
	rows    []lineRow
	files   []string
	fileIdx map[string]uint32
	// code says whether an address lies in the object's executable
	// segments: sequences elsewhere describe code the linker discarded
	// (left at address 0 or a tombstone) and would shadow real code.
	code func(uint64) bool
}

func newLineBuilder(code func(uint64) bool) *lineBuilder {
	return &lineBuilder{fileIdx: make(map[string]uint32), code: code}
}

func (b *lineBuilder) file(name string) uint32 {
	if i, ok := b.fileIdx[name]; ok {
		return i
	}
	i := uint32(len(b.files))
	b.files = append(b.files, name)
	b.fileIdx[name] = i
	return i
}

// sequence adds one sequence of rows whose last row (line 0) is its end
// address.
func (b *lineBuilder) sequence(seq []lineRow) {
	if len(seq) < 2 || !b.code(seq[0].addr) {
		return
	}
	b.rows = append(b.rows, seq...)
}

// table sorts and compacts the rows. Where one sequence ends at the
// address the next begins (adjacent functions, the common case), the end
// must not hide the beginning; where several rows of a sequence share an
// address, the last describes the instruction there.
func (b *lineBuilder) table() lineTable {
	rows := b.rows
	slices.SortStableFunc(rows, func(x, y lineRow) int {
		if c := cmp.Compare(x.addr, y.addr); c != 0 {
			return c
		}
		// Ends before starts at the same address; rows of one sequence
		// keep their order.
		return cmp.Compare(min(x.line, 1), min(y.line, 1))
	})
	out := rows[:0]
	for _, r := range rows {
		if n := len(out); n > 0 && out[n-1].addr == r.addr {
			out[n-1] = r
			continue
		}
		out = append(out, r)
	}
	// A row that repeats the previous file and line adds nothing to a
	// lookup; dropping it halves a typical table.
	rows = out
	out = rows[:0]
	for _, r := range rows {
		if n := len(out); n > 0 && out[n-1].line == r.line && out[n-1].file == r.file {
			continue
		}
		out = append(out, r)
	}
	return lineTable{rows: slices.Clip(out), files: b.files}
}

// errTooManyRows stops reading an object's line programs past the budget.
var errTooManyRows = errors.New("uprobe: line table over budget")

// readLines flattens every compile unit's line program of d into a table
// of at most budget rows.
func readLines(d *dwarf.Data, code func(uint64) bool, budget int) (lineTable, error) {
	b := newLineBuilder(code)
	r := d.Reader()
	var le dwarf.LineEntry
	var seq []lineRow
	for {
		cu, err := r.Next()
		if err != nil {
			return lineTable{}, err
		}
		if cu == nil {
			break
		}
		r.SkipChildren()
		if cu.Tag != dwarf.TagCompileUnit && cu.Tag != dwarf.TagSkeletonUnit {
			continue
		}
		lr, err := d.LineReader(cu)
		if err != nil || lr == nil {
			continue // a unit without lines, or one debug/dwarf cannot read
		}
		// DWARF 5 directories are relative to the compilation directory,
		// which debug/dwarf leaves relative: a frame's file is better
		// absolute, as a DWARF 4 table gives it.
		compDir, _ := cu.Val(dwarf.AttrCompDir).(string)
		seq = seq[:0]
		for {
			err := lr.Next(&le)
			if err == io.EOF {
				break
			}
			if err != nil {
				break // keep the units read so far
			}
			if le.EndSequence {
				seq = append(seq, lineRow{addr: le.Address})
				b.sequence(seq)
				seq = seq[:0]
				if len(b.rows) > budget {
					return lineTable{}, errTooManyRows
				}
				continue
			}
			name := ""
			if le.File != nil {
				name = le.File.Name
				if compDir != "" && name != "" && !path.IsAbs(name) {
					name = path.Join(compDir, name)
				}
			}
			// Line 0 is code of no source line (compiler-generated):
			// a gap, like an end.
			line := uint32(max(le.Line, 0))
			seq = append(seq, lineRow{addr: le.Address, file: b.file(name), line: line})
		}
	}
	return b.table(), nil
}

// readFuncs lists the functions d describes, for an object whose symbol
// table was stripped but whose debug information was kept.
func readFuncs(d *dwarf.Data, code func(uint64) bool) []symbol {
	var out []symbol
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil || e == nil {
			break
		}
		if e.Tag != dwarf.TagSubprogram {
			continue
		}
		ranges, err := d.Ranges(e)
		if err != nil || len(ranges) == 0 {
			continue
		}
		name := dwarfName(d, e)
		if name == "" {
			continue
		}
		for _, rg := range ranges {
			if rg[1] > rg[0] && code(rg[0]) {
				out = append(out, symbol{addr: rg[0], size: rg[1] - rg[0], name: name})
			}
		}
	}
	slices.SortFunc(out, func(a, b symbol) int { return cmp.Compare(a.addr, b.addr) })
	return out
}

// dwarfName names a subprogram as its symbol would (the linkage name, for
// C++ the mangled one), following the declaration an out-of-line
// definition refers to.
func dwarfName(d *dwarf.Data, e *dwarf.Entry) string {
	for range 4 { // a chain of references is short; a cycle is corrupt
		for _, a := range []dwarf.Attr{dwarf.AttrLinkageName, dwarf.AttrName} {
			if n, ok := e.Val(a).(string); ok && n != "" {
				return n
			}
		}
		off, ok := e.Val(dwarf.AttrSpecification).(dwarf.Offset)
		if !ok {
			off, ok = e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset)
		}
		if !ok {
			return ""
		}
		r := d.Reader()
		r.Seek(off)
		next, err := r.Next()
		if err != nil || next == nil {
			return ""
		}
		e = next
	}
	return ""
}

// dwarfSize is the size of the debug sections debug/elf would read.
func dwarfSize(f *elf.File) uint64 {
	var n uint64
	for _, s := range f.Sections {
		if strings.HasPrefix(s.Name, ".debug_") || strings.HasPrefix(s.Name, ".zdebug_") {
			n += s.Size
		}
	}
	return n
}

//go:build linux

package uprobe

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/leakguard/leakguard/sampler"
)

// symbolizer turns user-space return addresses of one process into frames:
// function names from the ELF symbol tables of the objects it maps, source
// files and lines from their DWARF debug information when they carry it.
type symbolizer struct {
	pid  int
	maps []mapping
	objs map[string]*object
	// reread is set once the maps were re-read for an unknown address in
	// this round, so that one bad address does not re-read them per frame.
	reread bool
	// lineBudget is how many more line-table rows may be kept (see
	// maxLineRows).
	lineBudget int
	// root is the process's root directory, held open so that its files
	// can still be read after it exits: the last sample of a program
	// started by Start is taken then, and /proc/PID/root is gone.
	root *os.File
}

type object struct {
	loads []elf.ProgHeader
	syms  []symbol // sorted by addr
	// funcs are the functions named by DWARF, used only when the symbol
	// table (.symtab) was stripped: the dynamic symbols left name only
	// exported functions, and would misname the static ones between them.
	funcs []symbol
	lines lineTable
}

type symbol struct {
	addr, size uint64
	name       string
}

func newSymbolizer(pid int, maps []mapping) *symbolizer {
	s := &symbolizer{pid: pid, maps: maps, objs: make(map[string]*object), lineBudget: maxLineRows}
	if root, err := os.Open(inProcRoot(pid, "/")); err == nil {
		s.root = root
	}
	return s
}

// close releases the process's root directory.
func (s *symbolizer) close() error {
	if s.root == nil {
		return nil
	}
	err := s.root.Close()
	s.root = nil
	return err
}

// path names a file as the process sees it.
func (s *symbolizer) path(p string) string {
	if s.root != nil {
		// The descriptor's magic link leads to the process's root, as
		// /proc/PID/root does while the process lives.
		return fmt.Sprintf("/proc/self/fd/%d%s", s.root.Fd(), p)
	}
	return inProcRoot(s.pid, p)
}

// frames symbolises a stack of return addresses, leaf first.
func (s *symbolizer) frames(ips []uint64) []sampler.Frame {
	out := make([]sampler.Frame, 0, len(ips))
	for _, ip := range ips {
		out = append(out, s.frame(ip))
	}
	return out
}

func (s *symbolizer) frame(ip uint64) sampler.Frame {
	m, ok := findMapping(s.maps, ip)
	if !ok && !s.reread {
		s.reread = true
		if maps, err := readMaps(s.pid); err == nil {
			s.maps = maps
			m, ok = findMapping(s.maps, ip)
		}
	}
	if !ok {
		return sampler.Frame{Function: fmt.Sprintf("0x%x", ip)}
	}
	fileOff := ip - m.start + m.off
	obj := s.object(m.path)
	vaddr, ok := obj.vaddr(fileOff)
	if !ok {
		return sampler.Frame{Function: fmt.Sprintf("%s+0x%x", filepath.Base(m.path), fileOff), File: m.path}
	}
	return obj.frame(vaddr, m.path)
}

// frame symbolises the return address vaddr (an ELF virtual address of
// the object mapped from path). The stack is captured at the allocator's
// return, so even the leaf is a return address: the call is the
// instruction before it, and the line of vaddr itself would be the line
// after the call, or another function's for a call that ends one.
func (o *object) frame(vaddr uint64, path string) sampler.Frame {
	pc := vaddr - 1
	f := sampler.Frame{File: path}
	if name, ok := o.lookup(pc); ok {
		f.Function = name
	} else {
		f.Function = fmt.Sprintf("%s+0x%x", filepath.Base(path), vaddr)
	}
	if file, line, ok := o.lines.lookup(pc); ok {
		f.File, f.Line = file, line
	}
	return f
}

// object loads (once) the symbols and lines of a mapped file. A file that
// cannot be read yields an empty object, so its frames show as
// module+offset.
func (s *symbolizer) object(path string) *object {
	if o, ok := s.objs[path]; ok {
		return o
	}
	o := loadObject(s.path(path), s.lineBudget)
	s.lineBudget -= len(o.lines.rows)
	s.objs[path] = o
	return o
}

// loadObject reads the object at path, keeping at most lineBudget
// line-table rows (none if its table is larger).
func loadObject(path string, lineBudget int) *object {
	o := &object{}
	f, err := elf.Open(path)
	if err != nil {
		return o
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			o.loads = append(o.loads, p.ProgHeader)
		}
	}
	seen := make(map[uint64]bool)
	add := func(syms []elf.Symbol) {
		for _, sym := range syms {
			if elf.ST_TYPE(sym.Info) != elf.STT_FUNC || sym.Value == 0 || sym.Name == "" || seen[sym.Value] {
				continue
			}
			seen[sym.Value] = true
			o.syms = append(o.syms, symbol{addr: sym.Value, size: sym.Size, name: sym.Name})
		}
	}
	// The full symbol table first: it names static functions too.
	syms, symErr := f.Symbols()
	add(syms)
	if syms, err := f.DynamicSymbols(); err == nil {
		add(syms)
	}
	sort.Slice(o.syms, func(i, j int) bool { return o.syms[i].addr < o.syms[j].addr })

	if n := dwarfSize(f); n == 0 || n > maxDWARFBytes {
		return o
	}
	d, err := f.DWARF()
	if err != nil {
		return o
	}
	if lines, err := readLines(d, o.isCode, lineBudget); err == nil {
		o.lines = lines
	}
	if errors.Is(symErr, elf.ErrNoSymbols) {
		o.funcs = readFuncs(d, o.isCode)
	}
	return o
}

// vaddr converts a file offset into the ELF virtual address symbols use.
func (o *object) vaddr(off uint64) (uint64, bool) {
	for _, p := range o.loads {
		if off >= p.Off && off < p.Off+p.Filesz {
			return off - p.Off + p.Vaddr, true
		}
	}
	return 0, false
}

// isCode reports whether addr lies in an executable segment.
func (o *object) isCode(addr uint64) bool {
	for _, p := range o.loads {
		if p.Flags&elf.PF_X != 0 && addr >= p.Vaddr && addr < p.Vaddr+p.Memsz {
			return true
		}
	}
	return false
}

// lookup names the function holding addr.
func (o *object) lookup(addr uint64) (string, bool) {
	if name, ok := lookupSym(o.funcs, addr); ok {
		return name, true
	}
	return lookupSym(o.syms, addr)
}

func lookupSym(syms []symbol, addr uint64) (string, bool) {
	i := sort.Search(len(syms), func(i int) bool { return syms[i].addr > addr }) - 1
	if i < 0 {
		return "", false
	}
	sym := syms[i]
	if sym.size != 0 && addr >= sym.addr+sym.size {
		return "", false
	}
	return sym.name, true
}

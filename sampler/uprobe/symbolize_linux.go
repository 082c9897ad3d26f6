//go:build linux

package uprobe

import (
	"debug/elf"
	"fmt"
	"path/filepath"
	"sort"

	"github.com/leakguard/leakguard/sampler"
)

// symbolizer turns user-space return addresses of one process into frames,
// from the ELF symbol tables of the objects it maps.
type symbolizer struct {
	pid  int
	maps []mapping
	objs map[string]*object
	// reread is set once the maps were re-read for an unknown address in
	// this round, so that one bad address does not re-read them per frame.
	reread bool
}

type object struct {
	loads []elf.ProgHeader
	syms  []symbol // sorted by addr
}

type symbol struct {
	addr, size uint64
	name       string
}

func newSymbolizer(pid int, maps []mapping) *symbolizer {
	return &symbolizer{pid: pid, maps: maps, objs: make(map[string]*object)}
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
	// Every address is a return address: the call is the byte before it.
	vaddr, ok := obj.vaddr(fileOff)
	if ok {
		if name, ok := obj.lookup(vaddr - 1); ok {
			return sampler.Frame{Function: name, File: m.path}
		}
	} else {
		vaddr = fileOff
	}
	return sampler.Frame{Function: fmt.Sprintf("%s+0x%x", filepath.Base(m.path), vaddr), File: m.path}
}

// object loads (once) the symbols of a mapped file. A file that cannot be
// read yields an empty object, so its frames show as module+offset.
func (s *symbolizer) object(path string) *object {
	if o, ok := s.objs[path]; ok {
		return o
	}
	o := loadObject(inProcRoot(s.pid, path))
	s.objs[path] = o
	return o
}

func loadObject(path string) *object {
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
	if syms, err := f.Symbols(); err == nil {
		add(syms)
	}
	if syms, err := f.DynamicSymbols(); err == nil {
		add(syms)
	}
	sort.Slice(o.syms, func(i, j int) bool { return o.syms[i].addr < o.syms[j].addr })
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

func (o *object) lookup(addr uint64) (string, bool) {
	i := sort.Search(len(o.syms), func(i int) bool { return o.syms[i].addr > addr }) - 1
	if i < 0 {
		return "", false
	}
	sym := o.syms[i]
	if sym.size != 0 && addr >= sym.addr+sym.size {
		return "", false
	}
	return sym.name, true
}

package pprofile

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"

	"github.com/google/pprof/profile"
)

// legacyFrame is one frame the Go runtime printed for an address of a
// debug=1 text profile.
type legacyFrame struct {
	function, file string
	line           int64
}

// symbolizeLegacy names the locations of a profile parsed from the Go
// runtime's debug=1 text format by the runtime's own symbolization, which
// the format carries in comment lines ("#\t0xPC\tfunction+0xOFF\tfile:line",
// one per frame, inlined frames sharing their PC) and which pprof's legacy
// parser skips. Without it every stack would be named by addresses: an
// alert would point at 0x47c332, and stacks that debug=0 merges (the same
// functions and lines reached through different PCs) would be separate
// series, each with part of the evidence.
//
// The runtime hides the runtime frames at the leaf end of an allocation
// stack and runtime.goexit at the root end: addresses with no comment line
// are dropped, as the debug=0 format leaves them out too. A profile with no
// such comment lines (not written by the Go runtime) is left as parsed, and
// so is one of another format.
func symbolizeLegacy(data []byte, p *profile.Profile) {
	if !bytes.HasPrefix(data, []byte("heap profile:")) && !bytes.HasPrefix(data, []byte("goroutine profile:")) {
		return
	}
	for _, l := range p.Location {
		if len(l.Line) > 0 {
			return // symbolized already
		}
	}
	frames := map[uint64][]legacyFrame{}
	// printed[i] holds the PCs printed under the i-th sample line: the
	// addresses of that sample the runtime did not hide.
	var printed []map[uint64]bool
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	header := true
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "#") {
			if header {
				header = false // the profile's first line
			} else if strings.TrimSpace(line) != "" {
				printed = append(printed, map[uint64]bool{})
			}
			continue
		}
		if !strings.HasPrefix(line, "#\t0x") || len(printed) == 0 {
			continue
		}
		// Tabs align the columns (the runtime writes through a
		// tabwriter): a run of them is one separator.
		fields := strings.FieldsFunc(line, func(r rune) bool { return r == '\t' })
		pc, err := strconv.ParseUint(fields[1], 0, 64)
		if err != nil {
			continue
		}
		printed[len(printed)-1][pc] = true
		if len(fields) != 4 {
			// An address the runtime could not name: kept, by address.
			if _, ok := frames[pc]; !ok {
				frames[pc] = nil
			}
			continue
		}
		fn := fields[2]
		if i := strings.LastIndex(fn, "+0x"); i > 0 {
			fn = fn[:i]
		}
		file, num := fields[3], int64(0)
		if i := strings.LastIndexByte(file, ':'); i > 0 {
			if n, err := strconv.ParseInt(file[i+1:], 10, 64); err == nil {
				file, num = file[:i], n
			}
		}
		f := legacyFrame{function: fn, file: file, line: num}
		known := frames[pc]
		// The same PC is printed again for every stack through it: keep
		// its frames once, in the order of their first printing.
		dup := false
		for _, k := range known {
			if k == f {
				dup = true
				break
			}
		}
		if !dup {
			frames[pc] = append(known, f)
		}
	}
	if len(frames) == 0 {
		return
	}
	funcs := map[[2]string]*profile.Function{}
	for _, l := range p.Location {
		for _, f := range frames[l.Address] {
			key := [2]string{f.function, f.file}
			fn := funcs[key]
			if fn == nil {
				fn = &profile.Function{ID: uint64(len(p.Function) + 1), Name: f.function, SystemName: f.function, Filename: f.file}
				p.Function = append(p.Function, fn)
				funcs[key] = fn
			}
			l.Line = append(l.Line, profile.Line{Function: fn, Line: f.line})
		}
	}
	// Which addresses were hidden is known per sample only when the sample
	// lines read here are the samples pprof parsed, one for one.
	if len(printed) != len(p.Sample) {
		return
	}
	for i, s := range p.Sample {
		kept := s.Location[:0]
		for _, l := range s.Location {
			if printed[i][l.Address] {
				kept = append(kept, l)
			}
		}
		if len(kept) > 0 {
			s.Location = kept
		}
	}
}

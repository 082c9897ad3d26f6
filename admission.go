package leakguard

import "math/bits"

// admission decides, once a family tracks as many stacks as WithMaxStacks
// allows, which untracked stack may take a tracked one's place: one whose
// live count rose above what it had when seen before. Admitting every new
// stack instead lets a process with more live stacks than the bound replace
// its whole storage every cycle, and no stack then stays long enough to be
// tested. A leaking stack grows, so it is admitted; a stack that stays
// flat holds no leak evidence worth evicting a tracked stack for.
//
// What was seen is a count-min sketch of the highest live count (plus one,
// so that zero means never seen) over a few rows of cells. A stack sharing
// its cells with larger ones must outgrow the smallest of them, which a
// leak does, however slowly, unless every stack it shares a cell with
// grows as fast.
type admission struct {
	cells []uint32 // rows × width
	shift uint
}

const admissionRows = 4

// Odd multipliers spread fingerprints that are small consecutive integers
// (synthetic or stored profiles) as well as hashes.
var admissionMul = [admissionRows]uint64{0x9e3779b97f4a7c15, 0xc2b2ae3d27d4eb4f, 0x165667b19e3779f9, 0xd6e8feb86659fd93}

// newAdmission sizes the sketch to the tracked bound: about as many cells
// per row as stacks tracked, 16 bytes a stack over all rows.
func newAdmission(maxStacks int) *admission {
	bitsWide := max(10, bits.Len(uint(maxStacks-1)))
	return &admission{cells: make([]uint32, admissionRows<<bitsWide), shift: uint(64 - bitsWide)}
}

// grew records that stack has live sampled objects and reports whether that
// is more than it had whenever it was seen before (never, the first time).
func (a *admission) grew(stack uint64, live int64) bool {
	v := uint32(min(live, 1<<32-2)) + 1
	width := len(a.cells) / admissionRows
	seen := uint32(1<<32 - 1)
	for r := range admissionRows {
		c := &a.cells[r*width+int((stack*admissionMul[r])>>a.shift)]
		seen = min(seen, *c)
		*c = max(*c, v)
	}
	return seen != 0 && v > seen
}

//go:build !linux || !amd64

package uprobe

import (
	"context"
	"os/exec"

	"github.com/leakguard/leakguard/sampler"
)

// Sampler is unavailable on this system: the BPF objects are generated for
// Linux on amd64 only (see gen.go).
type Sampler struct{}

var _ sampler.Sampler = (*Sampler)(nil)

// New returns ErrUnsupported.
func New(pid int, opts ...Option) (*Sampler, error) { return nil, ErrUnsupported }

// Start returns ErrUnsupported without starting cmd.
func Start(cmd *exec.Cmd, opts ...Option) (*Sampler, error) { return nil, ErrUnsupported }

// Exited returns nil: no program is started here.
func (*Sampler) Exited() <-chan struct{} { return nil }

// Sample returns ErrUnsupported.
func (*Sampler) Sample(context.Context) (*sampler.Sample, error) { return nil, ErrUnsupported }

// Resource reports sampler.Native.
func (*Sampler) Resource() sampler.Resource { return sampler.Native }

// Library reports the empty path: nothing is probed.
func (*Sampler) Library() string { return "" }

// Close does nothing.
func (*Sampler) Close() error { return nil }

// Stats returns ErrUnsupported.
func (*Sampler) Stats() (Stats, error) { return Stats{}, ErrUnsupported }

package pprofile

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/leakguard/leakguard/sampler"
)

// HTTP is a Sampler that fetches a live /debug/pprof/heap or
// /debug/pprof/goroutine endpoint (debug=0, the protobuf format).
type HTTP struct {
	url        string
	client     *http.Client
	gc         bool
	saveDir    string
	sampleType SampleType
	lastTime   int64
	lastDigest uint64
	fetched    bool
	saved      int
	maxSize    int64
	resource   sampler.Resource
	lastRate   int64  // the current process's heap sampling rate
	lastAllocs int64  // the last heap profile's sampledAllocs
	epoch      uint64 // counts the target's restarts, from 1
}

// digest summarises a Sample's numbers, to recognise a repeated profile.
// Records whose numbers are all zero are left out: the runtime lists a
// stack as soon as it first samples an allocation there, with zero counts
// until a collection publishes them, so a profile between two collections
// can gain such records and still repeat the one before it.
func digest(s *sampler.Sample) uint64 {
	h := fnv.New64a()
	var b [8]byte
	for _, r := range s.Records {
		if r.InUseBytes == 0 && r.InUseObjects == 0 && r.AllocBytes == 0 && r.AllocObjects == 0 {
			continue
		}
		for _, v := range []int64{int64(r.Stack), r.InUseBytes, r.InUseObjects, r.AllocBytes, r.AllocObjects} {
			binary.LittleEndian.PutUint64(b[:], uint64(v))
			h.Write(b[:])
		}
	}
	return h.Sum64()
}

// HTTPOption configures NewHTTP. Options are validated by NewHTTP, which
// returns the first error.
type HTTPOption func(*httpConfig) error

type httpConfig struct {
	gc         bool
	timeout    time.Duration
	saveDir    string
	sampleType SampleType
	maxSize    int64
}

// WithGC asks the server to run a GC before writing the profile (gc=1),
// which makes each profile current at the cost of a GC in the target.
func WithGC(gc bool) HTTPOption { return func(c *httpConfig) error { c.gc = gc; return nil } }

// WithTimeout bounds each fetch (default 30 s).
func WithTimeout(d time.Duration) HTTPOption {
	return func(c *httpConfig) error {
		if d <= 0 {
			return fmt.Errorf("timeout %v must be positive", d)
		}
		c.timeout = d
		return nil
	}
}

// SaveTo writes every fetched profile to dir (created if needed), so the
// run can be analysed again later.
func SaveTo(dir string) HTTPOption {
	return func(c *httpConfig) error {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		c.saveDir = dir
		return nil
	}
}

// WithHTTPSampleType selects the in-use measure (default InUseSpace).
func WithHTTPSampleType(st SampleType) HTTPOption {
	return func(c *httpConfig) error {
		if st != InUseSpace && st != InUseObjects {
			return fmt.Errorf("unknown sample type %q (want inuse_space or inuse_objects)", st)
		}
		c.sampleType = st
		return nil
	}
}

// WithHTTPMaxProfileSize caps the size of one response, as received and
// once decompressed (default DefaultMaxProfileSize); a larger one is an
// error wrapping ErrTooLarge, found without reading past the cap.
func WithHTTPMaxProfileSize(n int64) HTTPOption {
	return func(c *httpConfig) error {
		if n <= 0 {
			return fmt.Errorf("maximum profile size %d must be positive", n)
		}
		c.maxSize = n
		return nil
	}
}

// NewHTTP returns a Sampler for the heap or goroutine profile at rawURL,
// which must be http or https (for example
// http://localhost:6060/debug/pprof/heap or .../debug/pprof/goroutine).
// Which kind it is comes from each response's sample types; until the
// first response, Resource guesses from the URL's path.
func NewHTTP(rawURL string, opts ...HTTPOption) (*HTTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("invalid URL %q: %w", rawURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("invalid URL %q: only http and https are supported", rawURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("invalid URL %q: no host", rawURL)
	}
	if u.Query().Has("seconds") {
		return nil, fmt.Errorf("invalid URL %q: seconds= asks for a profile over an interval (for heap and goroutine profiles, the change between two snapshots), and leakguard needs the snapshots themselves: drop seconds= from the URL", rawURL)
	}
	cfg := httpConfig{timeout: 30 * time.Second, sampleType: InUseSpace, maxSize: DefaultMaxProfileSize}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("nil HTTPOption")
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	h := &HTTP{url: rawURL, client: &http.Client{Timeout: cfg.timeout}, gc: cfg.gc, saveDir: cfg.saveDir,
		sampleType: cfg.sampleType, maxSize: cfg.maxSize, resource: sampler.Heap, epoch: 1}
	if strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), "/goroutine") {
		h.resource = sampler.Goroutines
	}
	return h, nil
}

// Sample fetches and parses one profile. It returns sampler.ErrNoNewData
// when the server returned the same profile as last time (same TimeNanos)
// or, for a heap profile, the same numbers (no GC completed in between).
// A heap profile whose cumulative sampled allocations fell is of a
// restarted process: its Sample starts a new Epoch, so that a Detector
// starts every series over. One of the same process at another sampling
// rate is an error wrapping ErrRateChanged.
func (h *HTTP) Sample(ctx context.Context) (*sampler.Sample, error) {
	u, _ := url.Parse(h.url)
	if h.gc {
		q := u.Query()
		q.Set("gc", "1")
		u.RawQuery = q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", h.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return nil, fmt.Errorf("fetching %s: %s", h.url, resp.Status)
	}
	body, p, err := readProfile(resp.Body, h.maxSize, h.url, "as received")
	if err != nil {
		return nil, err
	}
	if p.TimeNanos == 0 {
		p.TimeNanos = time.Now().UnixNano()
	}
	if p.TimeNanos == h.lastTime {
		return nil, sampler.ErrNoNewData
	}
	s, err := FromProfile(p, h.url, h.sampleType)
	if err != nil {
		return nil, err
	}
	h.resource = s.Resource
	if s.Resource == sampler.Heap {
		// What comparable refuses in a stored series: a new process
		// starts new series; a rate change ends the usable ones.
		allocs := sampledAllocs(p)
		if h.fetched && allocs < h.lastAllocs {
			h.epoch++
		} else if h.lastRate != 0 && s.Rate != h.lastRate {
			return nil, fmt.Errorf("%s: %w (runtime.MemProfileRate, from %d to %d bytes): objects sampled at the old rate stay in later profiles and read as growth once replaced at the new rate; watch a process that sets its rate once, early in main",
				h.url, ErrRateChanged, h.lastRate, s.Rate)
		}
		h.lastRate, h.lastAllocs = s.Rate, allocs
	}
	s.Epoch = h.epoch
	// Without gc=1 the server's heap profile only changes when its GC
	// runs; a new timestamp on the same numbers is not a new observation,
	// and counting it would fake persistence. A goroutine profile is
	// current whenever it is taken.
	sum := digest(s)
	if s.Resource == sampler.Heap && h.fetched && sum == h.lastDigest {
		return nil, ErrNoGC
	}
	h.fetched, h.lastDigest = true, sum
	h.lastTime = p.TimeNanos
	if h.saveDir != "" {
		name := filepath.Join(h.saveDir, fmt.Sprintf("%s-%05d-%d.pb.gz", kindName(s.Resource), h.saved, p.TimeNanos))
		if err := os.WriteFile(name, body, 0o644); err != nil {
			return s, errors.Join(ErrNotSaved, err)
		}
		h.saved++
	}
	return s, nil
}

// ErrRateChanged is wrapped by the error of every heap profile fetched
// after the target changed runtime.MemProfileRate: objects sampled at the
// old rate stay in its profiles until freed, and those replaced at a lower
// rate read as growth (see Open), so no later profile of that process is
// sound.
var ErrRateChanged = errors.New("the heap profile's sampling rate changed")

// ErrNotSaved is wrapped by the error of a Sample that was fetched but
// could not be written to the SaveTo directory: the returned Sample is
// still valid (errors.Is(err, ErrNotSaved) tells the case apart).
var ErrNotSaved = errors.New("profile fetched but not saved")

// Resource reports what the endpoint serves: the kind of the last profile
// fetched or, before the first, sampler.Goroutines for a URL whose path
// ends in /goroutine and sampler.Heap otherwise.
func (h *HTTP) Resource() sampler.Resource { return h.resource }

// ErrNoGC is the sampler.ErrNoNewData that Sample returns when a heap
// profile repeats the last one's numbers: no garbage collection completed
// on the server since (WithGC makes every fetch current).
var ErrNoGC = fmt.Errorf("%w: no GC completed since the last profile", sampler.ErrNoNewData)

// Close releases idle connections.
func (h *HTTP) Close() error { h.client.CloseIdleConnections(); return nil }

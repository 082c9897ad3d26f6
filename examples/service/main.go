// Command service is a small JSON-handling service that starts leakguard at
// its default settings — the way a user's service would — and reports, as
// JSON lines on stdout, when leakguard first suspected and first alerted on
// each allocation site. It can leak at a set rate and fill a bounded cache
// over a set time, so that "how fast is a leak caught, and is a warm-up left
// alone" can be measured in real minutes on a real Go program:
//
//	go run ./examples/service -leak-mib-per-min 1 -duration 30m
//	go run ./examples/service -cache-mib 64 -cache-fill 10m -duration 30m
//	go run ./examples/service -leak-mib-per-min 1 -leak-into slice -duration 30m
//
// cmd/leakguard-bench -only speed runs a matrix of these side by side.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/leakguard/leakguard"
)

// Event is one line of the service's output.
type Event struct {
	// Event is "start", "suspect", "warning", "alert" or "end".
	Event string `json:"event"`
	// Seconds since the service started.
	Seconds float64 `json:"seconds"`
	// Function and Location name the flagged site.
	Function string `json:"function,omitempty"`
	Location string `json:"location,omitempty"`
	// Retained is the decisive rise in sampled objects; InUse the bytes the
	// site holds.
	Retained int64 `json:"retained_sampled,omitempty"`
	InUse    int64 `json:"inuse_bytes,omitempty"`
	// Leaked is what the service had leaked by then, in bytes.
	Leaked int64 `json:"leaked_bytes"`
	// Samples is the number of heap profiles leakguard had analysed.
	Samples int `json:"samples,omitempty"`
}

// session is the leaked value: what a handler keeps per request.
type session struct {
	id   int
	data []byte
}

// sessions is the leak.
var (
	mu       sync.Mutex
	sessions []*session
	leaked   int64
)

// keepSession is the leaking allocation site.
//
//go:noinline
func keepSession(id, size int) {
	s := &session{id: id, data: make([]byte, size)}
	mu.Lock()
	sessions = append(sessions, s)
	leaked += int64(size)
	mu.Unlock()
}

// record is a 64-byte value a log keeps: a slice of them is one backing
// array, reallocated a quarter larger each time it fills.
type record struct {
	at, id int64
	_      [48]byte // the rest of a 64-byte record: user, status, sizes, route
}

var records []record

const recordSize = 64

// keepRecord is the other leak's allocation site: a log appended to and
// never trimmed.
//
//go:noinline
func keepRecord(id int) {
	mu.Lock()
	records = append(records, record{at: time.Now().UnixNano(), id: int64(id)})
	leaked += recordSize
	mu.Unlock()
}

// cache is a bounded cache: it fills over the fill time, then replaces
// entries.
type cache struct {
	slots [][]byte
	next  int
}

// put is the cache's allocation site.
//
//go:noinline
func (c *cache) put(size int) {
	c.slots[c.next%len(c.slots)] = make([]byte, size)
	c.next++
}

// handle is one JSON request: garbage a Go service makes.
func handle(r *rand.Rand, i int) {
	req := map[string]any{"id": i, "user": fmt.Sprintf("user-%d", r.IntN(1000)), "payload": strings.Repeat("x", 64+r.IntN(512))}
	b, _ := json.Marshal(req)
	var back map[string]any
	_ = json.Unmarshal(b, &back)
	var buf bytes.Buffer
	buf.Write(b)
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("service", flag.ContinueOnError)
	fs.SetOutput(stderr)
	leakRate := fs.Float64("leak-mib-per-min", 0, "leak this many MiB per minute (0: no leak)")
	objSize := fs.Int("object-size", 4096, "bytes per leaked session")
	into := fs.String("leak-into", "sessions", "sessions: a new object per leaked session; slice: 64-byte records appended to one slice")
	cacheMiB := fs.Int("cache-mib", 0, "a bounded cache of this many MiB (0: none)")
	cacheFill := fs.Duration("cache-fill", 10*time.Minute, "how long the cache takes to fill")
	duration := fs.Duration("duration", 30*time.Minute, "how long to serve")
	rps := fs.Int("rps", 200, "requests per second")
	horizon := fs.Duration("horizon", 0, "leakguard's horizon (0: its default)")
	interval := fs.Duration("interval", 0, "leakguard's interval (0: its default)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *into != "sessions" && *into != "slice" {
		fmt.Fprintf(stderr, "-leak-into %q: want sessions or slice\n", *into)
		return 2
	}
	start := time.Now()
	enc := json.NewEncoder(stdout)
	var outMu sync.Mutex
	emit := func(e Event) {
		e.Seconds = time.Since(start).Seconds()
		mu.Lock()
		e.Leaked = leaked
		mu.Unlock()
		outMu.Lock()
		defer outMu.Unlock()
		_ = enc.Encode(e)
	}
	var seen sync.Map
	opts := []leakguard.Option{
		leakguard.WithSuspectAlerts(),
		leakguard.OnAlert(func(a leakguard.Alert) {
			leaf := a.Leaf()
			key := fmt.Sprintf("%s|%s", a.Severity, leaf.Function)
			if _, dup := seen.LoadOrStore(key, true); dup {
				return
			}
			emit(Event{Event: a.Severity.String(), Function: leaf.Function, Location: fmt.Sprintf("%s:%d", leaf.File, leaf.Line),
				Retained: a.Evidence.RetainedSampled, InUse: a.Evidence.InUseBytes, Samples: a.Index + 1})
		}),
	}
	if *horizon > 0 {
		opts = append(opts, leakguard.WithHorizon(*horizon))
	}
	if *interval > 0 {
		opts = append(opts, leakguard.WithInterval(*interval))
	}
	g, err := leakguard.Start(opts...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	emit(Event{Event: "start"})
	var c *cache
	if *cacheMiB > 0 {
		n := (*cacheMiB << 20) / *objSize
		c = &cache{slots: make([][]byte, n)}
	}
	r := rand.New(rand.NewPCG(1, 2))
	tick := time.NewTicker(time.Second / time.Duration(*rps))
	defer tick.Stop()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt)
	deadline := time.After(*duration)
	perRequest := *leakRate * (1 << 20) / 60 / float64(*rps) // bytes to leak per request
	var owed float64
	for i := 0; ; i++ {
		select {
		case <-deadline:
		case <-stop:
		case <-tick.C:
			handle(r, i)
			owed += perRequest
			if *into == "slice" {
				for owed >= recordSize {
					keepRecord(i)
					owed -= recordSize
				}
			}
			for owed >= float64(*objSize) {
				keepSession(i, *objSize)
				owed -= float64(*objSize)
			}
			if c != nil {
				// Fill at the rate that fills the cache in cacheFill, then
				// keep replacing entries at that rate.
				want := int(float64(len(c.slots)) * time.Since(start).Seconds() / cacheFill.Seconds())
				for c.next < want {
					c.put(*objSize)
				}
			}
			continue
		}
		break
	}
	st := g.Stats()
	_ = g.Stop()
	emit(Event{Event: "end", Samples: st.Samples})
	return 0
}

// Command clean is the same small service as examples/leaky without the
// leak: sessions go into a bounded cache that fills up in about a second
// and then recycles its slots. leakguard watches it (a 5 s horizon, as
// in examples/leaky) and stays silent.
//
//	go run ./examples/clean
//
// It exits 0 when nothing was reported within the run time, 1 otherwise.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/leakguard/leakguard"
)

// cacheSlots bounds the session cache: it warms up, then stays full.
const cacheSlots = 1000

type sessionCache struct {
	slots [cacheSlots][]byte
}

func (c *sessionCache) put(i int, session []byte) { c.slots[i%cacheSlots] = session }

// handleRequest allocates a working buffer (garbage after the request) and
// caches a session record in a bounded cache.
func handleRequest(c *sessionCache, i int) {
	work := make([]byte, workSize)
	work[0] = byte(i)
	scratch = work // escapes: real garbage, collected after the next request
	session := make([]byte, 16<<10)
	session[0] = work[0]
	c.put(i, session)
}

// workSize is a variable so the working buffer is heap-allocated, as a
// request-sized buffer in a real service is.
var workSize = 256 << 10

// scratch keeps the latest working buffer reachable until the next request.
//
//lint:ignore U1000 written, never read: the write is what makes the buffer escape
var scratch []byte

func main() {
	duration := flag.Duration("duration", 30*time.Second, "how long to serve")
	interval := flag.Duration("interval", 100*time.Millisecond, "leakguard sampling interval")
	horizon := flag.Duration("horizon", 5*time.Second, "how long growth must persist to be a leak (a service's default is 10m)")
	flag.Parse()
	os.Exit(run(*interval, *horizon, *duration))
}

func run(interval, horizon, duration time.Duration) int {
	g, err := leakguard.Start(
		leakguard.WithInterval(interval),
		leakguard.WithHorizon(horizon),
		leakguard.OnAlert(func(a leakguard.Alert) { fmt.Println(a) }),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Printf("serving for %v; leakguard samples every %v\n", duration, interval)
	cache := new(sessionCache)
	deadline := time.After(duration)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	requests := 0
loop:
	for {
		select {
		case <-deadline:
			break loop
		case <-tick.C:
			handleRequest(cache, requests)
			requests++
		}
	}
	if err := g.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	st := g.Stats()
	var alerts, warnings int
	for _, a := range g.Alerts() {
		if a.Severity == leakguard.SeverityAlert {
			alerts++
		} else {
			warnings++
		}
	}
	fmt.Printf("%d requests, %d samples analysed, %d stacks tracked, %d alerts, %d warnings\n", requests, st.Samples, st.Tracked, alerts, warnings)
	if alerts > 0 {
		return 1
	}
	return 0
}

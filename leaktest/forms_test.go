package leaktest

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/stretchr/testify/require"
)

// The leak forms below each keep something per call that nothing ever
// releases; the benign forms each keep a bounded amount however often they
// are called. Every leak must fail a Check at default options, naming the
// function that leaks first; every benign form must pass it.

type rec struct {
	a int
	_ [56]byte
}

var (
	recs   []rec
	ints   []int
	blocks [][1024]byte
	ptrs   []*rec
)

func appendRec()   { recs = append(recs, rec{a: 1}) }
func appendInt()   { ints = append(ints, 1) }
func appendBlock() { blocks = append(blocks, [1024]byte{1}) }
func appendPtr()   { ptrs = append(ptrs, &rec{a: 1}) }

var (
	seen   = map[int]int{}
	seenID int
)

func mapInsert() {
	seenID++
	seen[seenID] = seenID
}

var (
	smap   sync.Map
	smapID int
)

func syncMapStore() {
	smapID++
	smap.Store(smapID, smapID)
}

var (
	logSB  strings.Builder
	logBuf bytes.Buffer
)

func builderWrite() { logSB.WriteString("request served in 12ms\n") }
func bufferWrite()  { logBuf.WriteString("request served in 12ms\n") }

var (
	callbacks []func() int
	cbID      int
)

func registerCallback() {
	cbID++
	id := cbID
	callbacks = append(callbacks, func() int { return id })
}

var parentCtx, cancelParent = context.WithCancel(context.Background())

func childContext() {
	ctx, cancel := context.WithCancel(parentCtx)
	_, _ = ctx, cancel // never cancelled: the parent keeps the child
}

func afterFunc() { time.AfterFunc(time.Hour, func() {}) }

var stopTickers = make(chan struct{})

func tickerWorker() {
	stop := stopTickers
	go func() {
		tk := time.NewTicker(time.Hour) // never stopped while the worker lives
		for {
			select {
			case <-tk.C:
			case <-stop:
				return
			}
		}
	}()
}

var blockForever = make(chan struct{})

func goroutineBlocked() {
	ch := blockForever
	go func() { <-ch }()
}

func goroutineHoldingBuffer() {
	buf := make([]byte, 1024)
	ch := blockForever
	go func() {
		<-ch
		_ = buf
	}()
}

var everyTenth int

func leakOneCallInTen() {
	everyTenth++
	if everyTenth%10 == 0 {
		ptrs = append(ptrs, &rec{a: everyTenth})
	}
}

// Benign forms: each keeps at most a bounded amount, however often called.

var (
	tableOnce sync.Once
	table     []uint32
)

func onceTable() {
	tableOnce.Do(func() {
		table = make([]uint32, 1<<16)
		for i := range table {
			table[i] = uint32(i * i)
		}
	})
	_ = table[7]
}

var (
	cache   *lru.Cache[string, []byte]
	cacheID int
)

func lruPut() {
	cacheID++
	cache.Add(strconv.Itoa(cacheID), make([]byte, 100))
}

var scratch []byte

func reuseSlice() {
	scratch = scratch[:0]
	for i := range 100 + cacheID%50 {
		scratch = append(scratch, byte(i))
	}
	cacheID++
}

var (
	ring    [64][]byte
	ringPos int
)

func ringPut() {
	ring[ringPos%len(ring)] = make([]byte, 48)
	ringPos++
}

var (
	window   = map[int][]byte{}
	windowID int
)

func mapSlidingWindow() {
	windowID++
	window[windowID] = make([]byte, 32)
	delete(window, windowID-50)
}

var (
	interned = map[string]string{}
	internID int
)

func intern() {
	internID++
	s := "user-" + strconv.Itoa(internID%40)
	if c, ok := interned[s]; ok {
		s = c
	} else {
		interned[s] = s
	}
	_ = s
}

var lookup map[string]int

func lazyLookup() {
	if lookup == nil {
		lookup = map[string]int{}
		for i := range 500 {
			lookup[strconv.Itoa(i)] = i
		}
	}
	_ = lookup["42"]
}

func shortGoroutines() {
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); _ = make([]byte, 64) }()
	}
	wg.Wait()
}

var churnSink []byte

func churn() {
	for i := range 20 {
		churnSink = make([]byte, 64+i*16)
	}
	m := map[int]string{}
	for i := range 20 {
		m[i] = strconv.Itoa(i)
	}
	churnSink = nil
}

// unstoppedTicker drops a ticker it never stops: since Go 1.23 an
// unreferenced ticker is collected, stopped or not, so nothing leaks.
func unstoppedTicker() { time.NewTicker(time.Hour) }

var (
	stepCalls int
	stepTable []byte
)

// oneTimeStep builds a table once, on the 3000th call: well inside the
// measured rounds, after warm-up. A single step is not growth with the
// number of calls.
func oneTimeStep() {
	stepCalls++
	if stepCalls == 3000 {
		stepTable = make([]byte, 1<<16)
	}
}

var (
	slowCache   *lru.Cache[int, []byte]
	slowCacheID int
)

// slowLRUPut fills a 400-entry cache one entry per call, long after the
// warm-up's 128 calls, but within the first half of the measured calls.
func slowLRUPut() {
	slowCacheID++
	slowCache.Add(slowCacheID, make([]byte, 100))
}

var (
	held []*rec
	rng  = rand.New(rand.NewPCG(1, 2))
)

// randomRetention keeps a random, bounded number of records: the live
// bytes at its stack go up and down from round to round, exchangeably.
func randomRetention() {
	held = held[:0:0]
	for range rng.IntN(40) {
		held = append(held, &rec{a: 1})
	}
}

var (
	client *http.Client
	srvURL string
	reqCtx context.Context // cancelled after the test: that releases the connections
)

func bodyNotClosed() {
	req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, srvURL, nil)
	if err != nil {
		panic(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		panic(err)
	}
	_ = resp // the body is never closed: the connection and its goroutines stay
}

// releaseLeaks lets go of everything the leak forms kept: a leak whose
// state is already large when a Check starts steps up more rarely.
func releaseLeaks() {
	recs, ints, blocks, ptrs = nil, nil, nil, nil
	seen, smap = map[int]int{}, sync.Map{}
	logSB.Reset()
	logBuf = bytes.Buffer{}
	callbacks = nil
	cancelParent()
	parentCtx, cancelParent = context.WithCancel(context.Background())
	close(stopTickers)
	stopTickers = make(chan struct{})
	close(blockForever)
	blockForever = make(chan struct{})
}

func TestLeakFormsFail(t *testing.T) {
	tests := []struct {
		name      string
		fn        func()
		goroutine bool   // the first leak reported is of goroutines
		leaf      string // the first leak's first frame
	}{
		{"append 64-byte values to a global slice", appendRec, false, "leaktest.appendRec"},
		{"append ints to a global slice", appendInt, false, "leaktest.appendInt"},
		{"append 1 KiB values to a global slice", appendBlock, false, "leaktest.appendBlock"},
		{"append pointers to a global slice", appendPtr, false, "leaktest.appendPtr"},
		{"map insert never deleted", mapInsert, false, "leaktest.mapInsert"},
		{"sync.Map store", syncMapStore, false, "leaktest.syncMapStore"},
		{"strings.Builder written to", builderWrite, false, "leaktest.builderWrite"},
		{"bytes.Buffer written to", bufferWrite, false, "leaktest.bufferWrite"},
		{"closures appended to a callback list", registerCallback, false, "leaktest.registerCallback"},
		{"context children never cancelled", childContext, false, "leaktest.childContext"},
		{"time.AfterFunc never stopped", afterFunc, false, "leaktest.afterFunc"},
		{"goroutine with a ticker never stopped", tickerWorker, true, "leaktest.tickerWorker.func1"},
		{"goroutine blocked on a channel", goroutineBlocked, true, "leaktest.goroutineBlocked.func1"},
		{"goroutine blocked holding a buffer", goroutineHoldingBuffer, true, "leaktest.goroutineHoldingBuffer.func1"},
		{"response body never closed", bodyNotClosed, false, "leaktest.bodyNotClosed"},
		{"leak on every 10th call", leakOneCallInTen, false, "leaktest.leakOneCallInTen"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_, _ = io.WriteString(w, "hello")
			}))
			tr := &http.Transport{}
			var cancelReqs context.CancelFunc
			reqCtx, cancelReqs = context.WithCancel(context.Background())
			client, srvURL = &http.Client{Transport: tr}, srv.URL
			t.Cleanup(func() {
				cancelReqs()
				srv.CloseClientConnections()
				srv.Close()
				tr.CloseIdleConnections()
			})
			t.Cleanup(releaseLeaks)

			r := &recorder{TB: t}
			Check(r, tc.fn)
			require.True(t, r.failed, "leak not reported")
			lines := strings.Split(r.msg, "\n")
			require.GreaterOrEqual(t, len(lines), 3, r.msg)
			fn := tc.leaf
			if i := strings.LastIndex(fn, ".func"); i > 0 {
				fn = fn[:i] // the goroutine's function is a closure inside fn
			}
			require.True(t, strings.HasPrefix(lines[0], "leaktest: github.com/leakguard/leakguard/"+fn+" "), "the function under test first: %s", r.msg)
			first := strings.TrimSpace(lines[2])
			require.True(t, strings.HasPrefix(first, "github.com/leakguard/leakguard/"+tc.leaf+" "), "the leaking function first: %s", r.msg)
			require.Contains(t, first, "forms_test.go:", r.msg)

			releaseLeaks() // Find starts afresh, as the Check did
			err := Find(tc.fn)
			var le *Error
			require.ErrorAs(t, err, &le)
			require.NotEmpty(t, le.Leaks)
			require.Equal(t, tc.goroutine, le.Leaks[0].Goroutine, "%v", err)
			require.Contains(t, le.Leaks[0].Frames[0], tc.leaf, "%v", err)
			for _, l := range le.Leaks {
				require.Positive(t, l.PerCall)
				require.GreaterOrEqual(t, l.Confidence, 0.999)
				require.False(t, strings.HasPrefix(l.Frames[0], "runtime.") || strings.HasPrefix(l.Frames[0], "internal/"),
					"no leak starts in the runtime: %v", err)
			}
		})
	}
}

func TestBenignFormsPass(t *testing.T) {
	var err error
	cache, err = lru.New[string, []byte](64)
	require.NoError(t, err)
	slowCache, err = lru.New[int, []byte](400)
	require.NoError(t, err)
	tests := []struct {
		name string
		fn   func()
	}{
		{"sync.Once initialisation", onceTable},
		{"bounded LRU filling during warm-up", lruPut},
		{"bounded LRU filling early in the measured run", slowLRUPut},
		{"sync.Pool", usePool},
		{"slice reused with s = s[:0]", reuseSlice},
		{"ring buffer", ringPut},
		{"map that grows, then deletes", mapSlidingWindow},
		{"interning a bounded set of strings", intern},
		{"lazily built lookup table", lazyLookup},
		{"one-time step after warm-up", oneTimeStep},
		{"random bounded retention", randomRetention},
		{"short-lived goroutines", shortGoroutines},
		{"heavy churn", churn},
		{"unreferenced ticker never stopped", unstoppedTicker},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{TB: t}
			Check(r, tc.fn)
			require.False(t, r.failed, r.msg)
		})
	}
}

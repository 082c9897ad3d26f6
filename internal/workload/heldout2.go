package workload

import (
	"container/list"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The second held-out set: more common Go patterns, written after the
// detector and blind to it, to check again that it generalises. Leaks()
// and Benign() include them through heldoutLeaks and heldoutBenign, so
// Heldout reports them too.

// held2 is the state of a workload of the second held-out set: the usual
// request garbage every step, its own fields, and a stop channel that
// Release closes to end its goroutines.
type held2 struct {
	r    *rand.Rand
	step func(h *held2, i int)

	stop    chan struct{}
	stopped bool
	wg      sync.WaitGroup // the workload's goroutines

	// leaking
	timers     []*time.Timer // armed and never stopped (kept here only for Release)
	interned   map[string]string
	limiters   map[string]*clientLimiter
	nextClient int
	retryIn    chan *retryJob
	history    *historyNode

	// benign
	lru      *lruCache
	builder  strings.Builder
	reports  map[int]string
	index    *searchIndex
	spans    []*traceSpan
	lastSent int
	freeList chan []byte
	inflight []trackedRequest
}

func (h *held2) Step(i int) { Serve(h.r, 20); h.step(h, i) }

func (h *held2) Release() {
	if !h.stopped {
		h.stopped = true
		close(h.stop)
	}
	// Fire the timers still armed rather than stop them: a stopped timer
	// can sit in the runtime's timer heap, holding its closure, until the
	// heap is next cleaned, and must not outlive the instance.
	for _, t := range h.timers {
		t.Reset(0)
	}
	for _, q := range h.inflight {
		q.timer.Reset(0)
	}
	h.wg.Wait()
	h.timers, h.interned, h.limiters, h.retryIn, h.history = nil, nil, nil, nil, nil
	h.lru, h.builder, h.reports, h.index, h.spans = nil, strings.Builder{}, nil, nil, nil
	h.freeList, h.inflight = nil, nil
}

func held2Inst(f func(h *held2, i int)) func(seed uint64) Instance {
	return func(seed uint64) Instance {
		return &held2{
			r: rand.New(rand.NewPCG(seed, 13)), step: f, stop: make(chan struct{}),
			interned: map[string]string{}, limiters: map[string]*clientLimiter{},
			lru:     &lruCache{capacity: 64, ll: list.New(), items: map[int]*list.Element{}},
			reports: map[int]string{}, freeList: make(chan []byte, 32),
		}
	}
}

// --- leaking ---

// armRequestTimeout arms a timeout that would log the request's body if
// the request overran; the handler returns on success without stopping
// it, so the runtime's timer heap keeps the closure and the body until the
// hour is up.
//
//go:noinline
func armRequestTimeout(h *held2, id int) {
	body := make([]byte, 8*kib)
	body[0] = byte(id)
	t := time.AfterFunc(time.Hour, func() { body[1]++ })
	h.timers = append(h.timers, t)
}

// internString returns the canonical copy of s, adding it to the intern
// table if it is new; the table is never pruned.
//
//go:noinline
func internString(h *held2, b []byte) string {
	if s, ok := h.interned[string(b)]; ok {
		return s
	}
	s := string(b)
	h.interned[s] = s
	return s
}

// clientLimiter is a per-client sliding-window rate limiter: the times of
// the client's last 256 requests.
type clientLimiter struct {
	n      int
	recent [256]int64
}

func (l *clientLimiter) allow(now int64) bool {
	oldest := l.recent[l.n%len(l.recent)]
	l.recent[l.n%len(l.recent)] = now
	l.n++
	return l.n <= len(l.recent) || now-oldest > 10
}

// rateLimiterFor returns the limiter of the client at addr, creating it on
// the client's first request; nothing ever removes an idle client's.
//
//go:noinline
func rateLimiterFor(h *held2, addr uint32) *clientLimiter {
	key := strconv.Itoa(int(addr>>24)) + "." + strconv.Itoa(int(addr>>16&255)) + "." +
		strconv.Itoa(int(addr>>8&255)) + "." + strconv.Itoa(int(addr&255))
	l, ok := h.limiters[key]
	if !ok {
		l = &clientLimiter{}
		h.limiters[key] = l
	}
	return l
}

type retryJob struct {
	id, attempt int
	payload     []byte
}

// retryQueueStart starts an "unbounded channel": a goroutine that buffers
// whatever is sent in until someone takes it out. The retry worker that
// should drain it was never started, so the backlog only grows.
//
//go:noinline
func retryQueueStart(h *held2) {
	in, out, stop := make(chan *retryJob), make(chan *retryJob), h.stop
	h.retryIn = in
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		var backlog []*retryJob
		for {
			var send chan *retryJob
			var head *retryJob
			if len(backlog) > 0 {
				send, head = out, backlog[0]
			}
			select {
			case j := <-in:
				backlog = append(backlog, j)
			case send <- head:
				backlog = backlog[1:]
			case <-stop:
				return
			}
		}
	}()
}

// retryQueueJob copies a failed request's payload for a later retry.
//
//go:noinline
func retryQueueJob(id int) *retryJob {
	return &retryJob{id: id, attempt: 1, payload: make([]byte, 16*kib)}
}

// historyNode is one version of a document: the edit that made it, linked
// to the version before, for undo.
type historyNode struct {
	prev    *historyNode
	version int
	author  string
	diff    []byte
}

// historyPush records an edit; the history is never truncated.
//
//go:noinline
func historyPush(h *held2, version, size int) {
	h.history = &historyNode{prev: h.history, version: version, author: "editor", diff: make([]byte, size)}
}

// backendCallStart calls a backend in a goroutine that sends its reply on
// an unbuffered channel: when the caller has given up waiting, the send
// blocks forever, holding the reply.
//
//go:noinline
func backendCallStart(h *held2, id int) chan []byte {
	res, stop := make(chan []byte), h.stop
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		reply := make([]byte, 32*kib)
		reply[0] = byte(id)
		select {
		case res <- reply:
		case <-stop: // Release: the harness ends the goroutine
		}
	}()
	return res
}

func heldout2Leaks() []Workload {
	return []Workload{
		{Name: "afterfunc-timers", Leak: true, Marker: "armRequestTimeout", New: held2Inst(func(h *held2, i int) {
			// 16 requests a step each arm an hour-long time.AfterFunc
			// holding their 8 KiB body, and never stop it.
			for j := range 16 {
				armRequestTimeout(h, 16*i+j)
			}
		})},
		{Name: "intern-map", Leak: true, Marker: "internString", New: held2Inst(func(h *held2, i int) {
			// 1,024 requests a step intern their method, route and
			// request ID: the first two repeat, the ID (~40 bytes) is new
			// every time, so the table grows by 1,024 strings a step.
			routes := []string{"/api/v1/items", "/api/v1/users", "/healthz", "/api/v1/orders"}
			var b []byte
			for j := range 1024 {
				_ = internString(h, []byte("GET"))
				_ = internString(h, []byte(routes[h.r.IntN(len(routes))]))
				b = append(b[:0], "req-"...)
				b = strconv.AppendInt(b, int64(i), 10)
				b = append(b, '-')
				b = strconv.AppendInt(b, int64(j), 10)
				b = append(b, '-')
				b = strconv.AppendUint(b, h.r.Uint64(), 16)
				b = strconv.AppendUint(b, h.r.Uint64()>>32, 16)
				_ = internString(h, b)
			}
		})},
		{Name: "rate-limiter", Leak: true, Marker: "rateLimiter", New: held2Inst(func(h *held2, i int) {
			// 96 requests a step, each from a new client with probability
			// 0.4, else from a client seen before: about 38 new 2 KiB
			// limiters a step, none ever expired.
			for range 96 {
				var addr uint32
				if h.nextClient == 0 || h.r.IntN(10) < 4 {
					h.nextClient++
					addr = uint32(10<<24 + h.nextClient)
				} else {
					addr = uint32(10<<24 + 1 + h.r.IntN(h.nextClient))
				}
				_ = rateLimiterFor(h, addr).allow(int64(i))
			}
		})},
		{Name: "retry-queue", Leak: true, Marker: "retryQueue", New: held2Inst(func(h *held2, i int) {
			// 64 requests a step, each failing with probability 1/8 and
			// queued for a retry with a 16 KiB payload copy; nobody
			// drains the queue.
			if h.retryIn == nil {
				retryQueueStart(h)
			}
			for j := range 64 {
				if h.r.IntN(8) == 0 {
					h.retryIn <- retryQueueJob(64*i + j)
				}
			}
		})},
		{Name: "history-list", Leak: true, Marker: "historyPush", New: held2Inst(func(h *held2, i int) {
			// 16 edits a step, each a diff of 1 to 12 KiB, pushed on an
			// undo history never truncated; undo reads the last few.
			for j := range 16 {
				historyPush(h, 16*i+j, kib+h.r.IntN(11*kib))
			}
			n := 0
			for v := h.history; v != nil && n < 4; v = v.prev {
				_ = v.diff[0]
				n++
			}
		})},
		{Name: "abandoned-results", Leak: true, Marker: "backendCall", New: held2Inst(func(h *held2, i int) {
			// 32 backend calls a step; one in eight overruns its deadline
			// and the caller leaves, so its goroutine blocks forever on
			// the send, holding a 32 KiB reply.
			for j := range 32 {
				res := backendCallStart(h, 32*i+j)
				if h.r.IntN(8) != 0 {
					_ = (<-res)[0]
				}
			}
		})},
	}
}

// --- benign ---

type lruCache struct {
	capacity int
	ll       *list.List
	items    map[int]*list.Element
}

type lruEntry struct {
	key int
	val []byte
}

func (c *lruCache) get(key int) bool {
	if e, ok := c.items[key]; ok {
		c.ll.MoveToFront(e)
		return true
	}
	return false
}

// lruCacheInsert adds a response to the cache, evicting the least recently
// used one when full.
//
//go:noinline
func lruCacheInsert(c *lruCache, key, size int) {
	c.items[key] = c.ll.PushFront(&lruEntry{key: key, val: make([]byte, size)})
	if c.ll.Len() > c.capacity {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.items, old.Value.(*lruEntry).key)
	}
}

// renderReport renders a report of rows rows into the handler's reused
// strings.Builder.
//
//go:noinline
func renderReport(h *held2, kind, rows int) string {
	h.builder.Reset()
	pad := strings.Repeat(".", 40)
	for r := range rows {
		h.builder.WriteString("kind ")
		h.builder.WriteString(strconv.Itoa(kind))
		h.builder.WriteString(" row ")
		h.builder.WriteString(strconv.Itoa(r))
		h.builder.WriteString(pad)
		h.builder.WriteByte('\n')
	}
	return h.builder.String()
}

type indexDoc struct {
	id    int
	title string
	//lint:ignore U1000 never read: it gives a document a real record's size
	meta [224]byte
}

type searchIndex struct {
	docs     []indexDoc
	postings map[int][]int32
}

// indexRebuild builds a search index over the current corpus: a record
// per document and the postings of 8 terms per document.
//
//go:noinline
func indexRebuild(h *held2, ndocs int) *searchIndex {
	z := rand.NewZipf(h.r, 1.2, 1, 2047)
	x := &searchIndex{docs: make([]indexDoc, 0, ndocs), postings: map[int][]int32{}}
	for d := range ndocs {
		x.docs = append(x.docs, indexDoc{id: d, title: "doc-" + strconv.Itoa(d)})
		for range 8 {
			t := int(z.Uint64())
			x.postings[t] = append(x.postings[t], int32(d))
		}
	}
	return x
}

type traceSpan struct {
	traceID, spanID uint64
	name            string
	start, end      int64
	attrs           map[string]string
}

// spanBatchAdd records a finished span in the exporter's pending batch.
//
//go:noinline
func spanBatchAdd(h *held2, i, j int) {
	h.spans = append(h.spans, &traceSpan{traceID: h.r.Uint64(), spanID: uint64(j), name: "GET /api/v1/items",
		start: int64(i), end: int64(i) + 1,
		attrs: map[string]string{"http.method": "GET", "http.status": strconv.Itoa(200 + h.r.IntN(4)), "peer": "10.0.0." + strconv.Itoa(j%256)}})
}

// freeListGet takes a buffer from the free list (Effective Go's "leaky
// buffer"), or allocates one when it is empty.
//
//go:noinline
func freeListGet(h *held2) []byte {
	select {
	case b := <-h.freeList:
		return b
	default:
		return make([]byte, 16*kib)
	}
}

// freeListPut returns a buffer to the free list, or drops it when full.
func freeListPut(h *held2, b []byte) {
	select {
	case h.freeList <- b:
	default:
	}
}

type trackedRequest struct {
	done  int
	timer *time.Timer
}

// armTrackedTimeout arms a request's timeout, holding its body, and keeps
// the timer so that the handler stops it when the request completes.
//
//go:noinline
func armTrackedTimeout(h *held2, id, done int) {
	body := make([]byte, 8*kib)
	body[0] = byte(id)
	h.inflight = append(h.inflight, trackedRequest{done: done, timer: time.AfterFunc(time.Hour, func() { body[1]++ })})
}

func heldout2Benign() []Workload {
	return []Workload{
		{Name: "lru-cache", Marker: "lruCacheInsert", New: held2Inst(func(h *held2, i int) {
			// An LRU of 64 responses (8 to 56 KiB, by key) in front of a
			// backend; 16 lookups a step on Zipf-distributed keys, misses
			// inserted and the least recently used evicted.
			z := rand.NewZipf(h.r, 1.1, 1, 4095)
			for range 16 {
				k := int(z.Uint64())
				if !h.lru.get(k) {
					lruCacheInsert(h.lru, k, 8*kib+(k*2654435761)%(48*kib))
				}
			}
		})},
		{Name: "builder-reuse", Marker: "renderReport", New: held2Inst(func(h *held2, i int) {
			// 6 reports a step of 4 kinds, 256 to 2,048 rows of ~56 bytes,
			// rendered with a reused strings.Builder; the dashboard keeps
			// the latest report of each kind.
			for range 6 {
				kind := h.r.IntN(4)
				h.reports[kind] = renderReport(h, kind, 256+h.r.IntN(1793))
			}
		})},
		{Name: "index-rebuild", Marker: "indexRebuild", New: held2Inst(func(h *held2, i int) {
			// A search index rebuilt from scratch every 6 steps and
			// swapped for the old one; the corpus loads over the first 14
			// steps (512 + 256 documents a step, up to 4,096), so the
			// index stops growing at the rebuild of step 18.
			if i%6 == 0 {
				h.index = indexRebuild(h, min(4096, 512+256*i))
			}
			for range 32 {
				_ = h.index.postings[h.r.IntN(64)]
			}
		})},
		{Name: "batch-flush", Marker: "spanBatch", New: held2Inst(func(h *held2, i int) {
			// A trace exporter batching 128 to 384 spans a step, flushed
			// (the batch dropped) when it reaches 1,024 spans or every 4
			// steps.
			for j := range 128 + h.r.IntN(257) {
				spanBatchAdd(h, i, j)
			}
			if len(h.spans) >= 1024 || i-h.lastSent >= 4 {
				h.spans, h.lastSent = nil, i
			}
		})},
		{Name: "free-list", Marker: "freeListGet", New: held2Inst(func(h *held2, i int) {
			// 16 to 48 requests at once take 16 KiB buffers from a free
			// list of 32 and give them back; the list keeps at most 32.
			bufs := make([][]byte, 16+h.r.IntN(33))
			for j := range bufs {
				bufs[j] = freeListGet(h)
				bufs[j][0] = byte(j)
			}
			for _, b := range bufs {
				freeListPut(h, b)
			}
		})},
		{Name: "stopped-timers", Marker: "armTrackedTimeout", New: held2Inst(func(h *held2, i int) {
			// afterfunc-timers done right: 16 requests a step arm a
			// timeout holding their 8 KiB body, and each stops it when it
			// completes, 1 to 3 steps later: about 32 in flight.
			live := h.inflight[:0]
			for _, q := range h.inflight {
				if q.done <= i {
					q.timer.Stop()
					continue
				}
				live = append(live, q)
			}
			clear(h.inflight[len(live):])
			h.inflight = live
			for j := range 16 {
				armTrackedTimeout(h, 16*i+j, i+1+h.r.IntN(3))
			}
		})},
	}
}

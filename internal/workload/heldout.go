package workload

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"sync"
)

// The held-out workloads: common Go patterns added after the detector was
// designed, to check that it generalises. Leaks() and Benign() include
// them; Heldout reports which ones they are.

// Heldout reports whether the workload named name is one of the held-out
// workloads.
func Heldout(name string) bool {
	for _, w := range append(heldoutLeaks(), heldoutBenign()...) {
		if w.Name == name {
			return true
		}
	}
	return false
}

// held is the state of a held-out workload: its own fields, the usual
// request garbage every step, and a stop channel its goroutines wait on
// besides whatever they leak on.
type held struct {
	r    *rand.Rand
	step func(h *held, i int)

	// the things a workload keeps
	ttl      map[int]ttlItem
	index    map[int][64]byte
	batch    []byte
	queue    chan *queuedJob
	table    []*tableRow
	once     sync.Once
	pool     sync.Pool
	conns    map[int]*connection
	nextConn int
	requests map[int]*requestRecord
	blocked  chan struct{} // nobody ever sends on it
	stop     chan struct{}
	stopped  bool
	registry []func(int) int
	parent   context.Context
	cancelP  context.CancelFunc
	decoded  [][]byte
	audit    bytes.Buffer
	subs     []*subscriber
	rotating bytes.Buffer
	scratch  []byte
	workers  int
	work     chan []byte
}

func (h *held) Step(i int) { Serve(h.r, 20); h.step(h, i) }

func (h *held) Release() {
	if !h.stopped {
		h.stopped = true
		close(h.stop)
	}
	h.cancelP()
	h.ttl, h.index, h.batch, h.queue, h.table = nil, nil, nil, nil, nil
	h.pool = sync.Pool{}
	h.conns, h.requests, h.registry, h.decoded = nil, nil, nil, nil
	h.audit, h.rotating = bytes.Buffer{}, bytes.Buffer{}
	h.subs, h.scratch = nil, nil
}

func heldInst(f func(h *held, i int)) func(seed uint64) Instance {
	return func(seed uint64) Instance {
		parent, cancel := context.WithCancel(context.Background())
		return &held{
			r: rand.New(rand.NewPCG(seed, 11)), step: f,
			ttl: map[int]ttlItem{}, index: map[int][64]byte{}, queue: make(chan *queuedJob, 128),
			conns: map[int]*connection{}, requests: map[int]*requestRecord{},
			blocked: make(chan struct{}), stop: make(chan struct{}), work: make(chan []byte),
			parent: parent, cancelP: cancel,
		}
	}
}

// --- benign ---

type ttlItem struct {
	val     []byte
	expires int
}

//go:noinline
func ttlCachePut(h *held, key, now int) {
	h.ttl[key] = ttlItem{val: make([]byte, 64*kib), expires: now + 12}
}

func (h *held) ttlExpire(now int) {
	for k, it := range h.ttl {
		if it.expires <= now {
			delete(h.ttl, k)
		}
	}
}

// sessionIndexAdd inserts a key in an index whose values sit in the map's
// own slots: its memory is the map's tables.
//
//go:noinline
func sessionIndexAdd(h *held, key int) {
	var v [64]byte
	v[0] = byte(key)
	h.index[key] = v
}

// batchAppend appends a record to a batch reused across steps.
//
//go:noinline
func batchAppend(h *held, rec []byte) { h.batch = append(h.batch, rec...) }

type queuedJob struct {
	id   int
	body []byte
}

//go:noinline
func queueJobNew(id int) *queuedJob { return &queuedJob{id: id, body: make([]byte, 32*kib)} }

type tableRow struct {
	key int
	//lint:ignore U1000 never read: it gives a row a real row's size
	name [32]byte
	data []byte
}

//go:noinline
func lazyTableBuild(h *held) {
	h.table = make([]*tableRow, 0, 8192)
	for k := range 8192 {
		h.table = append(h.table, &tableRow{key: k, data: make([]byte, 448)})
	}
}

//go:noinline
func pooledBufferNew() any { return new(bytes.Buffer) }

// pooledBufferFill renders a response into a pooled buffer: the buffer
// grows to the largest response it has held.
//
//go:noinline
func pooledBufferFill(b *bytes.Buffer, size int) {
	b.Reset()
	b.Grow(size)
	for range size / 64 {
		b.WriteString("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	}
}

type connection struct {
	id      int
	readBuf []byte
	wrBuf   []byte
	session map[string]string
}

//go:noinline
func connStateOpen(h *held) {
	h.nextConn++
	h.conns[h.nextConn] = &connection{id: h.nextConn, readBuf: make([]byte, 32*kib), wrBuf: make([]byte, 32*kib),
		session: map[string]string{"user": "u", "proto": "h2"}}
}

// rotatingWrite appends a log line to an in-memory log that is emptied
// (Reset keeps its array) once it passes limit bytes.
//
//go:noinline
func rotatingWrite(h *held, line []byte, limit int) {
	if h.rotating.Len() > limit {
		h.rotating.Reset()
	}
	h.rotating.Write(line)
}

// scratchGrow makes the reused scratch buffer large enough for a request.
//
//go:noinline
func scratchGrow(h *held, n int) {
	if cap(h.scratch) < n {
		h.scratch = make([]byte, n)
	}
	h.scratch = h.scratch[:n]
}

// poolWorkerStart adds a worker that serves jobs with its own buffer until
// the workload stops.
//
//go:noinline
func poolWorkerStart(h *held) {
	h.workers++
	buf := make([]byte, 16*kib)
	go func() {
		for {
			select {
			case job := <-h.work:
				copy(buf, job)
			case <-h.stop:
				return
			}
		}
	}()
}

func heldoutBenign() []Workload {
	return append([]Workload{
		{Name: "ttl-cache", Marker: "ttlCachePut", New: heldInst(func(h *held, i int) {
			// Each step caches 4 responses for 12 steps: it fills by step
			// 12, then holds 48 entries.
			h.ttlExpire(i)
			for j := range 4 {
				ttlCachePut(h, 4*i+j, i)
			}
		})},
		{Name: "map-no-shrink", Marker: "sessionIndex", New: heldInst(func(h *held, i int) {
			// An index filled with 2,000 keys a step up to 40,000 by step
			// 20; at step 25 most keys go, but a Go map never gives its
			// tables back; later keys come and go within the bound.
			switch {
			case i < 20:
				for k := range 2000 {
					sessionIndexAdd(h, 2000*i+k)
				}
			case i == 25:
				for k := range 36000 {
					delete(h.index, k)
				}
			case i > 25:
				for range 500 {
					k := h.r.IntN(40000)
					if _, ok := h.index[k]; ok {
						delete(h.index, k)
					} else {
						sessionIndexAdd(h, k)
					}
				}
			}
		})},
		{Name: "slice-reuse", Marker: "batchAppend", New: heldInst(func(h *held, i int) {
			// A batch reset with b = b[:0] every step and refilled by
			// append with a heavy-tailed number of 4 KiB records (Pareto,
			// shape 1.2, from 16, at most 2,048): its array grows by
			// append's doubling whenever a batch beats the largest so far,
			// ever more rarely, up to 8 MiB, and is never freed.
			h.batch = h.batch[:0]
			rec := make([]byte, 4*kib)
			n := min(2048, int(16*math.Pow(1-h.r.Float64(), -1/1.2)))
			for range n {
				batchAppend(h, rec)
			}
		})},
		{Name: "bounded-queue", Marker: "queueJob", New: heldInst(func(h *held, i int) {
			// A queue of 128 jobs served 12 a step; arrivals are 4 to 10 a
			// step but 24 during a burst at steps 10-20, when the queue
			// fills and sheds load; it drains afterwards.
			arrivals := 4 + h.r.IntN(7)
			if i >= 10 && i < 20 {
				arrivals = 24
			}
			for j := range arrivals {
				select {
				case h.queue <- queueJobNew(i*100 + j):
				default: // full: rejected
				}
			}
			for range 12 {
				select {
				case j := <-h.queue:
					_ = j.body[0]
				default:
				}
			}
		})},
		{Name: "lazy-table", Marker: "lazyTable", New: heldInst(func(h *held, i int) {
			// A lookup table of 8,192 rows built by the first request that
			// needs it, at step 30.
			if i >= 30 {
				h.once.Do(func() { lazyTableBuild(h) })
				_ = h.table[h.r.IntN(len(h.table))].key
			}
		})},
		{Name: "buffer-pool", Marker: "pooledBuffer", New: heldInst(func(h *held, i int) {
			// Responses rendered in sync.Pool buffers; the number in
			// flight at once follows the load (a sine of period 30 and
			// noise), and each buffer grows to the response it holds.
			if h.pool.New == nil {
				h.pool.New = pooledBufferNew
			}
			load := 8 + int(6*math.Sin(2*math.Pi*float64(i)/30)) + h.r.IntN(5)
			bufs := make([]*bytes.Buffer, load)
			for j := range bufs {
				bufs[j] = h.pool.Get().(*bytes.Buffer)
				pooledBufferFill(bufs[j], 32*kib+h.r.IntN(224*kib))
			}
			for _, b := range bufs {
				h.pool.Put(b)
			}
		})},
		{Name: "conn-state", Marker: "connState", New: heldInst(func(h *held, i int) {
			// Connections opened 0 to 8 a step, up to 64 at once, each
			// closed with probability 1/8 a step: about 32 open.
			for k := range h.conns {
				if h.r.IntN(8) == 0 {
					delete(h.conns, k)
				}
			}
			for range h.r.IntN(9) {
				if len(h.conns) < 64 {
					connStateOpen(h)
				}
			}
		})},
		{Name: "log-rotation", Marker: "rotatingWrite", New: heldInst(func(h *held, i int) {
			// 1,024 lines of 128 bytes a step written to an in-memory log
			// emptied whenever it passes 2 MiB: its array grows during the
			// first 16 steps and is reused after.
			line := bytes.Repeat([]byte{'x'}, 128)
			for range 1024 {
				rotatingWrite(h, line, 2<<20)
			}
		})},
		{Name: "ramped-scratch", Marker: "scratchGrow", New: heldInst(func(h *held, i int) {
			// A scratch buffer reused by 8 requests a step and grown to
			// the largest one; the requests' median size ramps from 4 to
			// 64 KiB over the first 20 steps (load arriving), then holds,
			// log-normally spread.
			median := 4*kib + (60*kib)*min(i, 20)/20
			for range 8 {
				scratchGrow(h, int(float64(median)*math.Exp(0.5*h.r.NormFloat64())))
			}
		})},
		{Name: "worker-pool", Marker: "poolWorker", New: heldInst(func(h *held, i int) {
			// A pool that starts a worker (with a 16 KiB buffer) whenever
			// all are busy, up to 32; the load ramps up over the first 20
			// steps, then holds.
			load := min(32, 2+30*i/20)
			for h.workers < load {
				poolWorkerStart(h)
			}
			for range load {
				h.work <- []byte("job")
			}
		})},
	}, heldout2Benign()...)
}

// --- leaking ---

type requestRecord struct {
	id      int
	started int
	trace   []byte
}

// requestTrack records a request in flight; nothing deletes it when the
// request ends.
//
//go:noinline
func requestTrack(h *held, id, now int) {
	h.requests[id] = &requestRecord{id: id, started: now, trace: make([]byte, 4*kib)}
}

// blockedWorkerStart starts a goroutine that waits for a reply nobody will
// send, holding its buffer.
//
//go:noinline
func blockedWorkerStart(h *held) {
	buf := make([]byte, 64*kib)
	blocked, stop := h.blocked, h.stop
	go func() {
		select {
		case <-blocked:
			buf[0]++
		case <-stop: // Release: the harness ends the goroutine
		}
	}()
}

type listenerState struct {
	hits  int
	cache [16 * kib]byte
}

// subscribeListener registers a callback holding its own state; nothing
// unsubscribes it.
//
//go:noinline
func subscribeListener(h *held) {
	st := &listenerState{}
	h.registry = append(h.registry, func(ev int) int { st.hits += ev; return int(st.cache[ev%len(st.cache)]) })
}

type ctxKey struct{}

type pendingCall struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// requestContextStart derives a cancellable context carrying the
// request's payload from the server's long-lived context; the caller
// drops the call without cancelling it, so the parent keeps it.
//
//go:noinline
func requestContextStart(parent context.Context) pendingCall {
	ctx := context.WithValue(parent, ctxKey{}, make([]byte, 8*kib))
	ctx, cancel := context.WithCancel(ctx)
	return pendingCall{ctx: ctx, cancel: cancel}
}

// decodeFrame decodes one frame into a fresh buffer: most are consumed
// and dropped, a few are kept.
//
//go:noinline
func decodeFrame(n int) []byte {
	b := make([]byte, 2*kib)
	b[0] = byte(n)
	return b
}

// auditWrite appends a record to an audit trail kept in memory and never
// trimmed: a bytes.Buffer, whose array doubles as it fills.
//
//go:noinline
func auditWrite(h *held, rec []byte) { h.audit.Write(rec) }

type subscriber struct {
	id      int
	mailbox []byte
}

// addSubscriber registers a subscriber with its mailbox; nothing ever
// removes one.
//
//go:noinline
func addSubscriber(h *held, id int) {
	h.subs = append(h.subs, &subscriber{id: id, mailbox: make([]byte, 8*kib)})
}

func heldoutLeaks() []Workload {
	return append([]Workload{
		{Name: "request-map", Leak: true, Marker: "requestTrack", New: heldInst(func(h *held, i int) {
			// 48 requests a step recorded by ID, never deleted.
			for j := range 48 {
				requestTrack(h, i*48+j, i)
			}
		})},
		{Name: "blocked-goroutines", Leak: true, Marker: "blockedWorker", New: heldInst(func(h *held, i int) {
			// 3 requests a step wait for a reply on a channel nobody sends to.
			for range 3 {
				blockedWorkerStart(h)
			}
		})},
		{Name: "listener-registry", Leak: true, Marker: "subscribeListener", New: heldInst(func(h *held, i int) {
			// Each step, 8 handlers subscribe to events and never leave.
			for range 8 {
				subscribeListener(h)
			}
			for _, f := range h.registry[max(0, len(h.registry)-8):] {
				_ = f(i)
			}
		})},
		{Name: "context-children", Leak: true, Marker: "requestContext", New: heldInst(func(h *held, i int) {
			// 24 requests a step each derive a cancellable context from
			// the server's and never cancel it.
			for range 24 {
				call := requestContextStart(h.parent)
				_ = call.ctx.Value(ctxKey{})
			}
		})},
		{Name: "slow-in-churn", Leak: true, Marker: "decodeFrame", New: heldInst(func(h *held, i int) {
			// 2,048 frames a step decoded and dropped; 8 of them kept.
			for n := range 2048 {
				b := decodeFrame(n)
				if n%256 == 0 {
					h.decoded = append(h.decoded, b)
				}
			}
		})},
		{Name: "audit-log", Leak: true, Marker: "auditWrite", New: heldInst(func(h *held, i int) {
			// 1,024 records of 128 bytes a step appended to an audit trail
			// that is never trimmed.
			rec := bytes.Repeat([]byte{'a'}, 128)
			for range 1024 {
				auditWrite(h, rec)
			}
		})},
		{Name: "subscriber-slice", Leak: true, Marker: "addSubscriber", New: heldInst(func(h *held, i int) {
			// 8 subscribers a step, each with an 8 KiB mailbox, appended
			// to a slice and never removed.
			for j := range 8 {
				addSubscriber(h, 8*i+j)
			}
		})},
	}, heldout2Leaks()...)
}

// Command zaplog drives go.uber.org/zap as the logger of a busy HTTP
// service: every request gets a child logger carrying its request ID and
// tenant (Logger.With), the handler logs a structured application line and
// a middleware an access line, through zap's JSON encoder and its pooled
// buffers and entries. The lines go to a BufferedWriteSyncer in front of
// stdout (here io.Discard) and to an in-memory ring of the most recent
// lines that a /debug/logs page serves, as many services keep.
//
// The ring holds 36,000 lines: at two lines a request it fills over the
// first minute of a 3-minute run at 300 requests/s, then each new line
// replaces the oldest. Memory grows for a while, then stays bounded while
// the logging churns: no leak.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/leakguard/leakguard/eval/realleaks/drive"
)

// ringLines is how many recent lines /debug/logs can show.
const ringLines = 36_000

// ring keeps copies of the last ringLines lines written to it.
type ring struct {
	mu    sync.Mutex
	lines [][]byte
	next  int
	full  bool
}

func newRing(n int) *ring { return &ring{lines: make([][]byte, n)} }

func (r *ring) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for rest := p; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i+1], rest[i+1:]
		} else {
			rest = nil
		}
		r.lines[r.next] = append([]byte(nil), line...)
		if r.next++; r.next == len(r.lines) {
			r.next, r.full = 0, true
		}
	}
	return len(p), nil
}

func (r *ring) Sync() error { return nil }

// last writes the newest n lines to w.
func (r *ring) last(w io.Writer, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	size := r.next
	if r.full {
		size = len(r.lines)
	}
	n = min(n, size)
	for i := n; i > 0; i-- {
		w.Write(r.lines[(r.next-i+len(r.lines))%len(r.lines)])
	}
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status, bytes int
}

func (w *statusWriter) WriteHeader(code int) { w.status = code; w.ResponseWriter.WriteHeader(code) }
func (w *statusWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.bytes += n
	return n, err
}

type ctxKey struct{}

// accessLog gives each request a child logger and logs an access line.
func accessLog(log *zap.Logger, next http.Handler) http.Handler {
	var ids atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		reqLog := log.With(
			zap.String("request_id", fmt.Sprintf("%016x", ids.Add(1))),
			zap.String("tenant", r.Header.Get("X-Tenant")),
		)
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), ctxKey{}, reqLog)))
		reqLog.Info("request",
			zap.String("method", r.Method),
			zap.String("path", r.URL.Path),
			zap.Int("status", sw.status),
			zap.Int("bytes", sw.bytes),
			zap.Duration("duration", time.Since(start)),
			zap.String("remote", r.RemoteAddr),
			zap.String("user_agent", r.UserAgent()),
		)
	})
}

// cartLine is an item of a priced cart, logged as an object.
type cartLine struct {
	SKU      string
	Quantity int
	Cents    int
}

func (l cartLine) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("sku", l.SKU)
	enc.AddInt("qty", l.Quantity)
	enc.AddInt("cents", l.Cents)
	return nil
}

type cart []cartLine

func (c cart) MarshalLogArray(enc zapcore.ArrayEncoder) error {
	for _, l := range c {
		if err := enc.AppendObject(l); err != nil {
			return err
		}
	}
	return nil
}

var errStock = errors.New("inventory service: stock level stale")

func main() {
	drive.Main("zaplog", func(ctx context.Context) (drive.Request, func(), error) {
		recent := newRing(ringLines)
		stdout := &zapcore.BufferedWriteSyncer{WS: zapcore.AddSync(io.Discard), Size: 256 << 10, FlushInterval: time.Second}
		enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
		core := zapcore.NewCore(enc, zapcore.NewMultiWriteSyncer(stdout, zapcore.Lock(recent)), zap.InfoLevel)
		log := zap.New(core, zap.AddCaller(), zap.AddStacktrace(zap.ErrorLevel))

		mux := http.NewServeMux()
		mux.HandleFunc("POST /carts/{id}/price", func(w http.ResponseWriter, r *http.Request) {
			reqLog := r.Context().Value(ctxKey{}).(*zap.Logger)
			n := 1 + mrand.IntN(6)
			c := make(cart, n)
			total := 0
			for i := range c {
				c[i] = cartLine{SKU: "SKU-" + strconv.Itoa(mrand.IntN(50_000)), Quantity: 1 + mrand.IntN(3), Cents: 100 + mrand.IntN(20_000)}
				total += c[i].Quantity * c[i].Cents
			}
			reqLog.Debug("pricing cart", zap.String("cart", r.PathValue("id")))
			if mrand.IntN(100) == 0 {
				reqLog.Warn("priced with cached stock", zap.String("cart", r.PathValue("id")), zap.Error(errStock))
			} else {
				reqLog.Info("cart priced", zap.String("cart", r.PathValue("id")), zap.Array("lines", c), zap.Int("total_cents", total))
			}
			fmt.Fprintf(w, "{\"cart\":%q,\"total_cents\":%d}\n", r.PathValue("id"), total)
		})
		mux.HandleFunc("GET /debug/logs", func(w http.ResponseWriter, r *http.Request) {
			recent.last(w, 100)
		})
		base, client, stopServer, err := drive.Serve(accessLog(log, mux))
		if err != nil {
			return nil, nil, err
		}
		var n atomic.Int64
		req := func(ctx context.Context) error {
			i := n.Add(1)
			method, url := http.MethodPost, fmt.Sprintf("%s/carts/%d/price", base, mrand.IntN(1_000_000))
			if i%500 == 0 { // an operator looking at the recent logs
				method, url = http.MethodGet, base+"/debug/logs"
			}
			r, err := http.NewRequestWithContext(ctx, method, url, nil)
			if err != nil {
				return err
			}
			r.Header.Set("X-Tenant", "tenant-"+strconv.Itoa(mrand.IntN(200)))
			r.Header.Set("User-Agent", "checkout-web/4.2")
			return drive.Do(client, r)
		}
		stop := func() {
			stopServer()
			log.Sync()
			stdout.Stop()
		}
		return req, stop, nil
	})
}

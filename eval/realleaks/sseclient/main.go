// Command sseclient drives the Server-Sent Events client of
// github.com/r3labs/sse: a quote service whose HTTP handler subscribes to an
// upstream trade feed (an SSE stream per symbol, which starts with a
// snapshot of the last trades) with SubscribeWithContext, answers with the
// first trade and cancels the subscription, as a gateway in front of a
// streaming API does.
//
// Up to v2.8.1 SubscribeWithContext returned as soon as its context was
// done, closing the response body but leaving the goroutine that reads the
// stream blocked for good on an unbuffered channel nobody would read again,
// with the event it was handing over, its EventStreamReader (and buffer),
// the response body (and the connection's buffers) and the Client: every
// cancelled subscription leaked. v2.8.2 drops that case, so the
// subscription ends when the read loop does (r3labs/sse#140).
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/r3labs/sse/v2"
	"gopkg.in/cenkalti/backoff.v1"

	"github.com/leakguard/leakguard/eval/realleaks/drive"
)

func main() {
	drive.Main("sseclient", func(ctx context.Context) (drive.Request, func(), error) {
		feed := http.NewServeMux()
		feed.HandleFunc("GET /trades", trades)
		feedBase, _, stopFeed, err := drive.Serve(feed)
		if err != nil {
			return nil, nil, err
		}
		upstream := &http.Client{} // streams: no overall timeout

		mux := http.NewServeMux()
		mux.HandleFunc("GET /quote/{symbol}", func(w http.ResponseWriter, r *http.Request) {
			q, err := quote(r.Context(), upstream, feedBase+"/trades", r.PathValue("symbol"))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			fmt.Fprintln(w, q)
		})
		base, client, stopServer, err := drive.Serve(mux)
		if err != nil {
			stopFeed()
			return nil, nil, err
		}
		req := drive.Get(client, func(n int64) string { return fmt.Sprintf("%s/quote/SYM%d", base, n%100) })
		return req, func() { stopServer(); stopFeed() }, nil
	})
}

// quote subscribes to the symbol's trade stream, takes the first trade and
// cancels the subscription.
func quote(ctx context.Context, upstream *http.Client, url, symbol string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c := sse.NewClient(url)
	c.Connection = upstream
	// Reconnect if the feed drops, until the subscription is cancelled.
	c.ReconnectStrategy = backoff.WithContext(backoff.NewExponentialBackOff(), ctx)
	got := make(chan string, 1)
	err := c.SubscribeWithContext(ctx, symbol, func(ev *sse.Event) {
		select {
		case got <- string(ev.Data):
		default:
		}
		cancel() // one trade is all this request needs
	})
	select {
	case q := <-got:
		return q, nil
	default:
	}
	if err == nil {
		err = errors.New("stream ended without a trade")
	}
	return "", err
}

// trades is the upstream feed: an SSE stream of the symbol's trades, the
// last eight at once on subscribing, then one every 10 ms until the
// subscriber goes away.
func trades(w http.ResponseWriter, r *http.Request) {
	f, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "no streaming", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	symbol := r.URL.Query().Get("stream")
	trade := func(i int) error {
		_, err := fmt.Fprintf(w, "id: %d\nevent: trade\ndata: %s %d.%02d\n\n", i, symbol, 100+i%50, i%100)
		return err
	}
	const snapshot = 8
	for i := range snapshot {
		if trade(i) != nil {
			return
		}
	}
	f.Flush()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := snapshot; ; i++ {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
		if trade(i) != nil {
			return
		}
		f.Flush()
	}
}

// Command watermill drives the in-process GoChannel Pub/Sub of
// github.com/ThreeDotsLabs/watermill as a request-reply bus: an HTTP
// handler subscribes to a reply topic of its own (one per request),
// publishes the request, waits for a worker's reply and unsubscribes.
//
// Up to v1.4.7 removing a topic's last subscriber left the topic in the
// Pub/Sub's subscribers map (with the slice still pointing at the removed
// subscriber) and its lock in subscribersByTopicLock, so every per-request
// topic stayed in memory for good. v1.5.0 deletes a topic whose last
// subscriber leaves (ThreeDotsLabs/watermill#561, issue #391).
package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/leakguard/leakguard/eval/realleaks/drive"
)

const requests = "requests"

func main() {
	drive.Main("watermill", func(ctx context.Context) (drive.Request, func(), error) {
		bus := gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 16}, watermill.NopLogger{})
		in, err := bus.Subscribe(ctx, requests)
		if err != nil {
			return nil, nil, err
		}
		go worker(bus, in)

		mux := http.NewServeMux()
		mux.HandleFunc("GET /quote/{item}", func(w http.ResponseWriter, r *http.Request) {
			reply, err := call(r.Context(), bus, r.PathValue("item"))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			fmt.Fprintln(w, reply)
		})
		base, client, stopServer, err := drive.Serve(mux)
		if err != nil {
			return nil, nil, err
		}
		req := drive.Get(client, func(n int64) string { return fmt.Sprintf("%s/quote/item-%d", base, n%100) })
		return req, func() { stopServer(); bus.Close() }, nil
	})
}

// call publishes a request and waits for its reply on a topic of its own.
func call(ctx context.Context, bus *gochannel.GoChannel, item string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel() // unsubscribes
	topic := "replies." + watermill.NewUUID()
	replies, err := bus.Subscribe(ctx, topic)
	if err != nil {
		return "", err
	}
	msg := message.NewMessage(watermill.NewUUID(), []byte(item))
	msg.Metadata.Set("reply_to", topic)
	if err := bus.Publish(requests, msg); err != nil {
		return "", err
	}
	select {
	case m := <-replies:
		m.Ack()
		return string(m.Payload), nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// worker answers each request on its reply topic.
func worker(bus *gochannel.GoChannel, in <-chan *message.Message) {
	for m := range in {
		reply := message.NewMessage(watermill.NewUUID(), fmt.Appendf(nil, "price of %s: 42", m.Payload))
		_ = bus.Publish(m.Metadata.Get("reply_to"), reply)
		m.Ack()
	}
}

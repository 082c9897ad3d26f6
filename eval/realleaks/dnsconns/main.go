// Command dnsconns drives the TCP server of github.com/miekg/dns: a DNS
// server answering A queries, and clients that each open a connection,
// ask one question and close it, as a resolver falling back to TCP does.
//
// From v1.0.9 to v1.0.14 the server kept every accepted connection in its
// conns map for good: closing a connection cleared the field that held it
// before the deferred delete ran, so the delete removed the key nil and the
// connection (its file descriptor's state and both addresses) stayed
// reachable from the server. v1.0.15 marks the connection closed instead
// (miekg/dns#808, issue #807).
package main

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/leakguard/leakguard/eval/realleaks/drive"
)

func main() {
	drive.Main("dnsconns", func(ctx context.Context) (drive.Request, func(), error) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, err
		}
		started := make(chan struct{})
		srv := &dns.Server{Listener: l, Net: "tcp", NotifyStartedFunc: func() { close(started) }, Handler: dns.HandlerFunc(answer)}
		served := make(chan error, 1)
		go func() { served <- srv.ActivateAndServe() }()
		select {
		case <-started:
		case err := <-served:
			return nil, nil, fmt.Errorf("dns server: %w", err)
		}
		addr := l.Addr().String()
		var n atomic.Int64
		req := func(ctx context.Context) error {
			c := &dns.Client{Net: "tcp", Timeout: 2 * time.Second}
			q := new(dns.Msg)
			q.SetQuestion(fmt.Sprintf("item-%d.example.org.", n.Add(1)%100), dns.TypeA)
			_, _, err := c.Exchange(q, addr)
			return err
		}
		return req, func() { _ = srv.Shutdown() }, nil
	})
}

// answer replies to every question with 127.0.0.1.
func answer(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	for _, q := range r.Question {
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(127, 0, 0, 1)})
	}
	_ = w.WriteMsg(m)
}

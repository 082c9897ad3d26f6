// Command quichttp3 drives the HTTP/3 server and client of
// github.com/quic-go/quic-go: an HTTP/3 service on a loopback UDP socket
// and clients that send their requests over one QUIC connection, as a
// service talking to another over HTTP/3 does.
//
// In v0.43.0 and v0.43.1 both ends of an HTTP/3 connection kept, for every
// request stream, an entry in the connection's map from stream ID to its
// datagram handler: the entry was to be deleted once both directions of
// the stream had closed, but the handler returned on the second of those
// events without deleting it. The handler's closure holds the stream, so
// every finished request kept its streams, flow controllers and buffers.
// v0.44.0 deletes the entry (quic-go/quic-go#4523, issue #4513).
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/leakguard/leakguard/eval/realleaks/drive"
)

func main() {
	drive.Main("quichttp3", func(ctx context.Context) (drive.Request, func(), error) {
		cert, err := selfSigned()
		if err != nil {
			return nil, nil, err
		}
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, err
		}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /quote/{item}", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s: 42\n", r.PathValue("item"))
		})
		// One connection carries every request: allow it the streams a
		// long run opens.
		streams := &quic.Config{MaxIncomingStreams: 1 << 30}
		srv := &http3.Server{Handler: mux, QUICConfig: streams,
			TLSConfig: http3.ConfigureTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}})}
		go srv.Serve(pc)
		rt := &http3.RoundTripper{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, QUICConfig: streams}
		client := &http.Client{Transport: rt, Timeout: 5 * time.Second}
		base := "https://" + pc.LocalAddr().String()
		req := drive.Get(client, func(n int64) string { return fmt.Sprintf("%s/quote/item-%d", base, n%100) })
		return req, func() { _ = rt.Close(); _ = srv.Close(); _ = pc.Close() }, nil
	})
}

// selfSigned makes the server's certificate for 127.0.0.1.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

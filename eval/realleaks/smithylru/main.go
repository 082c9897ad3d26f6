// Command smithylru drives the LRU cache of github.com/aws/smithy-go
// (container/private/cache/lru) as the AWS SDK's S3 Express credentials
// provider uses it: an HTTP service caches short-lived session credentials
// per bucket and, when a bucket's credentials expire, puts fresh ones under
// the same key.
//
// Up to v1.25.0, Put with a key already in the cache pushed a new list
// element and left the old one in the recency list: with few distinct keys
// the cache never reaches its capacity, nothing is evicted, and every
// refresh leaks an element and the credentials it holds. v1.25.1 updates
// the existing element (aws/smithy-go#652).
package main

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/aws/smithy-go/container/private/cache"
	"github.com/aws/smithy-go/container/private/cache/lru"

	"github.com/leakguard/leakguard/eval/realleaks/drive"
)

// buckets is the number of distinct cache keys: a service talking to a few
// buckets, far below the cache capacity.
const buckets = 8

// replicas is how many buckets a request reads (an object and its copies).
const replicas = 8

// credentials is what the cache holds per bucket.
type credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	Expires                                    time.Time
}

// provider caches credentials per bucket, refreshing them when expired.
type provider struct {
	mu    sync.Mutex
	cache cache.Cache
	ttl   time.Duration
}

func (p *provider) retrieve(bucket string) (*credentials, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v, ok := p.cache.Get(bucket); ok {
		if c := v.(*credentials); time.Now().Before(c.Expires) {
			return c, nil
		}
	}
	c, err := createSession()
	if err != nil {
		return nil, err
	}
	c.Expires = time.Now().Add(p.ttl)
	p.cache.Put(bucket, c)
	return c, nil
}

// createSession stands for the CreateSession call: it mints credentials.
func createSession() (*credentials, error) {
	tok := make([]byte, 128)
	if _, err := cryptorand(tok); err != nil {
		return nil, err
	}
	return &credentials{
		AccessKeyID:     "ASIA" + hex.EncodeToString(tok[:8]),
		SecretAccessKey: hex.EncodeToString(tok[8:40]),
		SessionToken:    hex.EncodeToString(tok[40:]),
	}, nil
}

var cryptorand = crand.Read

func main() {
	drive.Main("smithylru", func(ctx context.Context) (drive.Request, func(), error) {
		// ttl 0: credentials expire at once, so each request refreshes them,
		// as when many requests arrive just as the session expires.
		p := &provider{cache: lru.New(64), ttl: 0}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /{bucket}/{key}", func(w http.ResponseWriter, r *http.Request) {
			// The object and its replicas: credentials for every bucket.
			b, err := strconv.Atoi(r.PathValue("bucket"))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			for i := range replicas {
				c, err := p.retrieve(fmt.Sprintf("bucket-%d", (b+i)%buckets))
				if err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				fmt.Fprintf(w, "%s %s\n", r.PathValue("key"), c.AccessKeyID)
			}
		})
		base, client, stopServer, err := drive.Serve(mux)
		if err != nil {
			return nil, nil, err
		}
		req := drive.Get(client, func(int64) string {
			return fmt.Sprintf("%s/%d/object-%d", base, mrand.IntN(buckets), mrand.IntN(1000))
		})
		return req, stopServer, nil
	})
}

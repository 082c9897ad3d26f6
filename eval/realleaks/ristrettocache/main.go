// Command ristrettocache drives github.com/dgraph-io/ristretto/v2 as the
// read-through cache of a product-catalog HTTP service: a GET renders the
// product's JSON document from a slow backing store on a miss and keeps it in
// a ristretto cache bounded by cost (the document's size).
//
// The clients ask for products drawn uniformly from a catalog three times
// larger than the cache holds, so the cache fills over roughly the first
// minute of a 3-minute run (every miss admitted while there is room), then
// stays at its maximum cost: TinyLFU admission and sampled-LFU eviction
// replace documents at the rate of misses. Memory grows for a while, then
// stays bounded: no leak.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/dgraph-io/ristretto/v2"

	"github.com/leakguard/leakguard/eval/realleaks/drive"
)

const (
	// catalog is the number of distinct products clients ask for.
	catalog = 48_000
	// maxCost is the cache's bound in bytes of documents: about 16,000
	// documents of 2 KiB on average, a third of the catalog.
	maxCost = 32 << 20
)

// product is a catalog entry as the backing store returns it.
type product struct {
	SKU         string            `json:"sku"`
	Name        string            `json:"name"`
	Description string            `json:"description"`
	PriceCents  int               `json:"price_cents"`
	Currency    string            `json:"currency"`
	Tags        []string          `json:"tags"`
	Attributes  map[string]string `json:"attributes"`
	UpdatedAt   time.Time         `json:"updated_at"`
}

// load stands for the backing store's query: it builds the product and
// renders its document, 1 to 3 KiB.
func load(id int) ([]byte, error) {
	r := mrand.New(mrand.NewPCG(uint64(id), 7))
	p := product{
		SKU:        fmt.Sprintf("SKU-%06d", id),
		Name:       fmt.Sprintf("Product %d", id),
		PriceCents: 100 + r.IntN(100_000),
		Currency:   "EUR",
		Attributes: map[string]string{},
		UpdatedAt:  time.Unix(1_700_000_000+int64(id), 0).UTC(),
	}
	words := 120 + r.IntN(300)
	var d strings.Builder
	for i := range words {
		if i > 0 {
			d.WriteByte(' ')
		}
		d.WriteString(vocabulary[r.IntN(len(vocabulary))])
	}
	p.Description = d.String()
	for i := range 4 + r.IntN(5) {
		p.Tags = append(p.Tags, vocabulary[r.IntN(len(vocabulary))])
		p.Attributes["attr-"+strconv.Itoa(i)] = vocabulary[r.IntN(len(vocabulary))]
	}
	return json.Marshal(p)
}

var vocabulary = strings.Fields(`steel oak linen cotton matte glossy compact
portable wireless ergonomic waterproof recycled handmade premium classic modern
rustic lightweight durable adjustable foldable stackable rechargeable organic`)

func main() {
	drive.Main("ristrettocache", func(ctx context.Context) (drive.Request, func(), error) {
		cache, err := ristretto.NewCache(&ristretto.Config[string, []byte]{
			NumCounters: 10 * maxCost / 2048, // ten counters per document the cache holds
			MaxCost:     maxCost,
			BufferItems: 64,
			Metrics:     true,
		})
		if err != nil {
			return nil, nil, err
		}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /products/{id}", func(w http.ResponseWriter, r *http.Request) {
			key := r.PathValue("id")
			doc, ok := cache.Get(key)
			if !ok {
				id, err := strconv.Atoi(key)
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				if doc, err = load(id); err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				cache.Set(key, doc, int64(len(doc)))
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write(doc)
		})
		base, client, stopServer, err := drive.Serve(mux)
		if err != nil {
			return nil, nil, err
		}
		req := drive.Get(client, func(int64) string {
			return fmt.Sprintf("%s/products/%d", base, mrand.IntN(catalog))
		})
		stop := func() {
			stopServer()
			m := cache.Metrics
			fmt.Fprintf(os.Stderr, "ristrettocache: hit ratio %.2f, %d keys added, %d evicted, %d sets rejected, cost %d of %d\n",
				m.Ratio(), m.KeysAdded(), m.KeysEvicted(), m.SetsRejected(), m.CostAdded()-m.CostEvicted(), cache.MaxCost())
			cache.Close()
		}
		return req, stop, nil
	})
}

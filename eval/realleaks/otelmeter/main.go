// Command otelmeter drives the global MeterProvider of
// go.opentelemetry.io/otel as a service instrumented with otelhttp that has
// no metrics SDK configured: a storefront whose HTTP handler asks two
// backend services (prices and stock) on loopback, each through an
// http.Client built for the call around a shared connection pool with
// otelhttp.NewTransport, as a per-call client helper does.
//
// Up to v1.29.0 the global Meter, until a MeterProvider is set, appended
// every instrument it was asked for to its list of instruments to delegate
// later, even one identical to an instrument it already held: every
// otelhttp.NewTransport (three instruments) grew the list for good.
// v1.30.0 keeps one instrument per identity, name, kind, description and
// unit (open-telemetry/opentelemetry-go#5754, issue #5753).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/leakguard/leakguard/eval/realleaks/drive"
)

// item is what the storefront answers.
type item struct {
	SKU   string `json:"sku"`
	Price string `json:"price"`
	Stock int    `json:"stock"`
}

func main() {
	drive.Main("otelmeter", func(ctx context.Context) (drive.Request, func(), error) {
		backend := http.NewServeMux()
		backend.HandleFunc("GET /prices/{sku}", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"price":"%d.99"}`, len(r.PathValue("sku"))*3)
		})
		backend.HandleFunc("GET /stock/{sku}", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"stock":%d}`, len(r.PathValue("sku"))*7)
		})
		backendBase, _, stopBackend, err := drive.Serve(backend)
		if err != nil {
			return nil, nil, err
		}
		// One connection pool for every outbound call.
		pool := http.DefaultTransport.(*http.Transport).Clone()
		pool.MaxIdleConnsPerHost = 32
		newClient := func() *http.Client {
			return &http.Client{Transport: otelhttp.NewTransport(pool), Timeout: 2 * time.Second}
		}

		mux := http.NewServeMux()
		mux.HandleFunc("GET /items/{sku}", func(w http.ResponseWriter, r *http.Request) {
			it := item{SKU: r.PathValue("sku")}
			var price struct {
				Price string `json:"price"`
			}
			var stock struct {
				Stock int `json:"stock"`
			}
			if err := getJSON(r.Context(), newClient(), backendBase+"/prices/"+it.SKU, &price); err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			if err := getJSON(r.Context(), newClient(), backendBase+"/stock/"+it.SKU, &stock); err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			it.Price, it.Stock = price.Price, stock.Stock
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(it)
		})
		base, client, stopServer, err := drive.Serve(otelhttp.NewHandler(mux, "storefront"))
		if err != nil {
			stopBackend()
			return nil, nil, err
		}
		req := drive.Get(client, func(n int64) string { return fmt.Sprintf("%s/items/sku-%d", base, n%500) })
		return req, func() { stopServer(); stopBackend(); pool.CloseIdleConnections() }, nil
	})
}

// getJSON GETs url with client and decodes its JSON body into v.
func getJSON(ctx context.Context, client *http.Client, url string, v any) error {
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

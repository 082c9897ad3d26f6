// Command promlabels drives github.com/prometheus/client_golang as the
// metrics registry of an orders API routed by github.com/go-chi/chi/v5: a
// middleware counts every request by route pattern, method and status and
// times it, and the handlers count requests per customer and observe the
// response sizes per customer, the usage metering a multi-tenant API
// exports. A scraper GETs /metrics (promhttp) every two seconds.
//
// The customer label takes one of 3,000 values, so the registry's per-label
// children (a counter per customer and route, a histogram per customer)
// are created as customers first appear: most within the first 45 seconds
// of a 3-minute run at 300 requests/s, the last few later, then the set
// stops growing while the scrapes churn. No leak.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/leakguard/leakguard/eval/realleaks/drive"
)

// customers is the number of distinct values of the customer label.
const customers = 3_000

type metrics struct {
	requests        *prometheus.CounterVec
	duration        *prometheus.HistogramVec
	customerCalls   *prometheus.CounterVec
	customerPayload *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	return &metrics{
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "code"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name: "http_request_duration_seconds", Help: "HTTP request latency by route and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"}),
		customerCalls: f.NewCounterVec(prometheus.CounterOpts{
			Name: "api_customer_requests_total", Help: "API calls by customer and route.",
		}, []string{"customer", "route"}),
		customerPayload: f.NewHistogramVec(prometheus.HistogramOpts{
			Name: "api_customer_response_bytes", Help: "API response sizes by customer.",
			Buckets: prometheus.ExponentialBuckets(128, 2, 8),
		}, []string{"customer"}),
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) { w.status = code; w.ResponseWriter.WriteHeader(code) }

// instrument is the middleware: it labels by the matched route pattern.
func (m *metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		route := chi.RouteContext(r.Context()).RoutePattern()
		m.requests.WithLabelValues(route, r.Method, strconv.Itoa(sw.status)).Inc()
		m.duration.WithLabelValues(route, r.Method).Observe(time.Since(start).Seconds())
	})
}

type order struct {
	ID       string   `json:"id"`
	Customer string   `json:"customer"`
	Status   string   `json:"status"`
	Cents    int      `json:"total_cents"`
	Items    []string `json:"items"`
}

func (m *metrics) reply(w http.ResponseWriter, r *http.Request, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	customer := chi.URLParam(r, "customer")
	m.customerCalls.WithLabelValues(customer, chi.RouteContext(r.Context()).RoutePattern()).Inc()
	m.customerPayload.WithLabelValues(customer).Observe(float64(len(b)))
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

func makeOrder(customer, id string) order {
	o := order{ID: id, Customer: customer, Status: "shipped", Cents: 100 + mrand.IntN(50_000)}
	for range 1 + mrand.IntN(5) {
		o.Items = append(o.Items, "SKU-"+strconv.Itoa(mrand.IntN(50_000)))
	}
	return o
}

func main() {
	drive.Main("promlabels", func(ctx context.Context) (drive.Request, func(), error) {
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		m := newMetrics(reg)

		r := chi.NewRouter()
		r.Use(m.instrument)
		r.Get("/api/v1/customers/{customer}/orders", func(w http.ResponseWriter, r *http.Request) {
			c := chi.URLParam(r, "customer")
			orders := make([]order, 1+mrand.IntN(8))
			for i := range orders {
				orders[i] = makeOrder(c, strconv.Itoa(mrand.IntN(1_000_000)))
			}
			m.reply(w, r, orders)
		})
		r.Get("/api/v1/customers/{customer}/orders/{order}", func(w http.ResponseWriter, r *http.Request) {
			m.reply(w, r, makeOrder(chi.URLParam(r, "customer"), chi.URLParam(r, "order")))
		})
		r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

		base, client, stopServer, err := drive.Serve(r)
		if err != nil {
			return nil, nil, err
		}
		// The scraper.
		scraped := make(chan struct{})
		go func() {
			defer close(scraped)
			tick := time.NewTicker(2 * time.Second)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				sr, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
				drive.Do(client, sr)
			}
		}()
		req := drive.Get(client, func(int64) string {
			c := mrand.IntN(customers)
			if mrand.IntN(2) == 0 {
				return fmt.Sprintf("%s/api/v1/customers/c%04d/orders", base, c)
			}
			return fmt.Sprintf("%s/api/v1/customers/c%04d/orders/%d", base, c, mrand.IntN(1_000_000))
		})
		return req, func() { <-scraped; stopServer() }, nil
	})
}

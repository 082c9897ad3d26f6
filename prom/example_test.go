package prom_test

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/prom"
)

// Register a Guard's counters with Prometheus.
func ExampleNewCollector() {
	g, err := leakguard.Start(leakguard.WithInterval(time.Hour), leakguard.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	defer g.Stop()
	reg := prometheus.NewRegistry()
	reg.MustRegister(prom.NewCollector(g, prometheus.Labels{"service": "checkout"}))
	families, err := reg.Gather()
	fmt.Println(err == nil, len(families) > 0)
	// Output: true true
}

package prom_test

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/prom"
)

// Register a Guard's metrics with Prometheus. Until a stack is flagged
// only the Guard-wide metrics exist; each flagged allocation site then adds
// its leakguard_leak_* series.
func ExampleNewCollector() {
	g, err := leakguard.Start(leakguard.WithInterval(time.Hour), leakguard.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	defer g.Stop()
	c, err := prom.NewCollector(g)
	if err != nil {
		panic(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	families, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, f := range families {
		fmt.Println(f.GetName())
	}
	// Output:
	// leakguard_alerts
	// leakguard_dropped_alerts_total
	// leakguard_evicted_stacks_total
	// leakguard_last_cycle_seconds
	// leakguard_measured_heap_bytes
	// leakguard_sample_errors_total
	// leakguard_samples_total
	// leakguard_storage_bytes
	// leakguard_top_growth_bytes_per_second
	// leakguard_tracked_stacks
}

// Export the 20 most suspicious flagged stacks instead of the default 10,
// with a label naming the service on every metric.
func ExampleTopStacks() {
	g, err := leakguard.Start(leakguard.WithInterval(time.Hour), leakguard.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	defer g.Stop()
	c, err := prom.NewCollector(g, prom.TopStacks(20), prom.ConstLabels(prometheus.Labels{"service": "checkout"}))
	if err != nil {
		panic(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	families, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	l := families[0].GetMetric()[0].GetLabel()[0]
	fmt.Printf("%s{%s=%q}\n", families[0].GetName(), l.GetName(), l.GetValue())
	// Output:
	// leakguard_alerts{service="checkout"}
}

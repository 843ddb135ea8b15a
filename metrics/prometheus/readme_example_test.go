package prometheus_test

import (
	"net/http"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/failsoft/failsoft/metrics/prometheus"
	"github.com/failsoft/failsoft/middleware/httpfallback"
)

// The README's metrics snippet (README_test checks the README quotes it): the collector's
// OnEvent in the engine's Config, the engine watched, the registry served on /metrics.
func Example_mount() {
	metrics := prometheus.New(prometheus.Options{})
	eng, err := httpfallback.New(httpfallback.Config{Name: "catalog", OnEvent: metrics.OnEvent})
	if err != nil {
		panic(err)
	}
	defer eng.Close()
	metrics.Watch(eng) // gauges read at each scrape: breaker state, in flight, store
	registry := prom.NewRegistry()
	registry.MustRegister(metrics)
	http.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
}

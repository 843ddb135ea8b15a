package prometheus_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/failsoft/failsoft/metrics/prometheus"
	"github.com/failsoft/failsoft/middleware/httpfallback"
)

// Mount an engine with its metrics registered, serve two requests, read a counter.
func Example() {
	metrics := prometheus.New(prometheus.Options{})
	eng, err := httpfallback.New(httpfallback.Config{Name: "example-prometheus", OnEvent: metrics.OnEvent})
	if err != nil {
		panic(err)
	}
	defer eng.Close()
	metrics.Watch(eng)
	registry := prom.NewRegistry()
	registry.MustRegister(metrics)
	// Serve registry with promhttp.HandlerFor(registry, promhttp.HandlerOpts{}) on /metrics.

	h := eng.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "hello")
	}))
	for range 2 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/hello", nil))
	}
	n, _ := testutil.GatherAndCount(registry, "failsoft_answers_total")
	fmt.Println("answer series:", n) // one miss, one fresh hit
	// Output: answer series: 2
}

package otel_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/failsoft/failsoft/metrics/otel"
	"github.com/failsoft/failsoft/middleware/httpfallback"
)

// Record an engine's metrics with an SDK MeterProvider (here read by an in-memory reader;
// in production, a periodic reader and an exporter).
func Example() {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())
	metrics, err := otel.New(provider)
	if err != nil {
		panic(err)
	}
	defer metrics.Close()
	eng, err := httpfallback.New(httpfallback.Config{Name: "example-otel", OnEvent: metrics.OnEvent})
	if err != nil {
		panic(err)
	}
	defer eng.Close()
	metrics.Watch(eng)

	h := eng.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "hello")
	}))
	for range 2 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/hello", nil))
	}
	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if m.Name == "failsoft.answers" {
			fmt.Println("answer series:", len(m.Data.(metricdata.Sum[int64]).DataPoints))
		}
	}
	// Output: answer series: 2
}

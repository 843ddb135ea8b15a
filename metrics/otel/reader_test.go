package otel

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/failsoft/failsoft/internal/fakeclock"
	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/upstream"
)

// collect reads every metric of the scope from the in-memory reader, by name.
func collect(t *testing.T, reader *sdkmetric.ManualReader) map[string]metricdata.Aggregation {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	out := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != ScopeName {
			continue
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m.Data
		}
	}
	return out
}

// sumOf is the value of the Int64 sum point whose attributes include every kv.
func sumOf(t *testing.T, data metricdata.Aggregation, kv ...attribute.KeyValue) (int64, bool) {
	t.Helper()
	var points []metricdata.DataPoint[int64]
	switch d := data.(type) {
	case metricdata.Sum[int64]:
		points = d.DataPoints
	case metricdata.Gauge[int64]:
		points = d.DataPoints
	default:
		t.Fatalf("unexpected aggregation %T", data)
	}
next:
	for _, p := range points {
		for _, want := range kv {
			if v, ok := p.Attributes.Value(want.Key); !ok || v != want.Value {
				continue next
			}
		}
		return p.Value, true
	}
	return 0, false
}

func TestInMemoryReaderSeesAnswersLatencyBreakerAndStore(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { require.NoError(t, provider.Shutdown(context.Background())) })
	m, err := New(provider)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close()) })

	clock := fakeclock.New()
	eng, err := httpfallback.New(httpfallback.Config{
		Name:    "o" + strconv.FormatInt(time.Now().UnixNano(), 36),
		Common:  upstream.Common{Now: clock.Now, Command: upstream.Settings{RequestVolumeThreshold: 2, SleepWindow: time.Hour}},
		OnEvent: m.OnEvent,
		Route: func(r *http.Request) string {
			seg, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
			return "/" + seg + "/{id}"
		},
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, eng.Close()) })
	m.Watch(eng)
	h := eng.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		clock.Advance(40 * time.Millisecond)
		if strings.HasPrefix(r.URL.Path, "/down/") {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = w.Write([]byte("ok"))
	}))
	get := func(path string) {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "http://api.test"+path, nil))
	}
	get("/ok/1")
	get("/ok/1")
	require.Eventually(t, func() bool {
		get("/down/1")
		for _, rs := range eng.Stats().Routes {
			if rs.Route == "/down/{id}" {
				return rs.Breaker == "open"
			}
		}
		return false
	}, 20*time.Second, time.Millisecond)

	// One entry; its second request moved it into the store's protected part, counted
	// twice until ristretto applies the delete: poll.
	require.Eventually(t, func() bool { return eng.Stats().Store.Entries == 1 }, 20*time.Second, time.Millisecond)
	// The transition is reported by the command's state goroutine: poll for it.
	var got map[string]metricdata.Aggregation
	require.Eventually(t, func() bool {
		got = collect(t, reader)
		_, ok := got["failsoft.breaker.transitions"]
		return ok
	}, 20*time.Second, time.Millisecond)
	name := eng.Stats().Name
	eq := func(metricName string, want int64, kv ...attribute.KeyValue) {
		t.Helper()
		_, present := got[metricName]
		require.True(t, present, metricName)
		v, ok := sumOf(t, got[metricName], append(kv, keyEngine.String(name))...)
		assert.True(t, ok, "%s %v has a point", metricName, kv)
		assert.Equal(t, want, v, "%s %v", metricName, kv)
	}
	okRoute := keyRoute.String("/ok/{id}")
	downRoute := keyRoute.String("/down/{id}")
	eq("failsoft.answers", 1, okRoute, keyOutcome.String("miss"))
	eq("failsoft.answers", 1, okRoute, keyOutcome.String("fresh"))
	eq("failsoft.upstream.requests", 1, okRoute, keyResult.String("ok"))
	eq("failsoft.breaker.transitions", 1, downRoute, keyFrom.String("closed"), keyTo.String("open"))
	eq("failsoft.breaker.state", 1, downRoute, keyState.String("open"))
	eq("failsoft.breaker.state", 0, downRoute, keyState.String("closed"))
	eq("failsoft.breaker.state", 1, okRoute, keyState.String("closed"))
	eq("failsoft.upstream.max_concurrent", 100, okRoute)
	eq("failsoft.upstream.in_flight", 0, okRoute)
	eq("failsoft.store.sets", 1)
	eq("failsoft.store.entries", 1)
	eq("failsoft.store.rejected", 0, keyReason.String("too-large"))
	errors, ok := sumOf(t, got["failsoft.answers"], keyEngine.String(name), downRoute, keyOutcome.String("error"), keyError.String("upstream-5xx"))
	assert.True(t, ok)
	assert.Positive(t, errors)
	size, _ := sumOf(t, got["failsoft.store.size"], keyEngine.String(name))
	assert.Positive(t, size)

	hist, ok := got["failsoft.answer.duration"].(metricdata.Histogram[float64])
	require.True(t, ok)
	for _, p := range hist.DataPoints {
		o, _ := p.Attributes.Value(keyOutcome)
		r, _ := p.Attributes.Value(keyRoute)
		if o.AsString() == "miss" && r.AsString() == "/ok/{id}" {
			assert.EqualValues(t, 1, p.Count)
			assert.InDelta(t, 0.040, p.Sum, 1e-9, "by the injected clock")
		}
	}
}

func TestRetriesAreCountedByReason(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { require.NoError(t, provider.Shutdown(context.Background())) })
	m, err := New(provider)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close()) })
	m.OnEvent(httpfallback.Event{Kind: httpfallback.EventRetry, Engine: "e", Route: "proxy", Reason: "timeout"})
	got := collect(t, reader)
	v, ok := sumOf(t, got["failsoft.upstream.retries"], keyEngine.String("e"), keyReason.String("timeout"))
	assert.True(t, ok)
	assert.EqualValues(t, 1, v)
}

package httpfallback

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/upstream"
)

// The proxy's upstream client retries after a 503: the retry is an EventRetry with the
// failed attempt's reason, counted in Stats on the route "proxy".
func TestProxyRetriesAreCountedAsEventsAndStats(t *testing.T) {
	var calls atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, "ok")
	}))
	defer up.Close()
	var mu sync.Mutex
	var retries []Event
	p, err := NewProxy(ProxyConfig{
		Upstream: up.URL,
		Engine: Config{Name: uniqueName(t), OnEvent: func(ev Event) {
			if ev.Kind == EventRetry {
				mu.Lock()
				retries = append(retries, ev)
				mu.Unlock()
			}
		}},
		Client: upstream.ClientConfig{Sleep: func(context.Context, time.Duration) error { return nil }},
	})
	require.NoError(t, err)
	defer func() { require.NoError(t, p.Close()) }()
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://proxy.test/a", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.EqualValues(t, 2, calls.Load())

	mu.Lock()
	require.Len(t, retries, 1)
	assert.Equal(t, "proxy", retries[0].Route)
	assert.Equal(t, upstream.ReasonUpstream5xx, retries[0].Reason)
	assert.NotEmpty(t, retries[0].Engine)
	mu.Unlock()
	st := p.Stats()
	assert.EqualValues(t, 1, st.Retries)
	proxyRoutes := 0
	for _, rs := range st.Routes {
		if rs.Route == "proxy" {
			proxyRoutes++
			assert.EqualValues(t, 1, rs.Retries)
			assert.Equal(t, "closed", rs.Breaker, "the client's breaker on the same entry")
		}
	}
	assert.Equal(t, 1, proxyRoutes, "one entry for the route proxy")
}

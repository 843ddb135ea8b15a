package proxy

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

	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/upstream"
)

// The proxy's upstream client retries after a 503: the retry is an EventRetry with the
// failed attempt's reason, counted in Stats on the request's route (its first path
// segment, whose breaker the attempts ran as).
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
	var retries []httpfallback.Event
	p, err := New(Config{
		Upstream: up.URL,
		Engine: httpfallback.Config{Name: pxName(t), OnEvent: func(ev httpfallback.Event) {
			if ev.Kind == httpfallback.EventRetry {
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
	assert.Equal(t, "/a", retries[0].Route)
	assert.Equal(t, upstream.ReasonUpstream5xx, retries[0].Reason)
	assert.NotEmpty(t, retries[0].Engine)
	mu.Unlock()
	st := p.Stats()
	assert.EqualValues(t, 1, st.Retries)
	routes := 0
	for _, rs := range st.Routes {
		if rs.Route == "/a" {
			routes++
			assert.EqualValues(t, 1, rs.Retries)
			assert.Equal(t, "closed", rs.Breaker, "the route's breaker on the same entry")
		}
	}
	assert.Equal(t, 1, routes, "one entry for the route /a")
}

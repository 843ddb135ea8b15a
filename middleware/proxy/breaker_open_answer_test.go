package proxy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failsoft/failsoft/internal/leaktest"
	"github.com/stretchr/testify/require"
)

// In proxy mode the breaker that opens is the route's command of the engine's, which the
// client's attempts run as: with it open, a request holding a stale entry (soft timeout
// on) is answered from the store at once, like through the middlewares: no fetch, no
// flight, no goroutine (a background fetch per request was started when the engine read
// a command the client never ran, which the client then refused).
// Goroutines are counted with runtime/metrics over many answers, not timed.
func TestProxyOpenBreakerAnswersWithoutAFetch(t *testing.T) {
	var failing atomic.Bool
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Header().Set("Cache-Control", "max-age=0, stale-if-error=600")
		_, _ = w.Write([]byte("stored"))
	})
	onEvent, opened := onBreakerOpen()
	h := newPxHarness(t, up.srv.URL, func(c *Config) {
		pxFastBreaker(time.Hour, onEvent)(c)
		c.Engine.SoftTimeout = 0 // the default: on
	})
	require.Contains(t, h.get("/item").header.Get("Cache-Status"), "stored")
	failing.Store(true)
	untilOpen(t, opened, func() { h.get("/item/other") }) // the route /item; nothing stored: fails, and counts

	created := func() uint64 { return leaktest.GoroutinesCreated(t) }
	const answers = 200
	hits := up.hits.Load()
	g0 := created()
	for range answers {
		rec := httptest.NewRecorder()
		h.p.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, h.srv.URL+"/item", nil)) // the key h.get stored
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, "stored", rec.Body.String())
		cs := rec.Header().Get("Cache-Status")
		require.True(t, strings.HasPrefix(cs, "failsoft; hit;") && strings.HasSuffix(cs, "detail=circuit-open"), cs)
	}
	g := created() - g0
	require.Less(t, g, uint64(answers/10), "%d goroutines for %d answers: one per answer", g, answers)
	require.Equal(t, hits, up.hits.Load(), "the upstream is not called")
}

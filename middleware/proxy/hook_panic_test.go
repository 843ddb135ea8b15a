package proxy

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/middleware/httpfallback"
)

// And for the proxy, whose breaker is its client's.
func TestProxyPanickingOnEventForBreakerDoesNotKillTheProcess(t *testing.T) {
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	})
	var opened atomic.Bool
	h := newPxHarness(t, up.srv.URL, pxFastBreaker(time.Hour, func(ev httpfallback.Event) {
		if ev.Kind == httpfallback.EventBreaker {
			opened.Store(true)
			panic("hook bug")
		}
	}))
	require.Eventually(t, func() bool {
		h.get("/fail")
		return opened.Load()
	}, 10*time.Second, time.Millisecond)
	require.Equal(t, http.StatusServiceUnavailable, h.get("/fail").status, "still serving, circuit open")
}

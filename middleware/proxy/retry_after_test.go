package proxy

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// In proxy mode the breaker that opens is the client's: the 503's Retry-After is its sleep
// window, not the engine command's default.
func TestProxyCircuitOpenRetryAfterIsTheClientsSleepWindow(t *testing.T) {
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	})
	h := newPxHarness(t, up.srv.URL, pxFastBreaker(42*time.Second, nil))
	var r engResp
	require.Eventually(t, func() bool {
		r = h.get("/down")
		return r.status == http.StatusServiceUnavailable
	}, 10*time.Second, time.Millisecond)
	require.Contains(t, r.cs(), "detail=circuit-open")
	require.Equal(t, "42", r.header.Get("Retry-After"))
}

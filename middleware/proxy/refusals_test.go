package proxy

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TRACE is refused by default: an upstream echoing it would hand a script the client's
// Authorization and cookies (cross-site tracing). It was forwarded with its Authorization.
func TestProxyRefusesTraceByDefault(t *testing.T) {
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "message/http")
		_ = r.Write(w) // echoes the request, as TRACE does
	})
	h := newPxHarness(t, up.srv.URL, nil)
	r := doReq(t, t.Context(), h.srv.Client(), http.MethodTrace, h.srv.URL+"/x", "Authorization", "Bearer secret")
	require.Equal(t, http.StatusNotImplemented, r.status, r.body)
	require.Equal(t, "failsoft; detail=refused", r.cs())
	require.Equal(t, "refused", problemReason(t, r.body))
	require.NotContains(t, r.body, "secret")
	require.Zero(t, up.hits.Load(), "the upstream never saw the TRACE")

	// An operator who wants it forwarded says so.
	h = newPxHarness(t, up.srv.URL, func(c *Config) { c.AllowTrace = true })
	r = doReq(t, t.Context(), h.srv.Client(), http.MethodTrace, h.srv.URL+"/x")
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.True(t, strings.HasPrefix(r.body, "TRACE /x"), r.body)
	require.EqualValues(t, 1, up.hits.Load())
}

// A CONNECT (authority-form target, no path) is answered 501 as a tunnel the proxy does not
// carry, as the README says; it was answered 400 (its empty path failed the path check
// first).
func TestProxyAnswersConnectNotImplemented(t *testing.T) {
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {})
	h := newPxHarness(t, up.srv.URL, nil)
	addr := strings.TrimPrefix(h.srv.URL, "http://")
	status, hdr, body := pxRaw(t, addr, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
	require.Equal(t, http.StatusNotImplemented, status, body)
	require.Equal(t, "failsoft; detail=refused", hdr.Get("Cache-Status"))
	require.Equal(t, "application/problem+json", hdr.Get("Content-Type"))
	require.Zero(t, up.hits.Load())
}

// The proxy refuses what it cannot carry with a clear 501 (never a broken GET upstream):
// a WebSocket handshake and an event stream; the upstream is not called.
func TestProxyRefusesStreaming(t *testing.T) {
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = w.Write([]byte("page"))
	})
	h := newPxHarness(t, up.srv.URL, nil)
	for _, hdr := range [][]string{
		{"Connection", "Upgrade", "Upgrade", "websocket"},
		{"Accept", "text/event-stream"},
	} {
		r := h.get("/ws", hdr...)
		assert.Equal(t, http.StatusNotImplemented, r.status, "%q", hdr)
		assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
		assert.Contains(t, r.body, "does not carry")
	}
	assert.Zero(t, up.hits.Load())
	assert.Equal(t, "page", h.get("/ws").body, "nothing was stored for /ws by the refusals")
}
